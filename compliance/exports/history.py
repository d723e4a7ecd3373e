"""Write a history snapshot of every instrument, obligation, control and mapping that changes.

A session listener rather than calls in each service: the catalogue loader, the mapping
services, the API and imports all write through the ORM, and a listener cannot be forgotten
by the next writer. The snapshot goes into the same transaction as the change, so a rolled-back
change leaves no history either. Only writes that bypass the ORM (none in the app) escape it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event, insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from compliance import clock
from compliance.auth.models import User
from compliance.catalogue.models import Jurisdiction, Obligation, Regulation
from compliance.exports.models import (
    ControlMappingVersion,
    ControlVersion,
    ObligationVersion,
    RegulationVersion,
)
from compliance.extensions import Model
from compliance.mapping.models import Control, ControlMapping


class _Lookups:
    """Codes and e-mails by id, read once per flush on the flushing connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.cache: dict[tuple[str, int], str | None] = {}

    def jurisdiction(self, jurisdiction_id: int) -> str:
        key = ("jurisdiction", jurisdiction_id)
        if key not in self.cache:
            query = select(Jurisdiction.code).where(Jurisdiction.id == jurisdiction_id)
            self.cache[key] = self.connection.scalar(query)
        return self.cache[key] or ""

    def email(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        key = ("user", user_id)
        if key not in self.cache:
            self.cache[key] = self.connection.scalar(select(User.email).where(User.id == user_id))
        return self.cache[key]


def _regulation(row: Regulation, lookups: _Lookups) -> dict[str, Any]:
    return {
        "regulation_id": row.id,
        "slug": row.slug,
        "short_title": row.short_title,
        "citation": row.citation,
        "jurisdiction": lookups.jurisdiction(row.jurisdiction_id),
        "content_hash": row.content_hash or "",
        "retired": row.retired_at is not None,
    }


def _obligation(row: Obligation, lookups: _Lookups) -> dict[str, Any]:
    slugs = sorted(topic.slug for topic in row.topics)
    return {
        "obligation_id": row.id,
        "regulation_id": row.regulation_id,
        "key": row.key,
        "ref": row.ref,
        "title": row.title,
        "summary": row.summary,
        "topics": " " + "".join(f"{slug} " for slug in slugs),
        "no_control_reason": row.no_control_reason or "",
        "position": row.position or 0,
        "retired": row.retired_at is not None,
    }


def _control(row: Control, lookups: _Lookups) -> dict[str, Any]:
    return {
        "control_id": row.id,
        "code": row.code,
        "title": row.title,
        "description": row.description or "",
        "domain": row.domain,
        "owner_team": row.owner_team,
        "status": row.status,
        "last_reviewed_on": row.last_reviewed_on,
        "retired": row.retired_at is not None,
    }


def _mapping(row: ControlMapping, lookups: _Lookups) -> dict[str, Any]:
    return {
        "mapping_id": row.id,
        "obligation_id": row.obligation_id,
        "control_id": row.control_id,
        "relationship": row.relationship_type,
        "strength": row.strength,
        "rationale_type": row.rationale_type,
        "coverage": row.coverage,
        "note": row.note or "",
        "state": row.state or "proposed",
        "approved_by": lookups.email(row.approved_by_id),
        "approved_at": row.approved_at,
    }


@dataclass(frozen=True)
class _Tracked:
    version: type[Model]
    snapshot: Callable[[Any, _Lookups], dict[str, Any]]
    watched: tuple[str, ...]  # a change to any of these attributes makes a new snapshot


TRACKED: dict[type[Model], _Tracked] = {
    Regulation: _Tracked(
        RegulationVersion,
        _regulation,
        (
            "slug",
            "short_title",
            "citation",
            "jurisdiction_id",
            "jurisdiction",
            "content_hash",
            "retired_at",
        ),
    ),
    Obligation: _Tracked(
        ObligationVersion,
        _obligation,
        (
            "regulation_id",
            "key",
            "ref",
            "title",
            "summary",
            "topics",
            "no_control_reason",
            "position",
            "retired_at",
        ),
    ),
    Control: _Tracked(
        ControlVersion,
        _control,
        (
            "code",
            "title",
            "description",
            "domain",
            "owner_team",
            "status",
            "last_reviewed_on",
            "retired_at",
        ),
    ),
    ControlMapping: _Tracked(
        ControlMappingVersion,
        _mapping,
        (
            "obligation_id",
            "control_id",
            "relationship_type",
            "strength",
            "rationale_type",
            "coverage",
            "note",
            "state",
            "approved_by_id",
            "approved_at",
        ),
    ),
}


def _changed(row: Model, watched: Iterable[str]) -> bool:
    attributes = inspect(row).attrs
    return any(attributes[name].history.has_changes() for name in watched)


@event.listens_for(Session, "after_flush")
def _record_versions(session: Session, _context: UOWTransaction) -> None:
    # In after_flush the new/dirty/deleted sets and attribute histories still describe the
    # flush, and new rows already have their ids.
    pending: dict[type[Model], list[dict[str, Any]]] = {}
    lookups: _Lookups | None = None
    now = clock.utcnow()
    # session.new/dirty/deleted build a fresh set on every access: read each once, or a
    # 100k-row catalogue load turns quadratic (bench/search.py).
    new, dirty, gone = session.new, session.dirty, session.deleted
    changes = [(row, False) for row in new]
    changes += [(row, False) for row in dirty if row not in gone]
    changes += [(row, True) for row in gone]
    for row, deleted in changes:
        tracked = TRACKED.get(type(row))
        if tracked is None:
            continue
        if not deleted and row not in new and not _changed(row, tracked.watched):
            continue
        lookups = lookups or _Lookups(session.connection())
        values = tracked.snapshot(row, lookups)
        pending.setdefault(tracked.version, []).append(
            {**values, "recorded_at": now, "deleted": deleted}
        )
    for version, rows in pending.items():
        # Core inserts: adding ORM objects inside a flush would need another flush.
        session.connection().execute(insert(version), rows)
