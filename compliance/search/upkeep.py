"""Keeping the index in step with the database: build documents, write, rebuild, check, repair.

The index is a derived cache (design.md, principle 1): the database is the truth, and every
function here that writes the index can be re-run at any time without losing anything. Other
domains reach these through compliance.search.services.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from compliance.catalogue.models import Jurisdiction, Obligation, Regulation
from compliance.clock import utcnow
from compliance.extensions import db
from compliance.feeds.models import FeedEntry, FeedSource
from compliance.mapping.models import Control
from compliance.reviews.models import ChangeReview, ReviewMatch
from compliance.search import documents
from compliance.search.documents import SearchDocument
from compliance.search.index import IndexBusy, IndexUnavailable, SearchIndex

log = logging.getLogger(__name__)

EXTENSION = "compliance.search"
WRITE_TIMEOUT_SECONDS = 2.0  # how long a request waits for another process's index write
BATCH = 1000  # rows read from the database at a time when building documents
PARALLEL_REBUILD_FROM = 5000  # documents; below this, starting worker processes costs more
Indexed = Regulation | Obligation | Control | FeedEntry | ChangeReview


def search_index() -> SearchIndex:
    """This app's index, opened once per process."""
    state = current_app.extensions.setdefault(EXTENSION, {})
    directory = current_app.config["SEARCH_INDEX_DIR"]
    index = state.get("index")
    if not isinstance(index, SearchIndex) or str(index.directory) != str(directory):
        index = state["index"] = SearchIndex(directory)
    return index


def all_documents() -> Iterator[SearchDocument]:
    """Every searchable row as an index document, read in batches."""
    regulations = select(Regulation).options(
        selectinload(Regulation.jurisdiction).selectinload(Jurisdiction.parent),
        selectinload(Regulation.regulator),
        selectinload(Regulation.topics),
    )
    for regulation in db.session.scalars(regulations.order_by(Regulation.id)):
        yield documents.regulation_document(regulation)
    for batch in _batches(Obligation):
        batch = batch.options(
            selectinload(Obligation.regulation).selectinload(Regulation.jurisdiction),
            selectinload(Obligation.topics),
        )
        for obligation in db.session.scalars(batch.order_by(Obligation.id)):
            yield documents.obligation_document(obligation)
        db.session.expunge_all()  # keep memory flat on a large catalogue
    for control in db.session.scalars(select(Control).order_by(Control.id)):
        yield documents.control_document(control)
    for batch in _batches(FeedEntry):
        batch = batch.options(selectinload(FeedEntry.source).selectinload(FeedSource.jurisdiction))
        entries = list(db.session.scalars(batch.order_by(FeedEntry.id)))
        instruments = _matched_instruments(entries)
        for entry in entries:
            yield _entry_document(entry, instruments)
        db.session.expunge_all()
    for batch in _batches(ChangeReview):
        batch = batch.options(
            selectinload(ChangeReview.entry)
            .selectinload(FeedEntry.source)
            .selectinload(FeedSource.jurisdiction),
            selectinload(ChangeReview.matches)
            .selectinload(ReviewMatch.regulation)
            .options(selectinload(Regulation.jurisdiction), selectinload(Regulation.topics)),
        )
        for review in db.session.scalars(batch.order_by(ChangeReview.id)):
            yield documents.review_document(review)
        db.session.expunge_all()


def _batches(model: type[Obligation] | type[FeedEntry] | type[ChangeReview]) -> Iterator[Any]:
    """Selects of BATCH rows each, by id (ids read first: rows may be added meanwhile)."""
    ids = list(db.session.scalars(select(model.id).order_by(model.id)))
    for start in range(0, len(ids), BATCH):
        yield select(model).where(model.id.in_(ids[start : start + BATCH]))


def _matched_instruments(entries: Iterable[FeedEntry]) -> dict[int, Regulation]:
    """The instruments the entries were matched to at or above the review threshold, by id."""
    wanted = {regulation_id for entry in entries for regulation_id in _strong_matches(entry)}
    if not wanted:
        return {}
    rows = db.session.scalars(
        select(Regulation)
        .where(Regulation.id.in_(wanted))
        .options(selectinload(Regulation.jurisdiction), selectinload(Regulation.topics))
    )
    return {regulation.id: regulation for regulation in rows}


def _strong_matches(entry: FeedEntry) -> list[int]:
    # The same bar that opens a review: weaker matches are guesses, not what the entry is about.
    threshold = float(current_app.config["FEEDS_MATCH_THRESHOLD"])
    return [
        int(match["regulation_id"])
        for match in entry.matches or []
        if float(match.get("score", 0)) >= threshold and match.get("regulation_id") is not None
    ]


def _entry_document(entry: FeedEntry, instruments: Mapping[int, Regulation]) -> SearchDocument:
    found = [instruments[i] for i in _strong_matches(entry) if i in instruments]
    return documents.feed_entry_document(entry, found)


def count_documents() -> int:
    """How many documents a rebuild writes (for its progress bar)."""
    models = (Regulation.id, Obligation.id, Control.id, FeedEntry.id, ChangeReview.id)
    return sum(db.session.scalar(select(func.count(column))) or 0 for column in models)


def rebuild_index(on_document: Callable[[SearchDocument], None] | None = None) -> int:
    """Recreate the index from the database; searches go on against the old one meanwhile."""
    index = search_index()
    started = utcnow() - timedelta(seconds=1)  # clocks of other writers may lag a little
    written = index.rebuild(all_documents(), procs=_rebuild_procs(), on_document=on_document)
    # Rows written while the new index was being built went to the old one: bring them over.
    changed: list[Indexed] = []
    for model in (Regulation, Obligation, Control, ChangeReview):
        changed += db.session.scalars(select(model).where(model.updated_at >= started))
    changed += db.session.scalars(
        select(FeedEntry).where(
            (FeedEntry.first_seen_at >= started) | (FeedEntry.revised_at >= started)
        )
    )
    if changed:
        index_rows(changed)
    return written


@dataclass(frozen=True)
class IndexReport:
    indexed: int
    expected: int
    missing: list[str]  # in the database, not in the index
    stale: list[str]  # in both, but the index holds an older version
    extra: list[str]  # in the index, no longer in the database
    problem: str = ""  # the index could not be read at all
    repaired: bool = False

    @property
    def in_step(self) -> bool:
        return not (self.missing or self.stale or self.extra or self.problem)


def check_index(*, repair: bool = False) -> IndexReport:
    """Compare the index with the database; with repair, make the index match."""
    index = search_index()
    expected = {document.id: document for document in all_documents()}
    try:
        if not index.is_current_schema():
            raise IndexUnavailable("The index was built by an older version; it needs a rebuild.")
        indexed = index.stored_hashes()
    except IndexUnavailable as error:
        report = IndexReport(0, len(expected), sorted(expected), [], [], problem=str(error))
        if repair:
            index.rebuild(expected.values())
            return IndexReport(**{**report.__dict__, "repaired": True})
        return report
    missing = sorted(doc_id for doc_id in expected if doc_id not in indexed)
    stale = sorted(
        doc_id
        for doc_id, document in expected.items()
        if doc_id in indexed and indexed[doc_id] != document.content_hash
    )
    extra = sorted(doc_id for doc_id in indexed if doc_id not in expected)
    report = IndexReport(len(indexed), len(expected), missing, stale, extra)
    if repair and not report.in_step:
        if len(missing) + len(stale) > max(1000, len(expected) // 2):
            index.rebuild(expected.values())  # a fresh build beats that many updates
        else:
            changed = [expected[doc_id] for doc_id in missing + stale]
            index.apply(changed, extra, timeout=WRITE_TIMEOUT_SECONDS * 15)
        report = IndexReport(**{**report.__dict__, "repaired": True})
    return report


def index_rows(rows: Iterable[Indexed]) -> None:
    """Update the index for rows just committed; a failure is logged, never raised.

    The user's write has already succeeded; a busy or broken index must not undo it or turn
    it into an error page. `flask search check --repair` (run nightly) brings the index back.
    """
    try:
        search_index().apply(_documents_of(list(rows)), [], timeout=_write_timeout())
    except IndexBusy as error:
        log.warning("search index not updated (%s); the nightly check will repair it", error)
    except Exception:
        log.exception("search index not updated; run `flask search check --repair`")


def reviews_of(entries: Iterable[FeedEntry]) -> list[ChangeReview]:
    """The reviews opened for these entries."""
    ids = [entry.id for entry in entries]
    return list(db.session.scalars(select(ChangeReview).where(ChangeReview.entry_id.in_(ids))))


def _documents_of(rows: list[Indexed]) -> list[SearchDocument]:
    entries = [row for row in rows if isinstance(row, FeedEntry)]
    instruments = _matched_instruments(entries) if entries else {}
    built = []
    for row in rows:
        if isinstance(row, Control):
            built.append(documents.control_document(row))
        elif isinstance(row, Obligation):
            built.append(documents.obligation_document(row))
        elif isinstance(row, Regulation):
            built.append(documents.regulation_document(row))
        elif isinstance(row, FeedEntry):
            built.append(_entry_document(row, instruments))
        else:
            built.append(documents.review_document(row))
    return built


def sync_index() -> IndexReport | None:
    """Bring the index in step after a bulk change (a catalogue load); never raises."""
    try:
        return check_index(repair=True)
    except Exception:
        log.exception("search index not synchronised; run `flask search check --repair`")
        return None


def _rebuild_procs() -> int:
    """Worker processes for a rebuild: two on a multi-core host once the catalogue is big."""
    if count_documents() < PARALLEL_REBUILD_FROM or (os.cpu_count() or 1) < 2:
        return 1
    return int(current_app.config.get("SEARCH_REBUILD_PROCS", 2))


def _write_timeout() -> float:
    return float(current_app.config.get("SEARCH_WRITE_TIMEOUT_SECONDS", WRITE_TIMEOUT_SECONDS))
