"""Use cases for internal controls and their mappings to obligations."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from compliance import signals
from compliance.audit.services import Actor, record
from compliance.catalogue.models import Obligation, Regulation
from compliance.catalogue.services import CatalogueFilter, obligations_query
from compliance.clock import utcnow
from compliance.database import begin_write
from compliance.errors import Conflict, Invalid, NotFound
from compliance.extensions import db
from compliance.mapping.models import (
    CONTROL_DOMAINS,
    CONTROL_STATUSES,
    COVERAGES,
    MAPPING_STATES,
    RATIONALE_TYPES,
    RELATIONSHIPS,
    Control,
    ControlMapping,
)

MAX_EVIDENCE_LINKS = 50


@dataclass(frozen=True)
class ControlInput:
    code: str
    title: str
    description: str
    domain: str
    owner_team: str
    status: str
    review_interval_days: int
    last_reviewed_on: date | None = None


@dataclass(frozen=True)
class MappingInput:
    relationship_type: str
    strength: int
    rationale_type: str
    coverage: str
    note: str = ""


def _choice_problems(values: dict[str, Any], choices: dict[str, tuple[str, ...]]) -> list[str]:
    return [
        f"{name.replace('_', ' ')} must be one of: {', '.join(allowed)}"
        for name, allowed in choices.items()
        if values[name] not in allowed
    ]


def _check_control(data: ControlInput) -> None:
    problems = _choice_problems(
        {"domain": data.domain, "status": data.status},
        {"domain": CONTROL_DOMAINS, "status": CONTROL_STATUSES},
    )
    if not data.code.strip():
        problems.append("code is required")
    if not data.title.strip():
        problems.append("title is required")
    if not data.owner_team.strip():
        problems.append("owner team is required")
    if not 1 <= data.review_interval_days <= 3650:
        problems.append("review interval must be between 1 and 3650 days")
    if problems:
        raise Invalid("The control is not valid: " + "; ".join(problems) + ".", details=problems)


def evidence_link_problems(links: list[str]) -> list[str]:
    """Why evidence links are unusable: each must be an absolute http(s) address."""
    problems = []
    if len(links) > MAX_EVIDENCE_LINKS:
        problems.append(f"at most {MAX_EVIDENCE_LINKS} evidence links")
    for link in links:
        parts = urlsplit(link)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            problems.append(f"{link} is not an http:// or https:// address")
        elif len(link) > 500 or any(char.isspace() for char in link):
            problems.append(f"{link[:60]} is too long or contains spaces")
    return problems


def _check_evidence(links: list[str] | None) -> None:
    problems = evidence_link_problems(links) if links is not None else []
    if problems:
        raise Invalid(
            "The evidence links are not valid: " + "; ".join(problems) + ".", details=problems
        )


def _check_mapping(data: MappingInput) -> None:
    problems = _choice_problems(
        {
            "relationship_type": data.relationship_type,
            "rationale_type": data.rationale_type,
            "coverage": data.coverage,
        },
        {
            "relationship_type": RELATIONSHIPS,
            "rationale_type": RATIONALE_TYPES,
            "coverage": COVERAGES,
        },
    )
    if not isinstance(data.strength, int) or not 1 <= data.strength <= 10:
        problems.append("strength must be a whole number from 1 to 10")
    if problems:
        raise Invalid("The mapping is not valid: " + "; ".join(problems) + ".", details=problems)


def control_snapshot(control: Control) -> dict[str, Any]:
    names = [f.name for f in fields(ControlInput)]
    return {name: getattr(control, name) for name in names}


def _control_state(control: Control) -> dict[str, Any]:
    """What the audit trail records of a control: its fields and its evidence links."""
    return {**control_snapshot(control), "evidence_links": list(control.evidence_links or [])}


def mapping_snapshot(mapping: ControlMapping) -> dict[str, Any]:
    return {
        "obligation": mapping.obligation.path,
        "control": mapping.control.code,
        **{f.name: getattr(mapping, f.name) for f in fields(MappingInput)},
        "state": mapping.state,
    }


def create_control(data: ControlInput, *, actor: Actor) -> Control:
    """Add an internal control; codes are unique."""
    return _create_control(data, None, actor)


def create_control_with_evidence(
    data: ControlInput, *, evidence_links: list[str], actor: Actor
) -> Control:
    """Add an internal control together with its evidence links (http(s) addresses)."""
    return _create_control(data, evidence_links, actor)


def _create_control(data: ControlInput, evidence_links: list[str] | None, actor: Actor) -> Control:
    data = ControlInput(**{**data.__dict__, "code": data.code.strip().upper()})
    _check_control(data)
    _check_evidence(evidence_links)
    begin_write()
    if db.session.scalar(select(Control.id).filter_by(code=data.code)) is not None:
        db.session.rollback()
        raise Conflict(f"A control with code {data.code} already exists.")
    control = Control(**data.__dict__)
    if evidence_links is not None:
        control.evidence_links = list(evidence_links)
    db.session.add(control)
    db.session.flush()
    record(
        actor,
        "control.created",
        "control",
        control.code,
        summary=control.title,
        after=_control_state(control),
    )
    db.session.commit()
    signals.control_changed.send(control, action="created")
    return control


def update_control(control_id: int, data: ControlInput, *, actor: Actor) -> Control:
    """Change a control's fields; its code cannot change (exports and mappings cite it)."""
    return _update_control(control_id, data, None, actor)


def update_control_with_evidence(
    control_id: int, data: ControlInput, *, evidence_links: list[str], actor: Actor
) -> Control:
    """Change a control's fields and replace its evidence links."""
    return _update_control(control_id, data, evidence_links, actor)


def _update_control(
    control_id: int, data: ControlInput, evidence_links: list[str] | None, actor: Actor
) -> Control:
    _check_control(data)
    _check_evidence(evidence_links)
    begin_write()
    control = db.session.get(Control, control_id)
    if control is None:
        db.session.rollback()
        raise NotFound("No such control.")
    before = _control_state(control)
    for name, value in data.__dict__.items():
        if name != "code":
            setattr(control, name, value)
    if evidence_links is not None:
        control.evidence_links = list(evidence_links)  # a new list: JSON columns track assignment
    after = _control_state(control)
    if after == before:
        db.session.rollback()
        return control
    record(
        actor,
        "control.updated",
        "control",
        control.code,
        summary=control.title,
        before=before,
        after=after,
    )
    db.session.commit()
    signals.control_changed.send(control, action="updated")
    return control


def set_control_retired(control_id: int, retired: bool, *, actor: Actor) -> Control:
    """Retire a control (kept with its mappings, flagged) or bring it back."""
    begin_write()
    control = db.session.get(Control, control_id)
    if control is None:
        db.session.rollback()
        raise NotFound("No such control.")
    if (control.retired_at is not None) == retired:
        db.session.rollback()
        return control
    control.retired_at = utcnow() if retired else None
    action = "retired" if retired else "restored"
    record(actor, f"control.{action}", "control", control.code, summary=control.title)
    db.session.commit()
    signals.control_changed.send(control, action=action)
    return control


def map_control(
    obligation_id: int, control_id: int, data: MappingInput, *, actor: Actor
) -> ControlMapping:
    """Record that a control serves an obligation; each pair is mapped at most once."""
    _check_mapping(data)
    begin_write()
    obligation = db.session.get(Obligation, obligation_id)
    control = db.session.get(Control, control_id)
    if obligation is None or control is None:
        db.session.rollback()
        raise NotFound("No such obligation or control.")
    pair = {"obligation_id": obligation_id, "control_id": control_id}
    if db.session.scalar(select(ControlMapping.id).filter_by(**pair)) is not None:
        db.session.rollback()
        raise Conflict(
            f"{control.code} is already mapped to {obligation.regulation.short_title} "
            f"{obligation.ref}."
        )
    mapping = ControlMapping(
        obligation=obligation, control=control, created_by_id=actor.user_id, **data.__dict__
    )
    db.session.add(mapping)
    db.session.flush()
    record(
        actor,
        "mapping.created",
        "mapping",
        mapping.id,
        summary=f"{control.code} ↔ {obligation.path}",
        after=mapping_snapshot(mapping),
    )
    db.session.commit()
    signals.mapping_changed.send(mapping, action="created")
    return mapping


def _mapping_for_write(mapping_id: int) -> ControlMapping:
    begin_write()
    mapping = db.session.get(ControlMapping, mapping_id)
    if mapping is None:
        db.session.rollback()
        raise NotFound("No such mapping.")
    return mapping


def update_mapping(mapping_id: int, data: MappingInput, *, actor: Actor) -> ControlMapping:
    """Change how a control serves an obligation; an approved mapping goes back to proposed."""
    _check_mapping(data)
    mapping = _mapping_for_write(mapping_id)
    before = mapping_snapshot(mapping)
    for name, value in data.__dict__.items():
        setattr(mapping, name, value)
    if mapping_snapshot(mapping) == before:
        db.session.rollback()
        return mapping
    if mapping.state == "approved":
        # An approval vouches for the content that was approved, not for later edits.
        mapping.state, mapping.approved_by_id, mapping.approved_at = "proposed", None, None
    record(
        actor,
        "mapping.updated",
        "mapping",
        mapping.id,
        summary=f"{mapping.control.code} ↔ {mapping.obligation.path}",
        before=before,
        after=mapping_snapshot(mapping),
    )
    db.session.commit()
    signals.mapping_changed.send(mapping, action="updated")
    return mapping


def set_mapping_state(mapping_id: int, state: str, *, actor: Actor) -> ControlMapping:
    """Approve a proposed mapping, or send an approved one back to proposed."""
    if state not in MAPPING_STATES:
        raise Invalid(f"state must be one of: {', '.join(MAPPING_STATES)}")
    mapping = _mapping_for_write(mapping_id)
    if mapping.state == state:
        db.session.rollback()
        return mapping
    before = mapping_snapshot(mapping)
    mapping.state = state
    approved = state == "approved"
    mapping.approved_by_id = actor.user_id if approved else None
    mapping.approved_at = utcnow() if approved else None
    record(
        actor,
        f"mapping.{'approved' if approved else 'reopened'}",
        "mapping",
        mapping.id,
        summary=f"{mapping.control.code} ↔ {mapping.obligation.path}",
        before=before,
        after=mapping_snapshot(mapping),
    )
    db.session.commit()
    signals.mapping_changed.send(mapping, action=state)
    return mapping


def delete_mapping(mapping_id: int, *, actor: Actor) -> None:
    """Remove a mapping; the audit trail keeps what it was."""
    mapping = _mapping_for_write(mapping_id)
    before = mapping_snapshot(mapping)
    record(
        actor,
        "mapping.deleted",
        "mapping",
        mapping.id,
        summary=f"{mapping.control.code} ↔ {mapping.obligation.path}",
        before=before,
    )
    db.session.delete(mapping)
    db.session.commit()
    signals.mapping_changed.send(mapping, action="deleted")


# -- reads ------------------------------------------------------------------------------------

CONTROL_SORTS = {
    "code": Control.code,
    "title": Control.title,
    "domain": Control.domain,
    "owner": Control.owner_team,
    "status": Control.status,
    "reviewed": Control.last_reviewed_on,
}


def controls_query(
    *,
    team: str | None = None,
    domain: str = "",
    status: str = "",
    text: str = "",
    include_retired: bool = False,
    sort: str = "code",
    direction: str = "asc",
) -> Select[Control]:
    """Controls, optionally only one owner team's (what a manager may see)."""
    query = select(Control)
    if team is not None:
        query = query.where(Control.owner_team == team)
    if domain:
        query = query.where(Control.domain == domain)
    if status:
        query = query.where(Control.status == status)
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(func.lower(Control.code).like(pattern), func.lower(Control.title).like(pattern))
        )
    if not include_retired:
        query = query.where(Control.retired_at.is_(None))
    column = CONTROL_SORTS.get(sort, Control.code)
    return query.order_by(column.desc() if direction == "desc" else column.asc(), Control.code)


def get_control(control_id: int) -> Control:
    control = db.session.get(Control, control_id)
    if control is None:
        raise NotFound("No such control.")
    return control


def get_control_by_code(code: str) -> Control:
    control = db.session.scalar(select(Control).filter_by(code=code.strip().upper()))
    if not isinstance(control, Control):
        raise NotFound(f"No control with code {code}.")
    return control


def get_mapping(mapping_id: int) -> ControlMapping:
    mapping = db.session.get(ControlMapping, mapping_id)
    if mapping is None:
        raise NotFound("No such mapping.")
    return mapping


def owner_teams() -> list[str]:
    teams = select(Control.owner_team).distinct().order_by(Control.owner_team)
    return list(db.session.scalars(teams))


def unmapped_obligations_query() -> Select[Obligation]:
    """Live obligations that no control serves, except those marked as needing no control."""
    return (
        select(Obligation)
        .join(Obligation.regulation)
        .where(
            Obligation.retired_at.is_(None),
            Regulation.retired_at.is_(None),
            Obligation.no_control_reason == "",
            ~Obligation.mappings.any(),
        )
        .order_by(Regulation.short_title, Obligation.position)
    )


def orphan_controls_query() -> Select[Control]:
    """Live controls that serve no live obligation."""
    serving = (
        select(ControlMapping.control_id)
        .join(ControlMapping.obligation)
        .where(Obligation.retired_at.is_(None))
    )
    return (
        select(Control)
        .where(Control.retired_at.is_(None), Control.id.not_in(serving))
        .order_by(Control.code)
    )


# -- reads for the control, mapping and gap pages ---------------------------------------------


def review_due(control: Control, on: date) -> bool:
    """Whether a control's periodic review is overdue on a day (never reviewed counts)."""
    if control.last_reviewed_on is None:
        return True
    return control.last_reviewed_on + timedelta(days=control.review_interval_days) < on


def served_counts(control_ids: list[int]) -> dict[int, int]:
    """How many live obligations each control serves."""
    if not control_ids:
        return {}
    rows = db.session.execute(
        select(ControlMapping.control_id, func.count(ControlMapping.id))
        .join(ControlMapping.obligation)
        .where(ControlMapping.control_id.in_(control_ids), Obligation.retired_at.is_(None))
        .group_by(ControlMapping.control_id)
    )
    return {row[0]: row[1] for row in rows}


def control_mappings(control_id: int) -> list[ControlMapping]:
    """The obligations a control serves, in catalogue order."""
    return list(
        db.session.scalars(
            select(ControlMapping)
            .join(ControlMapping.obligation)
            .join(Obligation.regulation)
            .where(ControlMapping.control_id == control_id)
            .order_by(Regulation.short_title, Obligation.position)
            .options(selectinload(ControlMapping.obligation).selectinload(Obligation.regulation))
        )
    )


def live_controls() -> list[Control]:
    """Controls that can take new mappings."""
    return list(
        db.session.scalars(
            select(Control).where(Control.retired_at.is_(None)).order_by(Control.code)
        )
    )


def live_obligations(text: str = "") -> list[Obligation]:
    """Obligations that can take new mappings, in catalogue order; text narrows by words."""
    query = (
        select(Obligation)
        .join(Obligation.regulation)
        .where(Obligation.retired_at.is_(None), Regulation.retired_at.is_(None))
        .order_by(Regulation.short_title, Obligation.position)
        .options(selectinload(Obligation.regulation))
    )
    for word in text.lower().split()[:8]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        Obligation.ref,
                        Obligation.title,
                        Obligation.key,
                        Regulation.short_title,
                        Regulation.slug,
                    )
                )
            )
        )
    return list(db.session.scalars(query))


def obligation_gaps_query(
    jurisdiction: str = "", *, obligation_ids: Collection[int] | None = None
) -> Select[Obligation]:
    """Unmapped obligations, optionally only under a jurisdiction (and those below it).

    obligation_ids, when given, limits them further (e.g. to those that apply to a profile).
    """
    query = unmapped_obligations_query().options(
        selectinload(Obligation.regulation).selectinload(Regulation.jurisdiction)
    )
    if obligation_ids is not None:
        query = query.where(Obligation.id.in_(obligation_ids))
    if jurisdiction:
        # The catalogue's own filter knows the jurisdiction tree; NotFound names a bad code.
        within = obligations_query(CatalogueFilter(jurisdiction=jurisdiction)).subquery()
        query = query.where(Obligation.id.in_(select(within.c.id)))
    return query


def orphan_controls_of(team: str | None) -> Select[Control]:
    """Controls that serve nothing; with a team, only that team's."""
    query = orphan_controls_query()
    return query if team is None else query.where(Control.owner_team == team)
