"""When to poll a source next: its interval after a success, capped exponential backoff with
jitter after failures (design: politeness to regulators, and no thundering herd on restart).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

JITTER_SHARE = 0.1  # up to 10% of the interval, so sources added together drift apart


def after_success(now: datetime, interval_minutes: int, rng: random.Random) -> datetime:
    """The next poll: one interval from now, plus a little jitter."""
    interval = timedelta(minutes=interval_minutes)
    return now + interval + interval * (JITTER_SHARE * rng.random())


def backoff_delay(
    interval_minutes: int, failures: int, cap_minutes: int, rng: random.Random
) -> timedelta:
    """Delay after the n-th failure in a row: interval x 2^(n-1), capped, "equal jitter".

    Equal jitter keeps at least half the delay (never hammering a struggling server sooner)
    while spreading retries of sources that failed together, e.g. in a network outage.
    """
    exponent = min(max(failures - 1, 0), 20)
    ceiling = min(interval_minutes * (2**exponent), cap_minutes)
    ceiling = max(ceiling, 1)
    return timedelta(minutes=ceiling / 2 + rng.random() * ceiling / 2)


def after_failure(
    now: datetime,
    interval_minutes: int,
    failures: int,
    cap_minutes: int,
    rng: random.Random,
    retry_after_seconds: int | None = None,
) -> datetime:
    """The next poll after a failure; a server's Retry-After is honoured if it asks for longer."""
    delay = backoff_delay(interval_minutes, failures, cap_minutes, rng)
    if retry_after_seconds is not None:
        delay = max(delay, timedelta(seconds=min(retry_after_seconds, cap_minutes * 60)))
    return now + delay
