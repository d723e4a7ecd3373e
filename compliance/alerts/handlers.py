"""Receivers that turn domain events into alerts, inside the event's own transaction.

They listen to the within-transaction signals (compliance.signals): whatever they add to the
session commits or rolls back with the change that raised it. A failure here fails that change,
which is the point: an event never commits without its alerts.
"""

from __future__ import annotations

from typing import Any

from compliance import signals
from compliance.alerts import services


def on_review_opening(review: Any, **_: Any) -> None:
    services.review_opened(review)


def on_review_requiring_action(review: Any, **_: Any) -> None:
    services.review_action_required(review)


def on_feed_source_flagging(source: Any, **_: Any) -> None:
    services.feed_source_failing(source)


def connect() -> None:
    """Connect the receivers (weakly held by blinker, so they are module functions)."""
    signals.review_opening.connect(on_review_opening)
    signals.review_requiring_action.connect(on_review_requiring_action)
    signals.feed_source_flagging.connect(on_feed_source_flagging)
