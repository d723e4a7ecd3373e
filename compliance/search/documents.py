"""What the index holds for each instrument, obligation and control: model in, document out.

Pure: reads the rows it is given and nothing else. The content hash covers every field, so
`flask search check` can tell a stale document from a current one without rebuilding it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from compliance.search.citations import ref_atoms

if TYPE_CHECKING:
    from compliance.catalogue.models import Jurisdiction, Obligation, Regulation
    from compliance.mapping.models import Control

KINDS = ("regulation", "obligation", "control")
KIND_LABELS = {"regulation": "Instrument", "obligation": "Obligation", "control": "Control"}


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
        canonical = json.dumps(asdict(self), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


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
