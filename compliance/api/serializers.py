"""Turn catalogue and mapping rows into the JSON shapes compliance.api.openapi documents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_sqlalchemy.pagination import Pagination

from compliance.catalogue.models import Obligation, Regulation
from compliance.mapping.models import Control, ControlMapping


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def page_envelope(pagination: Pagination, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": items,
        "page": pagination.page,
        "per_page": pagination.per_page,
        "total": pagination.total or 0,
        "pages": pagination.pages,
    }


def regulation_summary(regulation: Regulation) -> dict[str, Any]:
    return {
        "slug": regulation.slug,
        "title": regulation.title,
        "short_title": regulation.short_title,
        "citation": regulation.citation,
        "jurisdiction": regulation.jurisdiction.code,
        "level": regulation.jurisdiction.level,
        "instrument_type": regulation.instrument_type,
        "status": regulation.status,
        "adopted_on": _iso(regulation.adopted_on),
        "in_force_on": _iso(regulation.in_force_on),
        "applies_from_on": _iso(regulation.applies_from_on),
        "topics": [topic.slug for topic in regulation.topics],
        "url": regulation.url,
        "retired_at": _iso(regulation.retired_at),
    }


def regulation_detail(regulation: Regulation) -> dict[str, Any]:
    regulator = regulation.regulator
    return {
        **regulation_summary(regulation),
        "status_note": regulation.status_note,
        "summary": regulation.summary,
        "max_penalty": regulation.max_penalty,
        "aliases": list(regulation.aliases),
        "applies_when": regulation.applies_when,
        "regulator": (
            {"slug": regulator.slug, "name": regulator.name, "url": regulator.url}
            if regulator is not None
            else None
        ),
        "parent": regulation.parent.slug if regulation.parent is not None else None,
        "implementing": sorted(child.slug for child in regulation.children),
        "updated_at": _iso(regulation.updated_at),
        "obligations": [obligation_summary(o) for o in regulation.obligations],
    }


def obligation_summary(obligation: Obligation) -> dict[str, Any]:
    return {
        "id": obligation.id,
        "key": obligation.key,
        "ref": obligation.ref,
        "title": obligation.title,
        "summary": obligation.summary,
        "duty": obligation.duty,
        "topics": [topic.slug for topic in obligation.topics],
        "effective_on": _iso(obligation.effective_on),
        "applies_when": obligation.applies_when,
        "threshold": obligation.threshold,
        "source_url": obligation.source_url,
        "retired_at": _iso(obligation.retired_at),
        "mapped_controls": len(obligation.mappings),
    }


def obligation_detail(obligation: Obligation, *, team: str | None) -> dict[str, Any]:
    """The obligation with its mappings; with a team, only mappings to that team's controls."""
    regulation = obligation.regulation
    mappings = [m for m in obligation.mappings if team is None or m.control.owner_team == team]
    return {
        **obligation_summary(obligation),
        "path": obligation.path,
        "applies_from": _iso(obligation.applies_from),
        "no_control_reason": obligation.no_control_reason,
        "regulation": {
            "slug": regulation.slug,
            "short_title": regulation.short_title,
            "jurisdiction": regulation.jurisdiction.code,
        },
        "mappings": [mapping_dict(m) for m in sorted(mappings, key=_by_control)],
    }


def _by_control(mapping: ControlMapping) -> str:
    return mapping.control.code


def _by_obligation(mapping: ControlMapping) -> tuple[str, int]:
    return (mapping.obligation.regulation.slug, mapping.obligation.position)


def mapping_dict(mapping: ControlMapping) -> dict[str, Any]:
    obligation, control = mapping.obligation, mapping.control
    return {
        "id": mapping.id,
        "obligation": {
            "id": obligation.id,
            "path": obligation.path,
            "ref": obligation.ref,
            "title": obligation.title,
        },
        "control": {"id": control.id, "code": control.code, "title": control.title},
        "relationship": mapping.relationship_type,
        "strength": mapping.strength,
        "rationale_type": mapping.rationale_type,
        "coverage": mapping.coverage,
        "note": mapping.note,
        "state": mapping.state,
        "created_by": mapping.created_by.email if mapping.created_by is not None else None,
        "approved_by": mapping.approved_by.email if mapping.approved_by is not None else None,
        "approved_at": _iso(mapping.approved_at),
        "created_at": _iso(mapping.created_at),
        "updated_at": _iso(mapping.updated_at),
    }


def control_summary(control: Control) -> dict[str, Any]:
    return {
        "id": control.id,
        "code": control.code,
        "title": control.title,
        "description": control.description,
        "domain": control.domain,
        "owner_team": control.owner_team,
        "status": control.status,
        "review_interval_days": control.review_interval_days,
        "last_reviewed_on": _iso(control.last_reviewed_on),
        "evidence_links": list(control.evidence_links),
        "retired_at": _iso(control.retired_at),
    }


def control_detail(control: Control) -> dict[str, Any]:
    mappings = sorted(control.mappings, key=_by_obligation)
    return {**control_summary(control), "mappings": [mapping_dict(m) for m in mappings]}
