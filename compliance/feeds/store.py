"""Write what one fetch found: the source's status and schedule, new entries and revisions,
their relevance, and the reviews they open. One fetch, one unit of work (principle 3).

Everything here runs in the polling process's main thread; fetches run in worker threads and
hand their results over, so the database session is never shared between threads.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from compliance import signals
from compliance.audit.services import Actor, record
from compliance.catalogue.models import Jurisdiction, Regulation
from compliance.extensions import db
from compliance.feeds import backoff
from compliance.feeds.entries import CleanItem, clean_items
from compliance.feeds.fetcher import FetchResult, Validators
from compliance.feeds.matching import Instrument, Matcher, Suggestion
from compliance.feeds.models import FeedEntry, FeedEntryRevision, FeedSource
from compliance.feeds.parser import NotAFeed, ParsedFeed, parse_feed
from compliance.reviews import services as reviews

log = logging.getLogger(__name__)
POLLER = Actor.system("feed poller")


@dataclass(frozen=True)
class PollJob:
    """What a worker thread needs to poll one source; no database rows cross threads."""

    source_id: int
    url: str
    validators: Validators
    body_hash: str
    max_entries: int


@dataclass(frozen=True)
class Fetched:
    """A worker's result: the fetch, and the parsed feed unless the body was unchanged."""

    job: PollJob
    result: FetchResult
    body_hash: str = ""
    parsed: ParsedFeed | None = None
    parse_error: str = ""


def fetch_and_parse(fetch: Callable[[str, Validators], FetchResult], job: PollJob) -> Fetched:
    """Fetch and parse one source; runs in a worker thread, touches no database."""
    try:
        result = fetch(job.url, job.validators)
    except Exception as error:  # the fetcher reports failures itself; this is a bug's safety net
        log.exception("feed fetch crashed on %s", job.url)
        return Fetched(
            job, FetchResult("failed", job.url, job.url, error=f"fetch crashed: {error}")
        )
    if result.outcome != "ok":
        return Fetched(job, result)
    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == job.body_hash:
        return Fetched(job, result, body_hash)  # same bytes as last time: nothing to parse
    try:
        parsed = parse_feed(
            result.body,
            content_type=result.content_type,
            url=result.final_url,
            max_items=job.max_entries,
        )
    except NotAFeed as problem:
        return Fetched(job, result, body_hash, parse_error=str(problem))
    except Exception as error:  # feedparser on hostile input: never take the cycle down
        log.exception("feed parser failed on %s", job.url)
        return Fetched(job, result, body_hash, parse_error=f"the feed could not be read ({error})")
    return Fetched(job, result, body_hash, parsed)


@dataclass
class PollOutcome:
    """What polling one source came to, for the CLI, the page and the logs."""

    source_id: int
    name: str = ""
    status: str = ""
    error: str = ""
    new: int = 0
    revised: int = 0
    duplicates: int = 0
    reviews_opened: int = 0
    moved_to: str | None = None
    flagged: bool = False
    # Sent after the commit: (signal name, sender, kwargs).
    signals: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list, repr=False)


class Relevance:
    """The catalogue's matcher and the search index, built once per poll cycle when needed."""

    def __init__(self, search: Callable[[str], list[Suggestion]] | None) -> None:
        self._matcher: Matcher | None = None
        self._search = search

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._matcher = build_matcher()
        return self._matcher

    def score(self, entry: FeedEntry, jurisdictions: tuple[str, ...]) -> None:
        matches = self.matcher.match(
            entry.title,
            entry.summary_text,
            source_jurisdictions=jurisdictions,
            search=self._search,
        )
        entry.matches = [m.as_dict() for m in matches if m.score > 0]
        entry.relevance = max((m.score for m in matches), default=0.0)


def build_matcher() -> Matcher:
    """Compile the live catalogue's names, citations and provisions."""
    jurisdictions = {j.id: j for j in db.session.scalars(select(Jurisdiction))}
    regulations = db.session.scalars(
        select(Regulation)
        .where(Regulation.retired_at.is_(None))
        .options(selectinload(Regulation.obligations))
        .order_by(Regulation.slug)
    )
    instruments = []
    for regulation in regulations:
        chain: list[str] = []
        current = jurisdictions.get(regulation.jurisdiction_id)
        while current is not None and current.code not in chain:
            chain.append(current.code)
            current = jurisdictions.get(current.parent_id) if current.parent_id else None
        instruments.append(
            Instrument.of(
                regulation_id=regulation.id,
                slug=regulation.slug,
                short_title=regulation.short_title,
                title=regulation.title,
                citation=regulation.citation,
                aliases=regulation.aliases or [],
                jurisdictions=tuple(chain),
                obligations=[(o.id, o.ref) for o in regulation.obligations if o.retired_at is None],
            )
        )
    return Matcher(instruments)


def store(
    fetched: Fetched, *, now: datetime, relevance: Relevance, rng: random.Random
) -> PollOutcome:
    """Record one fetch on its source, within the caller's transaction (begun as a write)."""
    config = current_app.config
    source = db.session.get(FeedSource, fetched.job.source_id)
    outcome = PollOutcome(fetched.job.source_id)
    if source is None:
        return outcome  # removed while it was being fetched
    outcome.name = source.name
    result = fetched.result
    source.last_polled_at = now
    source.last_http_status = result.http_status
    if result.outcome in ("refused", "failed"):
        _failed(source, result.outcome, result.error, now, rng, outcome, result.retry_after)
    elif result.outcome == "gone":
        source.enabled = False
        source.disabled_reason = f"HTTP 410 Gone at {now:%Y-%m-%d %H:%M} UTC"
        source.last_status, source.last_error = "gone", result.error
        source.next_poll_at = None
        outcome.status, outcome.error = "gone", result.error
        record(
            POLLER,
            "feed.source.gone",
            "feed_source",
            source.id,
            summary=f"{source.name}: {result.error}; disabled",
        )
    elif result.outcome == "not-modified":
        _keep_validators(source, result)
        _succeeded(source, "not-modified", "", now, rng, outcome)
    elif fetched.parse_error:
        # Validators are not stored: the next poll must fetch this body again, not get a 304.
        _failed(source, "failed", fetched.parse_error, now, rng, outcome)
    elif fetched.parsed is None:
        _keep_validators(source, result)
        _succeeded(source, "unchanged", "", now, rng, outcome)
    else:
        items, duplicates = clean_items(fetched.parsed.items, now=now)
        outcome.duplicates = duplicates
        _store_entries(
            source, items, now, relevance, outcome, float(config["FEEDS_MATCH_THRESHOLD"])
        )
        _keep_validators(source, result)
        source.body_hash = fetched.body_hash
        if result.moved_to and result.moved_to != source.url:
            record(
                POLLER,
                "feed.source.moved",
                "feed_source",
                source.id,
                summary=f"{source.name}: permanently redirected, and the new address parsed",
                before={"url": source.url},
                after={"url": result.moved_to},
            )
            source.url = outcome.moved_to = result.moved_to
        _succeeded(source, "ok", fetched.parsed.warning, now, rng, outcome)
    return outcome


def _keep_validators(source: FeedSource, result: FetchResult) -> None:
    # Both are overwritten on every 200 and 304: keeping a stale one while the other changes
    # leaves a client making unconditional requests forever (miniflux/v2#2675).
    if result.outcome == "ok" or result.etag:
        source.etag = result.etag
    if result.outcome == "ok" or result.last_modified:
        source.last_modified = result.last_modified


def _succeeded(
    source: FeedSource,
    status: str,
    warning: str,
    now: datetime,
    rng: random.Random,
    outcome: PollOutcome,
) -> None:
    if source.flagged_at is not None:
        record(
            POLLER,
            "feed.source.recovered",
            "feed_source",
            source.id,
            summary=f"{source.name} answers again",
        )
    source.last_status, source.last_error = status, warning
    source.consecutive_failures = 0
    source.failing_since = source.flagged_at = None
    source.last_success_at = now
    source.next_poll_at = backoff.after_success(now, source.interval_minutes, rng)
    outcome.status, outcome.error = status, warning


def _failed(
    source: FeedSource,
    status: str,
    error: str,
    now: datetime,
    rng: random.Random,
    outcome: PollOutcome,
    retry_after: int | None = None,
) -> None:
    config = current_app.config
    source.last_status, source.last_error = status, error[:2000]
    source.consecutive_failures += 1
    source.failing_since = source.failing_since or now
    source.next_poll_at = backoff.after_failure(
        now,
        source.interval_minutes,
        source.consecutive_failures,
        int(config["FEEDS_MAX_BACKOFF_MINUTES"]),
        rng,
        retry_after,
    )
    outcome.status, outcome.error = status, error
    flag_after = timedelta(days=int(config["FEEDS_FLAG_AFTER_DAYS"]))
    if source.flagged_at is None and now - source.failing_since >= flag_after:
        source.flagged_at = now
        outcome.flagged = True
        days = (now - source.failing_since).days
        record(
            POLLER,
            "feed.source.flagged",
            "feed_source",
            source.id,
            summary=f"{source.name} has failed for {days} days: {error[:200]}",
        )
        signals.feed_source_flagging.send(source)
        outcome.signals.append(("feed_source_flagged", source, {}))


def _store_entries(
    source: FeedSource,
    items: list[CleanItem],
    now: datetime,
    relevance: Relevance,
    outcome: PollOutcome,
    threshold: float,
) -> None:
    if not items:
        return
    new: list[FeedEntry] = []
    revised: list[FeedEntry] = []
    known = _Known(source.id, items)
    for item in items:
        entry = known.find(item)
        if entry is None:
            new.append(_new_entry(source, item, now))
        elif entry.content_hash != item.content_hash:
            _revise(entry, item, now)
            revised.append(entry)
    db.session.flush()
    jurisdictions = _chain(source.jurisdiction)
    for entry in (*new, *revised):
        relevance.score(entry, jurisdictions)
        opened = reviews.open_for_entry(entry, threshold=threshold, revised=entry in revised)
        if opened.opened and opened.review is not None:
            outcome.reviews_opened += 1
            outcome.signals.append(("review_opened", opened.review, {}))
    outcome.new, outcome.revised = len(new), len(revised)
    outcome.signals += [("feed_entry_added", e, {"action": "added"}) for e in new]
    outcome.signals += [("feed_entry_added", e, {"action": "revised"}) for e in revised]
    if new or revised:
        record(
            POLLER,
            "feed.entries.stored",
            "feed_source",
            source.id,
            summary=f"{source.name}: {len(new)} new, {len(revised)} revised",
            after={
                "new": [e.id for e in new][:100],
                "revised": [f"{e.id}@{e.revision}" for e in revised][:100],
            },
        )


class _Known:
    """The source's stored entries that a document's items may be, found in one query.

    Fallbacks catch a guid that changes on every poll (feedbin/support#580), but only to an
    entry whose own identity is absent from this document: two live items sharing a link (a
    feed linking every item to its home page) stay two entries.
    """

    def __init__(self, source_id: int, items: list[CleanItem]) -> None:
        identities = {item.identity_key for item in items}
        link_keys = {item.link_key for item in items if item.link_key}
        title_keys = {item.title_key for item in items}
        existing = list(
            db.session.scalars(
                select(FeedEntry).where(
                    FeedEntry.source_id == source_id,
                    or_(
                        FeedEntry.identity_key.in_(identities),
                        FeedEntry.link_key.in_(link_keys),
                        FeedEntry.title_key.in_(title_keys),
                    ),
                )
            )
        )
        self.by_identity = {e.identity_key: e for e in existing}
        loose = [e for e in existing if e.identity_key not in identities]
        self.by_link = {e.link_key: e for e in loose if e.link_key}
        self.by_title = {e.title_key: e for e in loose}
        self.claimed: set[int] = set()

    def find(self, item: CleanItem) -> FeedEntry | None:
        entry = self.by_identity.get(item.identity_key)
        if entry is None and item.link_key:
            entry = self.by_link.get(item.link_key)
        if entry is None and item.published_at is not None:
            entry = self.by_title.get(item.title_key)  # undated titles ("Press release") collide
        if entry is None or entry.id in self.claimed:
            return None
        self.claimed.add(entry.id)
        return entry


def _chain(jurisdiction: Jurisdiction | None) -> tuple[str, ...]:
    """The jurisdiction's code and each one above it."""
    codes: list[str] = []
    while jurisdiction is not None and jurisdiction.code not in codes:
        codes.append(jurisdiction.code)
        jurisdiction = jurisdiction.parent
    return tuple(codes)


def _new_entry(source: FeedSource, item: CleanItem, now: datetime) -> FeedEntry:
    entry = FeedEntry(
        source=source,
        identity_key=item.identity_key,
        guid=item.guid,
        link=item.link,
        link_key=item.link_key,
        title_key=item.title_key,
        title=item.title,
        summary_html=item.summary_html,
        summary_text=item.summary_text,
        published_at=item.published_at,
        content_hash=item.content_hash,
        revision=1,
        first_seen_at=now,
        matches=[],
    )
    db.session.add(entry)
    entry.revisions.append(_revision(item, 1, now))
    return entry


def _revise(entry: FeedEntry, item: CleanItem, now: datetime) -> None:
    entry.revision += 1
    entry.revisions.append(_revision(item, entry.revision, now))
    entry.title = item.title
    entry.link = item.link or entry.link
    entry.summary_html = item.summary_html
    entry.summary_text = item.summary_text
    entry.published_at = item.published_at or entry.published_at
    entry.content_hash = item.content_hash
    entry.revised_at = now


def _revision(item: CleanItem, number: int, now: datetime) -> FeedEntryRevision:
    return FeedEntryRevision(
        number=number,
        title=item.title,
        link=item.link,
        summary_html=item.summary_html,
        summary_text=item.summary_text,
        published_at=item.published_at,
        content_hash=item.content_hash,
        seen_at=now,
    )
