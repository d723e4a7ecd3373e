"""Turn catalogue and mapping rows into the JSON shapes compliance.api.openapi documents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_sqlalchemy.pagination import Pagination

from compliance.applicability.evaluation import Changes, Evaluation, Group, ObligationVerdict, Tally
from compliance.applicability.models import ServiceProfile
from compliance.catalogue.models import Obligation, Regulation
from compliance.feeds.models import FeedEntry, FeedSource
from compliance.mapping.models import Control, ControlMapping
from compliance.reviews.models import ChangeReview
from compliance.reviews.services import Impact


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


# -- service profiles (compliance.applicability) ---------------------------------------------


def profile_dict(profile: ServiceProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        **profile.snapshot(),
        "created_at": _iso(profile.created_at),
        "updated_at": _iso(profile.updated_at),
    }


def counts_dict(tally: Tally) -> dict[str, int]:
    return {
        "applies": tally.applies,
        "needs_judgement": tally.needs_judgement,
        "does_not_apply": tally.does_not_apply,
        "total": tally.total,
    }


def verdict_dict(item: ObligationVerdict) -> dict[str, Any]:
    verdict = item.verdict
    return {
        "obligation_id": item.obligation_id,
        "obligation": item.path,
        "ref": item.ref,
        "title": item.title,
        "instrument": item.instrument,
        "jurisdiction": item.jurisdiction,
        "outcome": item.outcome,
        "explanation": verdict.explanation,
        "reasons": verdict.reasons,
        "open_questions": verdict.questions,
        "applies_from": _iso(item.applies_from),
        "starts_on": _iso(verdict.starts_on),
    }


def _group_dict(group: Group) -> dict[str, Any]:
    return {"key": group.key, "label": group.label, "counts": counts_dict(group.tally)}


def applicability_dict(
    profile: ServiceProfile, evaluation: Evaluation, items: list[ObligationVerdict]
) -> dict[str, Any]:
    return {
        "profile": {"id": profile.id, "name": profile.name},
        "counts": counts_dict(evaluation.tally()),
        "by_jurisdiction": [_group_dict(g) for g in evaluation.by_jurisdiction()],
        "by_instrument": [_group_dict(g) for g in evaluation.by_instrument()],
        "items": [verdict_dict(item) for item in items],
    }


def changes_dict(changes: Changes) -> dict[str, Any]:
    return {
        "summary": changes.summary(),
        "items": [
            {**verdict_dict(change.item), "before": change.before} for change in changes.changes
        ],
    }


# -- feeds and change reviews (compliance.feeds, compliance.reviews) ---------------------------


def feed_source_dict(source: FeedSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "url": source.url,
        "origin": source.origin,
        "catalogue_url": source.catalogue_url,
        "regulator": source.regulator.slug if source.regulator is not None else None,
        "jurisdiction": source.jurisdiction.code if source.jurisdiction is not None else None,
        "confirmed": source.confirmed,
        "enabled": source.enabled,
        "disabled_reason": source.disabled_reason,
        "interval_minutes": source.interval_minutes,
        "last_status": source.last_status,
        "last_http_status": source.last_http_status,
        "last_error": source.last_error,
        "consecutive_failures": source.consecutive_failures,
        "failing_since": _iso(source.failing_since),
        "flagged_at": _iso(source.flagged_at),
        "last_polled_at": _iso(source.last_polled_at),
        "last_success_at": _iso(source.last_success_at),
        "next_poll_at": _iso(source.next_poll_at),
        "retired_at": _iso(source.retired_at),
    }


def _entry_dict(entry: FeedEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "title": entry.title,
        "link": entry.link or None,
        "source": {"id": entry.source.id, "name": entry.source.name},
        "published_at": _iso(entry.published_at),
        "first_seen_at": _iso(entry.first_seen_at),
        "revision": entry.revision,
    }


def review_summary(review: ChangeReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "state": review.state,
        "score": round(review.score, 2),
        "assignee": review.assignee.email if review.assignee is not None else None,
        "due_on": _iso(review.due_on),
        "decision_note": review.decision_note,
        "promoted": review.promoted,
        "opened_at": _iso(review.opened_at),
        "updated_at": _iso(review.updated_at),
        "closed_at": _iso(review.closed_at),
        "entry": _entry_dict(review.entry),
        "regulations": [m.regulation.slug for m in review.matches],
        "next_states": list(review.next_states),
    }


def review_detail(review: ChangeReview, impacts: list[Impact]) -> dict[str, Any]:
    entry = review.entry
    return {
        **review_summary(review),
        "entry": {
            **_entry_dict(entry),
            "summary_html": entry.summary_html,
            "summary_text": entry.summary_text,
            "revised_since_opened": entry.revision > review.seen_revision,
        },
        "matches": [
            {
                "regulation": m.regulation.slug,
                "short_title": m.regulation.short_title,
                "score": round(m.score, 2),
                "reasons": list(m.reasons),
                "cited_obligations": list(m.obligation_ids or []),
            }
            for m in review.matches
        ],
        "impact": [
            {
                "regulation": item.regulation.slug,
                "teams": item.teams,
                "obligations": [
                    {
                        "id": o.id,
                        "ref": o.ref,
                        "title": o.title,
                        "cited": o.cited,
                        "controls": [
                            {"code": c.code, "owner_team": c.owner_team, "status": c.status}
                            for c in o.controls
                        ],
                    }
                    for o in item.obligations
                ],
            }
            for item in impacts
        ],
        "events": [
            {
                "at": _iso(event.at),
                "actor": event.actor_label,
                "kind": event.kind,
                "from_state": event.from_state or None,
                "to_state": event.to_state or None,
                "note": event.note,
            }
            for event in review.events
        ],
    }
