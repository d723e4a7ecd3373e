"""Record and verify the audit trail: every write appends one event to a hash chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, event, func, select, text
from sqlalchemy.orm import Session, SessionTransaction

from compliance.audit.models import AuditEvent
from compliance.clock import utcnow
from compliance.errors import Invalid
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


@event.listens_for(Session, "after_transaction_end")
def _forget_last_hash_at_end(session: Session, transaction: SessionTransaction) -> None:
    # However the unit of work ends (commit, rollback, or a close without either), the next
    # one must read the last stored hash: a cached one may name an event never stored.
    if transaction.parent is None:
        session.info.pop(_LAST_HASH, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_last_hash(session: Session, *_args: object) -> None:
    session.info.pop(_LAST_HASH, None)  # also a rolled-back savepoint


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
    for audit_event in _events_in_order():
        if audit_event.prev_hash != expected_prev:
            return ChainReport(checked, audit_event.id, "its link to the previous event is broken")
        if _event_hash(audit_event) != audit_event.hash:
            return ChainReport(checked, audit_event.id, "its content does not match its hash")
        expected_prev = audit_event.hash
        checked += 1
    return ChainReport(checked, None)


# -- reads for the audit trail page and the dashboard ----------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Filters of the audit trail page; empty means "any"."""

    action: str = ""  # a prefix: "mapping." or "catalogue.regulation"
    entity_type: str = ""
    actor: str = ""  # part of the actor's label (an e-mail, "catalogue loader")
    from_on: date | None = None
    to_on: date | None = None  # inclusive

    @classmethod
    def from_args(cls, args: Any) -> AuditFilter:
        """Build from query arguments; a malformed or reversed date range is refused."""
        problems = []
        dates: dict[str, date | None] = {}
        for name in ("from", "to"):
            value = (args.get(name) or "").strip()
            try:
                dates[name] = date.fromisoformat(value) if value else None
            except ValueError:
                problems.append(f"'{name}' must be a date written YYYY-MM-DD")
                dates[name] = None
        if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
            problems.append("'from' must not be after 'to'")
        if problems:
            raise Invalid("Unknown filter value: " + "; ".join(problems) + ".", details=problems)
        return cls(
            action=(args.get("action") or "").strip()[:80],
            entity_type=(args.get("entity_type") or "").strip()[:40],
            actor=(args.get("actor") or "").strip()[:254],
            from_on=dates["from"],
            to_on=dates["to"],
        )

    def as_args(self) -> dict[str, str]:
        args = {
            "action": self.action,
            "entity_type": self.entity_type,
            "actor": self.actor,
            "from": self.from_on.isoformat() if self.from_on else "",
            "to": self.to_on.isoformat() if self.to_on else "",
        }
        return {name: value for name, value in args.items() if value}


def _starting_with(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def events_query(filters: AuditFilter) -> Select[tuple[AuditEvent]]:
    """Audit events matching filters, newest first."""
    query: Select[tuple[AuditEvent]] = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action.like(_starting_with(filters.action), escape="\\"))
    if filters.entity_type:
        query = query.where(AuditEvent.entity_type == filters.entity_type)
    if filters.actor:
        pattern = "%" + _starting_with(filters.actor.lower())
        query = query.where(func.lower(AuditEvent.actor_label).like(pattern, escape="\\"))
    if filters.from_on:
        query = query.where(AuditEvent.at >= _midnight(filters.from_on))
    if filters.to_on:
        query = query.where(AuditEvent.at < _midnight(filters.to_on + timedelta(days=1)))
    return query.order_by(AuditEvent.id.desc())


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def entity_types() -> list[str]:
    """The kinds of entity the trail has events about, for the filter menu."""
    query = select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)
    return list(db.session.scalars(query))


def recent_events(action_prefix: str, *, limit: int = 10) -> list[AuditEvent]:
    """The latest events whose action starts with action_prefix, newest first."""
    return list(db.session.scalars(events_query(AuditFilter(action=action_prefix)).limit(limit)))
