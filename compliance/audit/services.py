"""Record and verify the audit trail: every write appends one event to a hash chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.clock import utcnow
from compliance.extensions import db

GENESIS_HASH = "0" * 64
# Any constant works; it names the PostgreSQL advisory lock that serialises chain appends.
_CHAIN_LOCK_KEY = 8_477_001
_LAST_HASH = "compliance.audit.last_hash"


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user, or a named system part such as the CLI or the loader."""

    user_id: int | None
    label: str

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(None, label)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


def snapshot(value: Any) -> Any:
    """Turn a value into plain JSON types (dates as ISO text) for before/after records."""
    if isinstance(value, dict):
        return {str(k): snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [snapshot(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "__table__"):  # a related row: record its natural key, not the object
        return next(
            (getattr(value, name) for name in ("slug", "code", "email") if hasattr(value, name)),
            getattr(value, "id", None),
        )
    return value


def _event_hash(event: AuditEvent) -> str:
    body = {
        "prev": event.prev_hash,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor": event.actor_label,
        "action": event.action,
        "entity": [event.entity_type, event.entity_id],
        "summary": event.summary,
        "before": event.before,
        "after": event.after,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the caller's transaction; the caller commits (one unit of work)."""
    session = db.session()
    if session.get_bind().dialect.name == "postgresql":
        # Two writers must not both chain onto the same predecessor.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    # Within one transaction, chain onto the event added last even if it is not flushed yet.
    previous = session.info.get(_LAST_HASH) or session.scalar(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    )
    audit_event = AuditEvent(
        at=utcnow(),
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        summary=summary,
        before=snapshot(before) if before is not None else None,
        after=snapshot(after) if after is not None else None,
        prev_hash=previous or GENESIS_HASH,
    )
    audit_event.hash = _event_hash(audit_event)
    session.add(audit_event)
    session.info[_LAST_HASH] = audit_event.hash
    return audit_event


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_last_hash(session: Session, *_args: object) -> None:
    session.info.pop(_LAST_HASH, None)


def _events_in_order(batch: int = 1000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def verify_chain() -> ChainReport:
    """Recompute every hash in order; name the first event whose hash or link is wrong."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in _events_in_order():
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.id, "its link to the previous event is broken")
        if _event_hash(event) != event.hash:
            return ChainReport(checked, event.id, "its content does not match its hash")
        expected_prev = event.hash
        checked += 1
    return ChainReport(checked, None)
