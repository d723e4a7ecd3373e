"""Search use cases: query the index, keep it in step with the database, check and repair it.

The index is a derived cache (design.md, principle 1): the database is the truth. Searching
is here; keeping the index in step is in upkeep.py, and reached through this module, the
only one other domains call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import Any, TypeVar

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import select

from compliance.auth.roles import Permission, role_can
from compliance.catalogue.models import (
    INSTRUMENT_TYPES,
    LEVELS,
    STATUSES,
    Jurisdiction,
    Topic,
)
from compliance.errors import ComplianceError, Invalid
from compliance.extensions import db
from compliance.mapping.models import CONTROL_STATUSES
from compliance.reviews.models import STATES as REVIEW_STATES
from compliance.search.documents import KIND_LABELS, KIND_PLURALS, KINDS
from compliance.search.index import (
    FACET_FIELDS,
    Found,
    Hit,
    IndexUnavailable,
    Scope,
    SearchIndex,
    Segments,
    analyse,
)
from compliance.search.profiles import ProfileScope, profile_scope
from compliance.search.query import Query, Vocabulary, parse, with_corrections
from compliance.search.upkeep import (
    EXTENSION,
    IndexReport,
    all_documents,
    check_index,
    count_documents,
    index_rows,
    rebuild_index,
    reviews_of,
    search_index,
    sync_index,
)

__all__ = [  # what other domains, the CLI and the views call
    "IndexReport",
    "SearchRequest",
    "SearchResults",
    "SearchUnavailable",
    "all_documents",
    "check_index",
    "count_documents",
    "hidden_kinds",
    "index_rows",
    "rebuild_index",
    "reviews_of",
    "search",
    "search_index",
    "sync_index",
]

log = logging.getLogger(__name__)

MAX_PER_PAGE = 100
FACETS = tuple(FACET_FIELDS)
# Enumerated filters are checked; jurisdiction and topic are open vocabularies.
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "kind": KINDS,
    "level": LEVELS,
    "status": STATUSES + CONTROL_STATUSES + REVIEW_STATES,
    "type": INSTRUMENT_TYPES,
}
# A kind of document is found only by roles that may open its page (compliance/auth/roles.py).
KIND_PERMISSIONS: dict[str, tuple[Permission, ...]] = {
    "review": (Permission.READ_REVIEWS,),
    "feed-entry": (Permission.READ_FEEDS, Permission.READ_REVIEWS),
}


class SearchUnavailable(ComplianceError):
    status_code = 503


def hidden_kinds(role: str) -> tuple[str, ...]:
    """The kinds of document a role must never find: no hit, no count, no suggestion."""
    return tuple(
        kind
        for kind, needed in KIND_PERMISSIONS.items()
        if not all(role_can(role, permission) for permission in needed)
    )


# -- searching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    page: int = 1
    per_page: int = 25
    include_retired: bool = False
    profile: int | None = None  # a service profile: only the obligations that concern it

    @classmethod
    def from_args(cls, args: Any, *, per_page: int) -> SearchRequest:
        """Read ?q=&jurisdiction=&level=&topic=&status=&type=&kind=&page=&per_page=&retired=
        &profile=.

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
        profile = _profile_id(args.get("profile"), problems)
        if problems:
            raise Invalid(
                "Unknown search parameter: " + "; ".join(problems) + ".", details=problems
            )
        retired = str(args.get("retired", "")).lower() in ("1", "true", "yes", "on")
        return cls(str(args.get("q") or ""), filters, page, size, retired, profile)

    def as_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {name: list(values) for name, values in self.filters.items()}
        if self.text:
            args["q"] = self.text
        if self.include_retired:
            args["retired"] = "1"
        if self.profile is not None:
            args["profile"] = str(self.profile)
        return args


def _profile_id(raw: Any, problems: list[str]) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) < 2**31:
        problems.append("profile must be the id of a service profile (a whole number)")
        return None
    return int(text)


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
    context: str  # an obligation's instrument, an instrument's jurisdiction, a team, a feed
    score: float
    title_html: Markup
    snippet_html: Markup
    stored: dict[str, Any]
    # With a profile: "applies" or "needs-judgement" for an obligation, else "".
    applicability: str = ""

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def link(self, api: bool = False) -> tuple[str, dict[str, Any]]:
        """The endpoint and arguments of this hit's page (or its API resource).

        A feed entry has no API resource of its own: the API links its web page.
        """
        stored = self.stored
        if self.kind == "obligation":
            endpoint = "api.obligation" if api else "catalogue.obligation"
            return endpoint, {"obligation_id": int(stored["obligation_id"])}
        if self.kind == "control":
            endpoint = "api.control" if api else "mapping.control"
            return endpoint, {"control_id": int(stored["control_id"])}
        if self.kind == "review":
            endpoint = "api.review" if api else "reviews.detail"
            return endpoint, {"review_id": int(stored["review_id"])}
        if self.kind == "feed-entry":
            return "feeds.entry", {"entry_id": int(stored["entry_id"])}
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
    profile: ProfileScope | None = None  # the service profile the obligations are limited to

    @property
    def pages(self) -> int:
        return ceil(self.total / self.request.per_page) if self.total else 0


def search(
    request: SearchRequest, *, team: str | None, hidden: tuple[str, ...] = ()
) -> SearchResults:
    """Search everything the asker may see; team=None sees every control, else only that team's.

    hidden names kinds of document the asker may not see at all (hidden_kinds(role)).

    Never fails on what was typed: unreadable syntax becomes words and a notice. Raises
    SearchUnavailable when the index itself cannot be read, and NotFound for an unknown
    service profile.
    """
    index = search_index()
    profile = profile_scope(request.profile) if request.profile is not None else None
    try:
        vocabulary = _vocabulary(index)
        query = parse(request.text, vocabulary)
        scope = _scope(request, query, team, hidden, profile)
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
        hits=[_hit(hit, profile) for hit in found.hits],
        total=found.total,
        facets=_facets(found, scope),
        notices=notices,
        suggestion=suggestion if suggestion != query.text else None,
        corrected_from=corrected_from,
        profile=profile,
    )


def _scope(
    request: SearchRequest,
    query: Query,
    team: str | None,
    hidden: tuple[str, ...],
    profile: ProfileScope | None,
) -> Scope:
    filters = {name: list(values) for name, values in request.filters.items()}
    for name, values in query.filters.items():
        filters.setdefault(name, []).extend(values)
    return Scope(
        filters={name: tuple(dict.fromkeys(values)) for name, values in filters.items()},
        team=team,
        include_retired=request.include_retired,
        hidden_kinds=hidden,
        limits={"obligation": profile.document_ids} if profile is not None else {},
    )


def highlight_html(segments: Segments) -> Markup:
    """Escaped text with the matched words in <mark>."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(text) if matched else escape(text)
        for text, matched in segments
    )


def _hit(hit: Hit, profile: ProfileScope | None = None) -> SearchHit:
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
        applicability=(
            profile.outcome(int(stored["obligation_id"]))
            if profile is not None and stored.get("obligation_id") is not None
            else ""
        ),
    )


def _facets(found: Found, scope: Scope) -> dict[str, list[FacetValue]]:
    labels = _cached("labels", _labels)
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
        "kind": dict(KIND_PLURALS),
    }


def _vocabulary(index: SearchIndex) -> Vocabulary:
    """Aliases and places for the parser, rebuilt when an instrument's document changes."""
    state = current_app.extensions.setdefault(EXTENSION, {})
    version, names = index.instrument_names()
    cached = state.get("vocabulary")
    if cached is not None and cached[0] == version:
        return cached[1]  # type: ignore[no-any-return]
    jurisdictions = dict(db.session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    vocabulary = Vocabulary.build(analyse, aliases=names, jurisdictions=jurisdictions)
    state["vocabulary"] = (version, vocabulary)
    return vocabulary


T = TypeVar("T")


def _cached(name: str, build: Callable[[], T]) -> T:
    """What build() returns, kept until the index next changes.

    Instrument, jurisdiction and topic names are written into the documents that carry them,
    so renaming one changes the index too. (A jurisdiction that only stands above others, with
    no instrument of its own, keeps its old facet label until the index next changes.)
    """
    state = current_app.extensions.setdefault(EXTENSION, {})
    key = search_index().generation_key()
    cached = state.get(name)
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    value = build()
    state[name] = (key, value)
    return value
