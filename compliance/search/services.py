"""Search use cases: query the index, keep it in step with the database, check and repair it.

The index is a derived cache (design.md, principle 1): the database is the truth, and every
function here that writes the index can be re-run at any time without losing anything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from math import ceil
from typing import Any

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from compliance.catalogue.models import (
    INSTRUMENT_TYPES,
    LEVELS,
    STATUSES,
    Jurisdiction,
    Obligation,
    Regulation,
    Topic,
)
from compliance.clock import utcnow
from compliance.errors import ComplianceError, Invalid
from compliance.extensions import db
from compliance.mapping.models import CONTROL_STATUSES, Control
from compliance.search import documents
from compliance.search.documents import KIND_LABELS, KINDS, SearchDocument
from compliance.search.index import (
    FACET_FIELDS,
    Found,
    Hit,
    IndexBusy,
    IndexUnavailable,
    Scope,
    SearchIndex,
    Segments,
    analyse,
)
from compliance.search.query import Query, Vocabulary, parse, with_corrections

log = logging.getLogger(__name__)

EXTENSION = "compliance.search"
MAX_PER_PAGE = 100
WRITE_TIMEOUT_SECONDS = 2.0  # how long a request waits for another process's index write
BATCH = 1000  # rows read from the database at a time when building documents
PARALLEL_REBUILD_FROM = 5000  # documents; below this, starting worker processes costs more
FACETS = tuple(FACET_FIELDS)
# Enumerated filters are checked; jurisdiction and topic are open vocabularies.
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "kind": KINDS,
    "level": LEVELS,
    "status": STATUSES + CONTROL_STATUSES,
    "type": INSTRUMENT_TYPES,
}


class SearchUnavailable(ComplianceError):
    status_code = 503


def search_index() -> SearchIndex:
    """This app's index, opened once per process."""
    state = current_app.extensions.setdefault(EXTENSION, {})
    directory = current_app.config["SEARCH_INDEX_DIR"]
    index = state.get("index")
    if not isinstance(index, SearchIndex) or str(index.directory) != str(directory):
        index = state["index"] = SearchIndex(directory)
    return index


# -- searching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    page: int = 1
    per_page: int = 25
    include_retired: bool = False

    @classmethod
    def from_args(cls, args: Any, *, per_page: int) -> SearchRequest:
        """Read ?q=&jurisdiction=&level=&topic=&status=&type=&kind=&page=&per_page=&retired=.

        Raises Invalid naming each bad value; a filter may be repeated to allow several values.
        """
        problems = []
        filters: dict[str, tuple[str, ...]] = {}
        for name in FACETS:
            raw = args.getlist(name) if hasattr(args, "getlist") else [args.get(name) or ""]
            values = []
            for value in raw:
                value = str(value).strip()[:60]
                if not value:
                    continue
                value = value.upper() if name == "jurisdiction" else value.lower()
                allowed = FILTER_CHOICES.get(name)
                if allowed is not None and value not in allowed:
                    problems.append(f"{name} must be one of: {', '.join(allowed)}")
                    continue
                values.append(value)
            if values:
                filters[name] = tuple(dict.fromkeys(values))
        page = _whole(args.get("page"), "page", 1, problems)
        size = min(_whole(args.get("per_page"), "per_page", per_page, problems), MAX_PER_PAGE)
        if problems:
            raise Invalid(
                "Unknown search parameter: " + "; ".join(problems) + ".", details=problems
            )
        retired = str(args.get("retired", "")).lower() in ("1", "true", "yes", "on")
        return cls(str(args.get("q") or ""), filters, page, size, retired)

    def as_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {name: list(values) for name, values in self.filters.items()}
        if self.text:
            args["q"] = self.text
        if self.include_retired:
            args["retired"] = "1"
        return args


def _whole(raw: Any, name: str, default: int, problems: list[str]) -> int:
    text = str(raw or "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        problems.append(f"{name} must be a whole number from 1 up")
        return default
    return int(text)


@dataclass(frozen=True)
class SearchHit:
    kind: str
    doc_id: str
    title: str
    ref: str
    context: str  # the instrument of an obligation, the jurisdiction of an instrument, a team
    score: float
    title_html: Markup
    snippet_html: Markup
    stored: dict[str, Any]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def link(self, api: bool = False) -> tuple[str, dict[str, Any]]:
        """The endpoint and arguments of this hit's page (or its API resource)."""
        stored = self.stored
        if self.kind == "obligation":
            endpoint = "api.obligation" if api else "catalogue.obligation"
            return endpoint, {"obligation_id": int(stored["obligation_id"])}
        if self.kind == "control":
            endpoint = "api.control" if api else "mapping.control"
            return endpoint, {"control_id": int(stored["control_id"])}
        return ("api.regulation" if api else "catalogue.regulation"), {"slug": stored["slug"]}


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class SearchResults:
    request: SearchRequest
    searched: str  # the query as run (after any correction)
    hits: list[SearchHit]
    total: int
    facets: dict[str, list[FacetValue]]
    notices: list[str]
    suggestion: str | None  # "did you mean"
    corrected_from: str | None  # set when the results are for the suggestion instead

    @property
    def pages(self) -> int:
        return ceil(self.total / self.request.per_page) if self.total else 0


def search(request: SearchRequest, *, team: str | None) -> SearchResults:
    """Search everything the asker may see; team=None sees every control, else only that team's.

    Never fails on what was typed: unreadable syntax becomes words and a notice. Raises
    SearchUnavailable when the index itself cannot be read.
    """
    index = search_index()
    try:
        vocabulary = _vocabulary(index)
        query = parse(request.text, vocabulary)
        scope = _scope(request, query, team)
        offset = (request.page - 1) * request.per_page
        found = index.search(query, scope, offset=offset, limit=request.per_page)
        notices = list(query.notices)
        searched, corrected_from = query, None
        corrections = {} if query.match_all else index.corrections(query.words(), scope)
        suggestion = with_corrections(query, corrections) if corrections else None
        if not found.total and suggestion:
            corrected = parse(suggestion, vocabulary)
            retry = index.search(corrected, scope, offset=offset, limit=request.per_page)
            if retry.total:
                found, searched, corrected_from = retry, corrected, query.text
        if not found.total and len(searched.groups) > 1:
            relaxed = index.search(searched.relaxed(), scope, offset=offset, limit=request.per_page)
            if relaxed.total:
                found = relaxed
                notices.append("No result has every word; these have some of them.")
    except IndexUnavailable as error:
        log.error("search index unavailable: %s", error)
        raise SearchUnavailable(
            "Search is unavailable while its index is repaired; try again in a minute, or ask "
            "an administrator to run `flask search check --repair`."
        ) from error
    return SearchResults(
        request=request,
        searched=searched.text,
        hits=[_hit(hit) for hit in found.hits],
        total=found.total,
        facets=_facets(found, scope),
        notices=notices,
        suggestion=suggestion if suggestion != query.text else None,
        corrected_from=corrected_from,
    )


def _scope(request: SearchRequest, query: Query, team: str | None) -> Scope:
    filters = {name: list(values) for name, values in request.filters.items()}
    for name, values in query.filters.items():
        filters.setdefault(name, []).extend(values)
    return Scope(
        filters={name: tuple(dict.fromkeys(values)) for name, values in filters.items()},
        team=team,
        include_retired=request.include_retired,
    )


def highlight_html(segments: Segments) -> Markup:
    """Escaped text with the matched words in <mark>."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(text) if matched else escape(text)
        for text, matched in segments
    )


def _hit(hit: Hit) -> SearchHit:
    stored = hit.stored
    title = str(stored.get("title", "")).replace("\n", " · ")
    title_pieces = [(text.replace("\n", " · "), on) for text, on in hit.highlights["title"]]
    return SearchHit(
        kind=str(stored.get("kind", "")),
        doc_id=hit.doc_id,
        title=title,
        ref=str(stored.get("ref", "")),
        context=str(stored.get("context", "")),
        score=round(hit.score, 4),
        title_html=highlight_html(title_pieces) if title_pieces else escape(title),
        snippet_html=highlight_html(hit.highlights["summary"]),
        stored=stored,
    )


def _facets(found: Found, scope: Scope) -> dict[str, list[FacetValue]]:
    labels = _labels()
    facets = {}
    for name in FACETS:
        chosen = set(scope.filters.get(name, ()))
        counts = dict(found.facets.get(name, {}))
        for value in chosen:
            counts.setdefault(value, 0)  # a selected value stays visible to be unselected
        values = [
            FacetValue(value, labels.get(name, {}).get(value, _words(value)), n, value in chosen)
            for value, n in counts.items()
        ]
        values.sort(key=lambda v: (not v.selected, -v.count, v.label.lower()))
        facets[name] = values
    return facets


def _words(value: str) -> str:
    return value.replace("-", " ")


def _labels() -> dict[str, dict[str, str]]:
    jurisdictions = db.session.execute(select(Jurisdiction.code, Jurisdiction.name))
    topics = db.session.execute(select(Topic.slug, Topic.name))
    return {
        "jurisdiction": {code: f"{code} · {name}" for code, name in jurisdictions},
        "topic": {str(slug): str(name) for slug, name in topics},
        "kind": {kind: f"{label}s" for kind, label in KIND_LABELS.items()},
    }


def _vocabulary(index: SearchIndex) -> Vocabulary:
    """Aliases and places for the parser, rebuilt whenever the index changes."""
    state = current_app.extensions.setdefault(EXTENSION, {})
    key = index.generation_key()
    cached = state.get("vocabulary")
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    jurisdictions = dict(db.session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    vocabulary = Vocabulary.build(
        analyse, aliases=index.instrument_names(), jurisdictions=jurisdictions
    )
    state["vocabulary"] = (key, vocabulary)
    return vocabulary


# -- keeping the index in step ---------------------------------------------------------------


def all_documents() -> Iterator[SearchDocument]:
    """Every searchable row as an index document, read in batches."""
    regulations = select(Regulation).options(
        selectinload(Regulation.jurisdiction).selectinload(Jurisdiction.parent),
        selectinload(Regulation.regulator),
        selectinload(Regulation.topics),
    )
    for regulation in db.session.scalars(regulations.order_by(Regulation.id)):
        yield documents.regulation_document(regulation)
    ids = list(db.session.scalars(select(Obligation.id).order_by(Obligation.id)))
    for start in range(0, len(ids), BATCH):
        batch = select(Obligation).where(Obligation.id.in_(ids[start : start + BATCH]))
        batch = batch.options(
            selectinload(Obligation.regulation).selectinload(Regulation.jurisdiction),
            selectinload(Obligation.topics),
        )
        for obligation in db.session.scalars(batch.order_by(Obligation.id)):
            yield documents.obligation_document(obligation)
        db.session.expunge_all()  # keep memory flat on a large catalogue
    for control in db.session.scalars(select(Control).order_by(Control.id)):
        yield documents.control_document(control)


def count_documents() -> int:
    """How many documents a rebuild writes (for its progress bar)."""
    models = (Regulation.id, Obligation.id, Control.id)
    return sum(db.session.scalar(select(func.count(column))) or 0 for column in models)


def rebuild_index(on_document: Callable[[SearchDocument], None] | None = None) -> int:
    """Recreate the index from the database; searches go on against the old one meanwhile."""
    index = search_index()
    started = utcnow() - timedelta(seconds=1)  # clocks of other writers may lag a little
    written = index.rebuild(all_documents(), procs=_rebuild_procs(), on_document=on_document)
    # Rows written while the new index was being built went to the old one: bring them over.
    changed: list[Control | Obligation | Regulation] = []
    for model in (Regulation, Obligation, Control):
        changed += db.session.scalars(select(model).where(model.updated_at >= started))
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


def index_rows(rows: Iterable[Control | Obligation | Regulation]) -> None:
    """Update the index for rows just committed; a failure is logged, never raised.

    The user's write has already succeeded; a busy or broken index must not undo it or turn
    it into an error page. `flask search check --repair` (run nightly) brings the index back.
    """
    builders: dict[type, Callable[[Any], SearchDocument]] = {
        Control: documents.control_document,
        Obligation: documents.obligation_document,
        Regulation: documents.regulation_document,
    }
    try:
        changed = [builders[type(row)](row) for row in rows]
        search_index().apply(changed, [], timeout=_write_timeout())
    except IndexBusy as error:
        log.warning("search index not updated (%s); the nightly check will repair it", error)
    except Exception:
        log.exception("search index not updated; run `flask search check --repair`")


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
