"""Use cases for internal controls and their mappings to obligations."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import select

from compliance import signals
from compliance.audit.services import Actor, record
from compliance.catalogue.models import Obligation
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


def mapping_snapshot(mapping: ControlMapping) -> dict[str, Any]:
    return {
        "obligation": mapping.obligation.path,
        "control": mapping.control.code,
        **{f.name: getattr(mapping, f.name) for f in fields(MappingInput)},
        "state": mapping.state,
    }


def create_control(data: ControlInput, *, actor: Actor) -> Control:
    """Add an internal control; codes are unique."""
    data = ControlInput(**{**data.__dict__, "code": data.code.strip().upper()})
    _check_control(data)
    begin_write()
    if db.session.scalar(select(Control.id).filter_by(code=data.code)) is not None:
        db.session.rollback()
        raise Conflict(f"A control with code {data.code} already exists.")
    control = Control(**data.__dict__)
    db.session.add(control)
    db.session.flush()
    record(actor, "control.created", "control", control.code, summary=control.title,
           after=control_snapshot(control))
    db.session.commit()
    signals.control_changed.send(control, action="created")
    return control


def update_control(control_id: int, data: ControlInput, *, actor: Actor) -> Control:
    """Change a control's fields; its code cannot change (exports and mappings cite it)."""
    _check_control(data)
    begin_write()
    control = db.session.get(Control, control_id)
    if control is None:
        db.session.rollback()
        raise NotFound("No such control.")
    before = control_snapshot(control)
    for name, value in data.__dict__.items():
        if name != "code":
            setattr(control, name, value)
    after = control_snapshot(control)
    if after == before:
        db.session.rollback()
        return control
    record(actor, "control.updated", "control", control.code, summary=control.title,
           before=before, after=after)
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
    record(actor, "mapping.created", "mapping", mapping.id,
           summary=f"{control.code} ↔ {obligation.path}", after=mapping_snapshot(mapping))
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
    record(actor, "mapping.updated", "mapping", mapping.id,
           summary=f"{mapping.control.code} ↔ {mapping.obligation.path}",
           before=before, after=mapping_snapshot(mapping))
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
    record(actor, f"mapping.{'approved' if approved else 'reopened'}", "mapping", mapping.id,
           summary=f"{mapping.control.code} ↔ {mapping.obligation.path}",
           before=before, after=mapping_snapshot(mapping))
    db.session.commit()
    signals.mapping_changed.send(mapping, action=state)
    return mapping


def delete_mapping(mapping_id: int, *, actor: Actor) -> None:
    """Remove a mapping; the audit trail keeps what it was."""
    mapping = _mapping_for_write(mapping_id)
    before = mapping_snapshot(mapping)
    record(actor, "mapping.deleted", "mapping", mapping.id,
           summary=f"{mapping.control.code} ↔ {mapping.obligation.path}", before=before)
    db.session.delete(mapping)
    db.session.commit()
    signals.mapping_changed.send(mapping, action="deleted")
