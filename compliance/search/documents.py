"""What the index holds for each instrument, obligation, control, feed entry and change review.

Model in, document out.

Pure: reads the rows it is given and nothing else. The content hash covers every field, so
`flask search check` can tell a stale document from a current one without rebuilding it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from compliance.search.citations import ref_atoms

if TYPE_CHECKING:
    from collections.abc import Iterable

    from compliance.catalogue.models import Jurisdiction, Obligation, Regulation
    from compliance.feeds.models import FeedEntry
    from compliance.mapping.models import Control
    from compliance.reviews.models import ChangeReview

KINDS = ("regulation", "obligation", "control", "feed-entry", "review")
KIND_LABELS = {
    "regulation": "Instrument",
    "obligation": "Obligation",
    "control": "Control",
    "feed-entry": "Feed entry",
    "review": "Change review",
}
KIND_PLURALS = {
    "regulation": "Instruments",
    "obligation": "Obligations",
    "control": "Controls",
    "feed-entry": "Feed entries",
    "review": "Change reviews",
}


@dataclass(frozen=True)
class SearchDocument:
    """One searchable thing. Text fields are weighted title > names > body when ranked."""

    id: str  # "<kind>:<database id>"
    kind: str
    title: str
    names: str  # citation, ref, aliases, the instrument's names: how people refer to it
    body: str  # summary and the words around it
    cite: tuple[str, ...] = ()  # citation atoms (compliance.search.citations)
    regulation: str = ""  # the instrument's slug, for instruments and obligations
    jurisdiction: str = ""
    jurisdictions: tuple[str, ...] = ()  # its jurisdiction and every one above it
    level: str = ""
    topics: tuple[str, ...] = ()
    status: str = ""
    type: str = ""
    team: str = ""  # a control's owner team: who may find it (compliance/auth/roles.py)
    retired: bool = False
    # Shown with the hit, not searched.
    display: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        # The fields as dataclasses.asdict() gives them, without its deep copy of every value
        # (a fifth of a rebuild's main process): the same JSON, so the same hash.
        values = {name: getattr(self, name) for name in _FIELD_NAMES}
        canonical = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


_FIELD_NAMES = tuple(item.name for item in fields(SearchDocument))


def _chain(jurisdiction: Jurisdiction) -> tuple[str, ...]:
    codes: list[str] = []
    current: Jurisdiction | None = jurisdiction
    while current is not None and current.code not in codes:  # bad data must not loop
        codes.append(current.code)
        current = current.parent
    return tuple(codes)


def _join(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def regulation_document(regulation: Regulation) -> SearchDocument:
    jurisdiction = regulation.jurisdiction
    regulator = regulation.regulator
    topics = regulation.topics
    return SearchDocument(
        id=f"regulation:{regulation.id}",
        kind="regulation",
        title=_join(regulation.short_title, regulation.title),
        names=_join(regulation.citation, *regulation.aliases, regulation.slug),
        body=_join(
            regulation.summary,
            regulation.status_note,
            regulation.max_penalty,
            " ".join(topic.name for topic in topics),
            jurisdiction.name,
            regulator.name if regulator is not None else "",
        ),
        cite=(),
        regulation=regulation.slug,
        jurisdiction=jurisdiction.code,
        jurisdictions=_chain(jurisdiction),
        level=jurisdiction.level,
        topics=tuple(topic.slug for topic in topics),
        status=regulation.status,
        type=regulation.instrument_type,
        retired=regulation.retired_at is not None,
        display={
            "slug": regulation.slug,
            "ref": regulation.citation,
            "context": jurisdiction.name,
            "summary": regulation.summary,
            "aliases": list(regulation.aliases),
            "jurisdiction_name": jurisdiction.name,
        },
    )


def obligation_document(obligation: Obligation) -> SearchDocument:
    regulation = obligation.regulation
    jurisdiction = regulation.jurisdiction
    return SearchDocument(
        id=f"obligation:{obligation.id}",
        kind="obligation",
        title=obligation.title,
        names=_join(obligation.ref, regulation.short_title, *regulation.aliases),
        body=_join(
            obligation.summary,
            obligation.threshold,
            " ".join(topic.name for topic in obligation.topics),
            jurisdiction.name,
        ),
        cite=tuple(ref_atoms(obligation.ref)),
        regulation=regulation.slug,
        jurisdiction=jurisdiction.code,
        jurisdictions=_chain(jurisdiction),
        level=jurisdiction.level,
        topics=tuple(topic.slug for topic in obligation.topics),
        status=regulation.status,
        type=regulation.instrument_type,
        retired=obligation.retired_at is not None or regulation.retired_at is not None,
        display={
            "obligation_id": obligation.id,
            "slug": regulation.slug,
            "path": f"{regulation.slug}/{obligation.key}",
            "ref": obligation.ref,
            "context": regulation.short_title,
            "summary": obligation.summary,
            "duty": obligation.duty,
        },
    )


def control_document(control: Control) -> SearchDocument:
    return SearchDocument(
        id=f"control:{control.id}",
        kind="control",
        title=_join(control.code, control.title),
        names=control.code,
        body=_join(control.description, control.domain.replace("-", " "), control.owner_team),
        topics=(control.domain,),
        status=control.status,
        team=control.owner_team,
        retired=control.retired_at is not None,
        display={
            "control_id": control.id,
            "ref": control.code,
            "context": control.owner_team,
            "summary": control.description,
        },
    )


# -- regulatory changes: feed entries and the reviews opened for them --------------------------


@dataclass(frozen=True)
class _Concerns:
    """Where and what a change is about: its feed's jurisdiction and its matched instruments."""

    jurisdiction: str
    jurisdictions: tuple[str, ...]
    level: str
    topics: tuple[str, ...]
    instruments: tuple[str, ...]  # short titles, as people name the laws


def _concerns(entry: FeedEntry, instruments: Iterable[Regulation]) -> _Concerns:
    places: list[Jurisdiction] = []
    if entry.source.jurisdiction is not None:
        places.append(entry.source.jurisdiction)
    topics: dict[str, None] = {}
    names: dict[str, None] = {}
    for regulation in instruments:
        places.append(regulation.jurisdiction)
        topics.update(dict.fromkeys(topic.slug for topic in regulation.topics))
        names[regulation.short_title or regulation.title] = None
    codes: dict[str, None] = {}
    for place in places:
        codes.update(dict.fromkeys(_chain(place)))
    first = places[0] if places else None
    return _Concerns(
        jurisdiction=first.code if first is not None else "",
        jurisdictions=tuple(codes),
        level=first.level if first is not None else "",
        topics=tuple(topics),
        instruments=tuple(names),
    )


def feed_entry_document(entry: FeedEntry, instruments: Iterable[Regulation]) -> SearchDocument:
    """An entry a feed published; instruments are those it was matched to (above threshold)."""
    concerns = _concerns(entry, instruments)
    source = entry.source
    published = entry.published_at or entry.first_seen_at
    return SearchDocument(
        id=f"feed-entry:{entry.id}",
        kind="feed-entry",
        title=entry.title,
        names=_join(source.name, *concerns.instruments),
        body=_join(entry.summary_text, entry.link),
        jurisdiction=concerns.jurisdiction,
        jurisdictions=concerns.jurisdictions,
        level=concerns.level,
        topics=concerns.topics,
        display={
            "entry_id": entry.id,
            "ref": published.date().isoformat() if published is not None else "",
            "context": source.name,
            "summary": entry.summary_text,
            "link": entry.link,
        },
    )


def review_document(review: ChangeReview) -> SearchDocument:
    """A change review: its entry's words, the instruments it concerns, its state and decision."""
    entry = review.entry
    concerns = _concerns(entry, [match.regulation for match in review.matches])
    return SearchDocument(
        id=f"review:{review.id}",
        kind="review",
        title=entry.title,
        names=_join(*concerns.instruments),
        body=_join(entry.summary_text, review.decision_note, entry.source.name),
        jurisdiction=concerns.jurisdiction,
        jurisdictions=concerns.jurisdictions,
        level=concerns.level,
        topics=concerns.topics,
        status=review.state,
        display={
            "review_id": review.id,
            "entry_id": entry.id,
            "ref": f"Review {review.id}",
            "context": ", ".join(concerns.instruments) or entry.source.name,
            "summary": entry.summary_text,
            "state": review.state,
        },
    )
