"""Read the catalogue: filtered, sorted, paged lists and single records for pages and the API.

Writes to the catalogue go through compliance.catalogue.loader (files are the source).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import selectinload

from compliance.catalogue.models import (
    LEVELS,
    STATUSES,
    Jurisdiction,
    Obligation,
    Regulation,
    Topic,
    obligation_topics,
    regulation_topics,
)
from compliance.errors import Invalid, NotFound
from compliance.extensions import db
from compliance.mapping.models import Control, ControlMapping


@dataclass(frozen=True)
class CatalogueFilter:
    """Filters shared by the browse pages and the API; empty means "any"."""

    jurisdiction: str = ""  # a code; includes the jurisdictions below it (US covers US-CA)
    level: str = ""
    topic: str = ""
    status: str = ""
    text: str = ""  # words matched in titles, citations, aliases and summaries
    include_retired: bool = False
    problems: list[str] = field(default_factory=list, compare=False)

    @classmethod
    def from_args(cls, args: Any) -> CatalogueFilter:
        """Build from query arguments, refusing unknown values with a clear message."""
        values = {
            "jurisdiction": (args.get("jurisdiction") or "").strip().upper(),
            "level": (args.get("level") or "").strip().lower(),
            "topic": (args.get("topic") or "").strip().lower(),
            "status": (args.get("status") or "").strip().lower(),
            "text": (args.get("q") or "").strip()[:200],
        }
        problems = []
        if values["level"] and values["level"] not in LEVELS:
            problems.append(f"level must be one of: {', '.join(LEVELS)}")
        if values["status"] and values["status"] not in STATUSES:
            problems.append(f"status must be one of: {', '.join(STATUSES)}")
        if problems:
            raise Invalid("Unknown filter value: " + "; ".join(problems) + ".", details=problems)
        retired = str(args.get("retired", "")).lower() in ("1", "true", "yes", "on")
        return cls(
            jurisdiction=values["jurisdiction"],
            level=values["level"],
            topic=values["topic"],
            status=values["status"],
            text=values["text"],
            include_retired=retired,
        )

    def as_args(self) -> dict[str, str]:
        names = ("jurisdiction", "level", "topic", "status")
        args = {name: getattr(self, name) for name in names if getattr(self, name)}
        if self.text:
            args["q"] = self.text
        return args


def _jurisdiction_ids(code: str) -> list[int]:
    """The jurisdiction with this code and every jurisdiction below it."""
    rows = db.session.execute(select(Jurisdiction.id, Jurisdiction.parent_id, Jurisdiction.code))
    children: dict[int | None, list[int]] = {}
    root = None
    for row_id, parent_id, row_code in rows:
        children.setdefault(parent_id, []).append(row_id)
        if row_code == code:
            root = row_id
    if root is None:
        raise NotFound(f"Unknown jurisdiction '{code}'.")
    found, queue = [], [root]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _filter_regulations(query: Select[Any], filters: CatalogueFilter) -> Select[Any]:
    if filters.jurisdiction:
        query = query.where(Regulation.jurisdiction_id.in_(_jurisdiction_ids(filters.jurisdiction)))
    if filters.level:
        query = query.where(Regulation.jurisdiction.has(Jurisdiction.level == filters.level))
    if filters.status:
        query = query.where(Regulation.status == filters.status)
    if not filters.include_retired:
        query = query.where(Regulation.retired_at.is_(None))
    return query


REGULATION_SORTS = {
    "title": Regulation.short_title,
    "jurisdiction": Jurisdiction.code,
    "status": Regulation.status,
    "type": Regulation.instrument_type,
    "applies_from": func.coalesce(Regulation.applies_from_on, Regulation.in_force_on),
    "updated": Regulation.updated_at,
}


def regulations_query(
    filters: CatalogueFilter, *, sort: str = "jurisdiction", direction: str = "asc"
) -> Select[Regulation]:
    """Instruments matching filters, sorted by a REGULATION_SORTS key."""
    query = select(Regulation).join(Regulation.jurisdiction)
    query = _filter_regulations(query, filters)
    if filters.topic:
        query = query.where(
            Regulation.id.in_(
                select(regulation_topics.c.regulation_id)
                .join(Topic, Topic.id == regulation_topics.c.topic_id)
                .where(Topic.slug == filters.topic)
            )
        )
    if filters.text:
        pattern = _like(filters.text)
        query = query.where(
            or_(
                func.lower(Regulation.title).like(pattern, escape="\\"),
                func.lower(Regulation.short_title).like(pattern, escape="\\"),
                func.lower(Regulation.citation).like(pattern, escape="\\"),
            )
        )
    column = REGULATION_SORTS.get(sort, Jurisdiction.code)
    ordering = column.desc() if direction == "desc" else column.asc()
    return query.order_by(ordering, Regulation.short_title).options(
        selectinload(Regulation.jurisdiction), selectinload(Regulation.topics)
    )


OBLIGATION_SORTS = {
    "regulation": Regulation.short_title,
    "ref": Obligation.position,
    "title": Obligation.title,
    "jurisdiction": Jurisdiction.code,
    "effective": func.coalesce(
        Obligation.effective_on, Regulation.applies_from_on, Regulation.in_force_on
    ),
}


def obligations_query(
    filters: CatalogueFilter, *, sort: str = "regulation", direction: str = "asc"
) -> Select[Obligation]:
    """Obligations matching filters (topic matches the obligation's own topics)."""
    query = select(Obligation).join(Obligation.regulation).join(Regulation.jurisdiction)
    query = _filter_regulations(query, filters)
    if not filters.include_retired:
        query = query.where(Obligation.retired_at.is_(None))
    if filters.topic:
        query = query.where(
            Obligation.id.in_(
                select(obligation_topics.c.obligation_id)
                .join(Topic, Topic.id == obligation_topics.c.topic_id)
                .where(Topic.slug == filters.topic)
            )
        )
    if filters.text:
        for word in filters.text.split()[:8]:
            pattern = _like(word)
            query = query.where(
                or_(
                    func.lower(Obligation.title).like(pattern, escape="\\"),
                    func.lower(Obligation.summary).like(pattern, escape="\\"),
                    func.lower(Obligation.ref).like(pattern, escape="\\"),
                    func.lower(Regulation.short_title).like(pattern, escape="\\"),
                    func.lower(Regulation.citation).like(pattern, escape="\\"),
                )
            )
    column = OBLIGATION_SORTS.get(sort, Regulation.short_title)
    ordering = column.desc() if direction == "desc" else column.asc()
    return query.order_by(ordering, Regulation.short_title, Obligation.position).options(
        selectinload(Obligation.regulation).selectinload(Regulation.jurisdiction),
        selectinload(Obligation.mappings),
    )


def get_regulation(slug: str) -> Regulation:
    regulation = db.session.scalar(
        select(Regulation)
        .filter_by(slug=slug)
        .options(
            selectinload(Regulation.obligations)
            .selectinload(Obligation.mappings)
            .selectinload(ControlMapping.control),
            selectinload(Regulation.obligations).selectinload(Obligation.topics),
            selectinload(Regulation.topics),
        )
    )
    if not isinstance(regulation, Regulation):
        raise NotFound(f"No instrument '{slug}' in the catalogue.")
    return regulation


def get_obligation(obligation_id: int) -> Obligation:
    obligation = db.session.get(Obligation, obligation_id)
    if obligation is None:
        raise NotFound("No such obligation.")
    return obligation


def facet_choices() -> dict[str, list[tuple[str, str]]]:
    """Values for the filter menus: (value, label) per facet."""
    jurisdictions = db.session.scalars(select(Jurisdiction).order_by(Jurisdiction.code))
    topics = db.session.scalars(select(Topic).order_by(Topic.name))
    return {
        "jurisdiction": [(j.code, f"{j.code} · {j.name}") for j in jurisdictions],
        "level": [(level, level.title()) for level in LEVELS],
        "topic": [(t.slug, t.name) for t in topics],
        "status": [(status, status.replace("-", " ")) for status in STATUSES],
    }


def catalogue_counts() -> dict[str, int]:
    """How big the live catalogue is."""
    live_regulations = select(func.count(Regulation.id)).where(Regulation.retired_at.is_(None))
    live_obligations = select(func.count(Obligation.id)).where(Obligation.retired_at.is_(None))
    return {
        "regulations": db.session.scalar(live_regulations) or 0,
        "obligations": db.session.scalar(live_obligations) or 0,
        "jurisdictions": db.session.scalar(select(func.count(Jurisdiction.id))) or 0,
    }


# -- page reads: facet counts, coverage per instrument, mapped controls, conditions in words --


def facet_counts(
    kind: Literal["regulations", "obligations"] = "regulations",
) -> dict[str, dict[str, int]]:
    """How many live instruments, or with kind "obligations" obligations, each filter value has.

    A jurisdiction's count includes the jurisdictions below it, as its filter does.
    """
    of_obligations = kind == "obligations"
    counted = Obligation.id if of_obligations else Regulation.id

    def grouped(column: Any, *joins: tuple[Any, Any]) -> dict[Any, int]:
        query = (
            select(column, func.count(counted))
            .select_from(Regulation)
            .join(Regulation.jurisdiction)
            .where(Regulation.retired_at.is_(None))
        )
        if of_obligations:
            query = query.join(Obligation, Obligation.regulation_id == Regulation.id).where(
                Obligation.retired_at.is_(None)
            )
        for target, condition in joins:
            query = query.join(target, condition)
        return {row[0]: row[1] for row in db.session.execute(query.group_by(column))}

    link = obligation_topics if of_obligations else regulation_topics
    owner = link.c.obligation_id if of_obligations else link.c.regulation_id
    return {
        "jurisdiction": _rolled_up(grouped(Jurisdiction.id)),
        "level": grouped(Jurisdiction.level),
        "status": grouped(Regulation.status),
        "topic": grouped(
            Topic.slug, (link, owner == counted), (Topic, Topic.id == link.c.topic_id)
        ),
    }


def _rolled_up(direct: dict[int, int]) -> dict[str, int]:
    """Add each jurisdiction's count to every jurisdiction above it; key the totals by code."""
    rows = db.session.execute(select(Jurisdiction.id, Jurisdiction.parent_id, Jurisdiction.code))
    parents, codes = {}, {}
    for row_id, parent_id, code in rows:
        parents[row_id], codes[row_id] = parent_id, code
    totals: dict[str, int] = {}
    for row_id, count in direct.items():
        current: int | None = row_id
        seen: set[int] = set()
        while current is not None and current not in seen:  # bad data must not loop forever
            seen.add(current)
            totals[codes[current]] = totals.get(codes[current], 0) + count
            current = parents.get(current)
    return totals


def coverage_percent(part: int, whole: int) -> int | None:
    """part of whole in whole percent, rounded half up; None when there is nothing to cover."""
    if whole <= 0:
        return None
    return (200 * part + whole) // (2 * whole)


@dataclass(frozen=True)
class InstrumentCoverage:
    """How far an instrument's obligations are served by mapped controls."""

    obligations: int  # live ones; for a retired instrument, all it had
    needing_control: int  # those without a no-control reason
    mapped: int  # of those, how many have at least one mapping (any state)

    @property
    def percent(self) -> int | None:
        return coverage_percent(self.mapped, self.needing_control)


def instrument_coverage(regulation_ids: Collection[int]) -> dict[int, InstrumentCoverage]:
    """Obligation counts and mapping coverage of the given instruments, in one grouped query."""
    if not regulation_ids:
        return {}
    needs_control = Obligation.no_control_reason == ""
    is_mapped = Obligation.id.in_(select(ControlMapping.obligation_id))
    query = (
        select(
            Obligation.regulation_id,
            func.count(Obligation.id),
            func.sum(case((needs_control, 1), else_=0)),
            func.sum(case((and_(needs_control, is_mapped), 1), else_=0)),
        )
        .join(Obligation.regulation)
        .where(
            Obligation.regulation_id.in_(list(regulation_ids)),
            or_(Obligation.retired_at.is_(None), Regulation.retired_at.is_not(None)),
        )
        .group_by(Obligation.regulation_id)
    )
    return {
        regulation_id: InstrumentCoverage(int(total), int(needing or 0), int(mapped or 0))
        for regulation_id, total, needing, mapped in db.session.execute(query)
    }


def obligation_mappings(obligation_id: int) -> list[ControlMapping]:
    """The mappings of one obligation with their controls and approvers, by control code."""
    query = (
        select(ControlMapping)
        .join(ControlMapping.control)
        .where(ControlMapping.obligation_id == obligation_id)
        .order_by(Control.code)
        .options(
            selectinload(ControlMapping.control),
            selectinload(ControlMapping.approved_by),
            selectinload(ControlMapping.created_by),
        )
    )
    return list(db.session.scalars(query))


class Condition(NamedTuple):
    label: str
    text: str


_CHILD_ACCESS_WORDS = {
    "directed": "the service is directed at children",
    "likely": "children are likely to use the service",
    "known": "the service knows it has child users",
}
# Vocabulary terms whose hyphenated form reads badly (compliance/catalogue/schema.py).
_TERM_WORDS = {
    "e2ee": "end-to-end encryption",
    "ai-service": "AI service",
    "generative-ai": "generative AI",
    "ads-intermediary": "advertising intermediary",
    "user-to-user": "user-to-user service",
    "search": "search engine",
}


def _listed(terms: list[str], conjunction: str) -> str:
    words = [_TERM_WORDS.get(term, term.replace("-", " ")) for term in terms]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def describe_applicability(conditions: Mapping[str, Any] | None) -> list[Condition]:
    """Say an applies_when dict in plain words: one labelled line per condition."""
    conditions = conditions or {}
    lines = []
    if conditions.get("service"):
        lines.append(Condition("Service kind", _listed(conditions["service"], "or")))
    for code, threshold in sorted((conditions.get("users") or {}).items()):
        if "at_least" in threshold:
            lines.append(Condition("Users", f"{code} ≥ {threshold['at_least']:,} monthly users"))
        elif "below" in threshold:
            lines.append(Condition("Users", f"{code} < {threshold['below']:,} monthly users"))
    if conditions.get("children"):
        child_access = str(conditions["children"])
        lines.append(Condition("Children", _CHILD_ACCESS_WORDS.get(child_access, child_access)))
    if conditions.get("features"):
        lines.append(Condition("Features", _listed(conditions["features"], "or")))
    if conditions.get("company_size_exempt"):
        sizes = _listed(conditions["company_size_exempt"], "and")
        lines.append(Condition("Exempt", f"{sizes} companies"))
    if conditions.get("judgement"):
        lines.append(Condition("Needs judgement", str(conditions["judgement"])))
    return lines
