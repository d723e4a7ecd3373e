"""Use cases of feed monitoring: sources (added by admins or from the catalogue), polling,
and the reads behind the pages, the API and the CLI.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from compliance import clock, signals
from compliance.audit.services import Actor, record
from compliance.catalogue.models import Jurisdiction, Regulator
from compliance.database import begin_write
from compliance.errors import Conflict, Invalid, NotFound
from compliance.extensions import db
from compliance.feeds import policy
from compliance.feeds.entries import DiffLine, diff
from compliance.feeds.fetcher import Fetcher, FetchSettings, Validators
from compliance.feeds.matching import SEARCH_HITS, Suggestion
from compliance.feeds.models import FeedEntry, FeedEntryRevision, FeedSource
from compliance.feeds.store import Fetched, PollJob, PollOutcome, Relevance, fetch_and_parse, store

log = logging.getLogger(__name__)
MAX_INTERVAL_MINUTES = 7 * 24 * 60  # the catalogue schema's ceiling too


# -- sources ------------------------------------------------------------------------------------


def _check_interval(minutes: int) -> None:
    low = int(current_app.config["FEEDS_MIN_INTERVAL_MINUTES"])
    if not isinstance(minutes, int) or not low <= minutes <= MAX_INTERVAL_MINUTES:
        message = f"the interval must be from {low} to {MAX_INTERVAL_MINUTES} minutes"
        raise Invalid(f"The feed source is not valid: {message}.", details=[message])


def _allow_list() -> tuple[policy.Allowance, ...]:
    return policy.parse_allow_list(current_app.config.get("FETCH_ALLOW"))


def source_snapshot(source: FeedSource) -> dict[str, Any]:
    return {
        "name": source.name,
        "url": source.url,
        "enabled": source.enabled,
        "interval_minutes": source.interval_minutes,
    }


def add_source(
    url: str,
    *,
    name: str = "",
    interval_minutes: int | None = None,
    enabled: bool = True,
    actor: Actor,
) -> FeedSource:
    """Add a feed an admin names; it is polled at its next due time (now, if enabled).

    The URL must be http(s); a literal private address is refused at once (a host name is
    checked on every fetch, since what it resolves to can change).
    """
    url = url.strip()
    problem = policy.literal_address_problem(url, _allow_list())
    if problem:
        raise Invalid(f"This feed URL cannot be fetched: {problem}.", details=[f"url: {problem}"])
    interval = interval_minutes or int(current_app.config["FEEDS_DEFAULT_INTERVAL_MINUTES"])
    _check_interval(interval)
    name = " ".join(name.split())[:200] or policy.check_url(url).hostname or url
    begin_write()
    duplicate = db.session.scalar(
        select(FeedSource).where(or_(FeedSource.url == url, FeedSource.catalogue_url == url))
    )
    if duplicate is not None:
        db.session.rollback()
        raise Conflict(f"This feed is already a source: {duplicate.name} (#{duplicate.id}).")
    now = clock.utcnow()
    source = FeedSource(
        name=name,
        url=url,
        origin="admin",
        enabled=enabled,
        interval_minutes=interval,
        next_poll_at=now if enabled else None,
        last_status="never",
        created_at=now,
    )
    db.session.add(source)
    db.session.flush()
    record(
        actor,
        "feed.source.added",
        "feed_source",
        source.id,
        summary=name,
        after=source_snapshot(source),
    )
    db.session.commit()
    return source


def update_source(
    source_id: int,
    *,
    name: str | None = None,
    interval_minutes: int | None = None,
    enabled: bool | None = None,
    actor: Actor,
) -> FeedSource:
    """Rename, re-time, enable or disable a source; enabling makes it due at once."""
    if interval_minutes is not None:
        _check_interval(interval_minutes)
    begin_write()
    source = db.session.get(FeedSource, source_id)
    if source is None:
        db.session.rollback()
        raise NotFound("No such feed source.")
    before = source_snapshot(source)
    if name is not None and " ".join(name.split()):
        source.name = " ".join(name.split())[:200]
    if interval_minutes is not None:
        source.interval_minutes = interval_minutes
    if enabled is not None and enabled != source.enabled:
        source.enabled = enabled
        if enabled:
            source.disabled_reason = ""
            source.next_poll_at = clock.utcnow()
            source.consecutive_failures = 0
            source.failing_since = source.flagged_at = None
        else:
            source.disabled_reason = f"disabled by {actor.label}"
            source.next_poll_at = None
    after = source_snapshot(source)
    if after == before:
        db.session.rollback()
        return source
    action = "feed.source.updated"
    if before["enabled"] != after["enabled"]:
        action = "feed.source.enabled" if after["enabled"] else "feed.source.disabled"
    record(actor, action, "feed_source", source.id, summary=source.name, before=before, after=after)
    db.session.commit()
    return source


_EDITABLE = ("name", "interval_minutes")  # an admin's change to these survives catalogue loads


def _editable_hash(values: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: values[k] for k in _EDITABLE}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sync_sources_from_catalogue(
    feeds: Mapping[str, Mapping[str, Any]],
    *,
    regulators: Mapping[str, Regulator],
    jurisdictions: Mapping[str, Jurisdiction],
    note: Callable[[str, str], None],
    actor: Actor,
    now: datetime,
) -> None:
    """Upsert the sources listed in regulations/feeds/*.yaml, keyed by their catalogue URL.

    Runs inside the catalogue loader's unit of work: flushes, never commits. The files own
    regulator, jurisdiction, confirmed and note; the name and interval follow the files until
    an admin changes them here; enabling stays the admins' call. A feed that leaves the files
    is disabled and kept (its entries and reviews point at it), like a retired instrument.
    """
    default_interval = int(current_app.config["FEEDS_DEFAULT_INTERVAL_MINUTES"])
    existing = {
        s.catalogue_url: s
        for s in db.session.scalars(select(FeedSource).where(FeedSource.catalogue_url.is_not(None)))
    }
    for url, data in feeds.items():
        values = {
            "name": str(data["name"])[:200],
            "interval_minutes": int(data.get("interval_minutes") or default_interval),
        }
        owned = {
            "regulator": regulators.get(str(data.get("regulator", ""))),
            "jurisdiction": jurisdictions.get(str(data.get("jurisdiction", ""))),
            "confirmed": bool(data.get("confirmed", False)),
            "note": str(data.get("note", "")),
        }
        change = _sync_source(url, existing.get(url), values, owned, actor, now)
        note("feed", change)
    for catalogue_url, row in existing.items():
        if catalogue_url not in feeds and row.retired_at is None:
            row.retired_at = now
            if row.enabled:
                row.enabled, row.disabled_reason, row.next_poll_at = False, LEFT_CATALOGUE, None
            note("feed", "retired")
            record(
                actor,
                "feed.source.retired",
                "feed_source",
                row.id,
                summary=f"{row.name} left the catalogue files; disabled and kept",
            )


def _sync_source(
    url: str,
    row: FeedSource | None,
    values: dict[str, Any],
    owned: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> str:
    """Create or update one catalogue source; return the change for the load's report."""
    if row is None:
        row = db.session.scalar(
            select(FeedSource).where(FeedSource.url == url, FeedSource.catalogue_url.is_(None))
        )
        if row is not None:  # an admin added it by hand first: the catalogue adopts it
            row.catalogue_url, row.origin = url, "catalogue"
    created = row is None
    if row is None:
        row = FeedSource(
            url=url,
            catalogue_url=url,
            origin="catalogue",
            enabled=True,
            next_poll_at=now,
            last_status="never",
            created_at=now,
        )
        db.session.add(row)
    current = {name: getattr(row, name) for name in _EDITABLE}
    edited_here = not created and bool(row.seed_hash) and _editable_hash(current) != row.seed_hash
    before = {**current, **{k: _plain(getattr(row, k)) for k in owned}}
    applied = dict(owned) if edited_here else {**owned, **values}
    changed = created or row.retired_at is not None
    changed = changed or any(getattr(row, name) != value for name, value in applied.items())
    for name, value in applied.items():
        setattr(row, name, value)
    if not edited_here:
        row.seed_hash = _editable_hash(values)
    if row.retired_at is not None:
        row.retired_at = None
        if not row.enabled and row.disabled_reason == LEFT_CATALOGUE:
            row.enabled, row.disabled_reason, row.next_poll_at = True, "", now
    if not changed:
        return "kept local" if edited_here and current != values else "unchanged"
    db.session.flush()
    record(
        actor,
        f"feed.source.{'added' if created else 'updated'}",
        "feed_source",
        row.id,
        summary=f"{row.name} (from the catalogue)",
        before=None if created else before,
        after={
            **{k: getattr(row, k) for k in _EDITABLE},
            **{k: _plain(v) for k, v in owned.items()},
        },
    )
    return "created" if created else "updated"


LEFT_CATALOGUE = "no longer in the catalogue files"


def _plain(value: Any) -> Any:
    return getattr(value, "slug", None) or getattr(value, "code", None) or value


# -- polling ------------------------------------------------------------------------------------


@dataclass
class CycleReport:
    """One poll cycle: what each source came to, and how long it took."""

    outcomes: list[PollOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def revised(self) -> int:
        return sum(o.revised for o in self.outcomes)

    @property
    def reviews_opened(self) -> int:
        return sum(o.reviews_opened for o in self.outcomes)

    def summary(self) -> str:
        statuses = Counter(o.status for o in self.outcomes)
        parts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        return (
            f"{len(self.outcomes)} source(s) polled in {self.seconds:.1f} s "
            f"({parts or 'none'}); {self.new} new, {self.revised} revised entries; "
            f"{self.reviews_opened} review(s) opened"
        )


def _job(source: FeedSource, *, conditional: bool = True) -> PollJob:
    return PollJob(
        source_id=source.id,
        url=source.url,
        validators=Validators(source.etag, source.last_modified) if conditional else Validators(),
        body_hash=source.body_hash if conditional else "",
        max_entries=int(current_app.config["FEEDS_MAX_ENTRIES"]),
    )


def due_sources_query(now: datetime) -> Select[FeedSource]:
    return (
        select(FeedSource)
        .where(FeedSource.enabled.is_(True))
        .where(or_(FeedSource.next_poll_at.is_(None), FeedSource.next_poll_at <= now))
        .order_by(FeedSource.next_poll_at.asc().nulls_first(), FeedSource.id)
    )


def poll_due_sources(*, limit: int | None = None) -> CycleReport:
    """Poll every enabled source whose time has come (the scheduler's job, `flask feeds poll`)."""
    now = clock.utcnow()
    batch = limit or int(current_app.config["FEEDS_POLL_BATCH"])
    sources = list(db.session.scalars(due_sources_query(now).limit(batch)))
    return _poll([_job(s) for s in sources])


def poll_source(source_id: int, *, force: bool = False) -> PollOutcome:
    """Poll one source now, due or not, enabled or not; force skips the conditional GET."""
    source = db.session.get(FeedSource, source_id)
    if source is None:
        raise NotFound("No such feed source.")
    report = _poll([_job(source, conditional=not force)])
    return report.outcomes[0]


def poll_all_sources() -> CycleReport:
    """Poll every enabled source now, whatever its schedule."""
    query = select(FeedSource).where(FeedSource.enabled.is_(True)).order_by(FeedSource.id)
    return _poll([_job(s) for s in db.session.scalars(query)])


def _poll(jobs: list[PollJob]) -> CycleReport:
    """Fetch in worker threads, store each result as it arrives in its own transaction.

    A slow or broken source holds one worker for at most FETCH_TOTAL_TIMEOUT and never the
    others' results. Before fetching, the sources are leased (next poll pushed past the
    longest fetch), so a process killed mid-cycle leaves them due again minutes later with
    nothing lost: whatever was stored was committed whole, the rest is fetched again.
    """
    started = time.monotonic()
    report = CycleReport()
    if not jobs:
        return report
    config = current_app.config
    settings = FetchSettings.from_config(config)
    _lease([job.source_id for job in jobs], seconds=2 * settings.total_timeout + 60)
    fetcher = Fetcher(settings)
    relevance = Relevance(_suggestions)
    rng = random.Random()  # noqa: S311  (jitter spreads polls; nothing secret depends on it)
    workers = max(1, min(int(config["FEEDS_POLL_WORKERS"]), len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feed-fetch") as pool:
        futures: dict[Future[Fetched], PollJob] = {
            pool.submit(fetch_and_parse, fetcher.fetch, job): job for job in jobs
        }
        for future in as_completed(futures):
            report.outcomes.append(store_fetched(future.result(), relevance, rng))
    report.seconds = time.monotonic() - started
    log.info("feeds: %s", report.summary())
    return report


def _lease(source_ids: list[int], *, seconds: float) -> None:
    begin_write()
    until = clock.utcnow() + timedelta(seconds=seconds)
    db.session.execute(
        update(FeedSource).where(FeedSource.id.in_(source_ids)).values(next_poll_at=until)
    )
    db.session.commit()


def store_fetched(fetched: Fetched, relevance: Relevance, rng: random.Random) -> PollOutcome:
    """Record one fetch in its own unit of work, then send its signals."""
    for attempt in (1, 2):
        begin_write()
        try:
            outcome = store(fetched, now=clock.utcnow(), relevance=relevance, rng=rng)
            db.session.commit()
        except IntegrityError:
            # Another poll stored the same entry first (a manual poll beside the scheduler);
            # once more, and the rows it wrote are found and updated instead.
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        except Exception:
            db.session.rollback()
            log.exception("feeds: storing source %s failed", fetched.job.source_id)
            return PollOutcome(fetched.job.source_id, status="failed", error="storing failed")
        break
    with signals.batch(fetched.job.source_id):
        for name, sender, kwargs in outcome.signals:
            getattr(signals, name).send(sender, **kwargs)
    # A cycle touches thousands of rows; left in the session, every later commit would expire
    # them all again (quadratic in the cycle's size). Receivers have had theirs by now.
    db.session.expunge_all()
    return outcome


def _suggestions(title: str) -> list[Suggestion]:
    """The search index's best instruments and obligations for an entry's title."""
    from compliance.search import services as search

    try:
        wanted = search.SearchRequest(
            text=title[:300], filters={"kind": ("regulation", "obligation")}, per_page=SEARCH_HITS
        )
        results = search.search(wanted, team=None)
    except Exception:  # a missing or busy index only loses the corroboration
        log.warning("feeds: the search index could not be asked about an entry", exc_info=True)
        return []
    found = []
    for hit in results.hits:
        slug = str(hit.stored.get("regulation") or hit.stored.get("slug") or "")
        obligation = hit.stored.get("obligation_id")
        found.append(Suggestion(slug, hit.title, int(obligation) if obligation else None))
    return found


# -- reads --------------------------------------------------------------------------------------


def sources_query(*, problems_only: bool = False) -> Select[FeedSource]:
    query = select(FeedSource).options(
        selectinload(FeedSource.regulator), selectinload(FeedSource.jurisdiction)
    )
    if problems_only:
        query = query.where(
            or_(FeedSource.consecutive_failures > 0, FeedSource.flagged_at.is_not(None))
        )
    return query.order_by(
        FeedSource.flagged_at.is_(None), FeedSource.retired_at.is_not(None), FeedSource.name
    )


def all_sources(*, problems_only: bool = False) -> list[FeedSource]:
    return list(db.session.scalars(sources_query(problems_only=problems_only)))


def get_source(source_id: int) -> FeedSource:
    source = db.session.get(FeedSource, source_id)
    if source is None:
        raise NotFound("No such feed source.")
    return source


def flagged_sources() -> list[FeedSource]:
    query = select(FeedSource).where(FeedSource.flagged_at.is_not(None)).order_by(FeedSource.name)
    return list(db.session.scalars(query))


def source_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(
            func.count(),
            func.count().filter(FeedSource.enabled.is_(True)),
            func.count().filter(FeedSource.consecutive_failures > 0),
            func.count().filter(FeedSource.flagged_at.is_not(None)),
        )
    ).one()
    return {"all": rows[0], "enabled": rows[1], "failing": rows[2], "flagged": rows[3]}


def entries_query(
    *, source_id: int | None = None, unmatched: bool = False, text: str = ""
) -> Select[FeedEntry]:
    """Entries, newest first; unmatched: those without a review (for a person to promote)."""
    from compliance.reviews.models import ChangeReview

    query = select(FeedEntry).options(selectinload(FeedEntry.source))
    if source_id is not None:
        query = query.where(FeedEntry.source_id == source_id)
    if unmatched:
        query = query.where(
            ~select(ChangeReview.id).where(ChangeReview.entry_id == FeedEntry.id).exists()
        )
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(FeedEntry.title).like(f"%{escaped}%", escape="\\"))
    shown = func.coalesce(FeedEntry.published_at, FeedEntry.first_seen_at)
    return query.order_by(shown.desc(), FeedEntry.id.desc())


def get_entry(entry_id: int) -> FeedEntry:
    entry = db.session.get(FeedEntry, entry_id)
    if entry is None:
        raise NotFound("No such feed entry.")
    return entry


@dataclass(frozen=True)
class RevisionDiff:
    number: int
    seen_at: datetime
    lines: list[DiffLine]


def revision_diffs(entry: FeedEntry) -> list[RevisionDiff]:
    """Each revision after the first, as a diff against the one before, newest first."""
    revisions: list[FeedEntryRevision] = list(entry.revisions)
    result = [
        RevisionDiff(
            after.number,
            after.seen_at,
            diff(before.title, before.summary_text, after.title, after.summary_text),
        )
        for before, after in zip(revisions, revisions[1:], strict=False)
    ]
    return list(reversed(result))


def describe_interval(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} min"


def known_sources(ids: Iterable[int]) -> dict[int, FeedSource]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {
        s.id: s for s in db.session.scalars(select(FeedSource).where(FeedSource.id.in_(wanted)))
    }


def schedule_poll_now(source_id: int, *, actor: Actor) -> FeedSource:
    """Make a source due at once; the scheduler's next tick polls it."""
    begin_write()
    source = db.session.get(FeedSource, source_id)
    if source is None:
        db.session.rollback()
        raise NotFound("No such feed source.")
    source.next_poll_at = clock.utcnow()
    record(actor, "feed.source.poll-requested", "feed_source", source.id, summary=source.name)
    db.session.commit()
    return source
