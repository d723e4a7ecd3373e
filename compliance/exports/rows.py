"""The export read model: one row per obligation–control pair, now or as of a date, streamed.

Every format writes from this one model, so a CSV, a workbook, a JSON file and an OSCAL
mapping of the same filters hold the same rows in the same order. "Now" reads the live
tables; "as of" reads the newest history snapshot of each row recorded before the end of that
day (compliance.exports.models). Both are expressed as the same four subqueries, so the
filters and the ordering are written once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, Subquery, exists, func, select
from sqlalchemy.orm import aliased

from compliance import clock
from compliance.auth.models import User
from compliance.catalogue.models import (
    Jurisdiction,
    Obligation,
    Regulation,
    Topic,
    obligation_topics,
)
from compliance.errors import Invalid
from compliance.exports.models import (
    ControlMappingVersion,
    ControlVersion,
    ObligationVersion,
    RegulationVersion,
)
from compliance.extensions import Model, db
from compliance.mapping.models import MAPPING_STATES, Control, ControlMapping

# Rows fetched per round trip: PostgreSQL streams them from a server-side cursor, so memory
# holds one batch, whatever the export's size.
BATCH = 1000
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class MappingRow(NamedTuple):
    """One exported obligation–control pair; the field names are the CSV and JSON columns."""

    jurisdiction: str
    instrument: str
    instrument_title: str
    instrument_citation: str
    instrument_hash: str
    obligation_key: str
    obligation_ref: str
    obligation_title: str
    obligation_summary: str
    control_code: str
    control_title: str
    control_description: str
    control_domain: str
    control_owner: str
    control_status: str
    last_reviewed_on: date | None
    relationship: str
    strength: int
    rationale: str
    coverage: str
    note: str
    state: str
    approved_by: str | None
    approved_at: datetime | None


class ObligationRow(NamedTuple):
    """An obligation in the export's scope (the OSCAL law catalog, the unmapped sheet)."""

    jurisdiction: str
    instrument: str
    instrument_title: str
    instrument_citation: str
    instrument_hash: str
    obligation_key: str
    obligation_ref: str
    obligation_title: str
    obligation_summary: str
    no_control_reason: str


class ControlRow(NamedTuple):
    """An internal control in the export's scope (the OSCAL controls catalog)."""

    code: str
    title: str
    description: str
    domain: str
    owner_team: str
    status: str
    last_reviewed_on: date | None


COLUMNS: tuple[str, ...] = MappingRow._fields
UNMAPPED_COLUMNS: tuple[str, ...] = ObligationRow._fields


def row_json(row: NamedTuple) -> dict[str, Any]:
    """A row as JSON values: dates ISO 8601, times UTC with a Z, empty as null."""
    result: dict[str, Any] = {}
    for name, value in zip(row._fields, row, strict=True):
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, date):
            value = value.isoformat()
        result[name] = value
    return result


class RowDigest:
    """SHA-256 over the rows' canonical JSON, one line each: the same for every format.

    Each line is json.dumps(row_json(row), sort_keys=True, separators=(",", ":"),
    ensure_ascii=False) followed by a newline, encoded as UTF-8.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, row: NamedTuple) -> None:
        line = json.dumps(row_json(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self._hash.update(line.encode("utf-8") + b"\n")
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class ExportFilter:
    """What to export; empty means "any". as_of None means as things stand now."""

    jurisdiction: str = ""  # a code; includes the jurisdictions below it
    instrument: str = ""  # an instrument's slug
    topic: str = ""  # a topic slug, matched against the obligation's topics
    owner: str = ""  # a control's owner team
    state: str = ""  # proposed or approved
    as_of: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> ExportFilter:
        """Build from query arguments or CLI options; refuse malformed values, naming each."""
        values = {
            "jurisdiction": str(args.get("jurisdiction") or "").strip().upper()[:20],
            "instrument": str(args.get("instrument") or "").strip().lower()[:120],
            "topic": str(args.get("topic") or "").strip().lower()[:60],
            "owner": str(args.get("owner") or "").strip()[:120],
            "state": str(args.get("state") or "").strip().lower(),
        }
        problems = []
        for name in ("instrument", "topic"):
            if values[name] and not _SLUG.match(values[name]):
                problems.append(f"{name} must be a slug such as eu-dsa or minors")
        if values["state"] and values["state"] not in MAPPING_STATES:
            problems.append(f"state must be one of: {', '.join(MAPPING_STATES)}")
        as_of = None
        raw = str(args.get("as_of") or "").strip()
        if raw:
            try:
                as_of = date.fromisoformat(raw)
            except ValueError:
                problems.append("as_of must be a date written YYYY-MM-DD")
            else:
                if as_of > clock.today():
                    problems.append("as_of must not be after today (UTC)")
        if problems:
            raise Invalid("Unknown filter value: " + "; ".join(problems) + ".", details=problems)
        return cls(as_of=as_of, **values)

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments, only those set."""
        args = {
            "jurisdiction": self.jurisdiction,
            "instrument": self.instrument,
            "topic": self.topic,
            "owner": self.owner,
            "state": self.state,
            "as_of": self.as_of.isoformat() if self.as_of else "",
        }
        return {name: value for name, value in args.items() if value}

    def describe(self) -> str:
        """The filters in words, for summaries and file metadata."""
        words = [f"{name} {value}" for name, value in self.as_args().items() if name != "as_of"]
        scope = ", ".join(words) if words else "all mappings"
        return f"{scope}, as of {self.as_of.isoformat()}" if self.as_of else f"{scope}, now"

    @property
    def cutoff(self) -> datetime | None:
        """The end of the as-of day (UTC): history recorded before it counts."""
        if self.as_of is None:
            return None
        return datetime.combine(self.as_of + timedelta(days=1), time(), tzinfo=UTC)


# -- the four sources, live or as of a moment ------------------------------------------------


@dataclass(frozen=True)
class _Sources:
    """Mappings, obligations, instruments and controls with the same column names either way.

    Each holds only rows that exist and are not retired at that moment.
    """

    mapping: Subquery
    obligation: Subquery
    regulation: Subquery
    control: Subquery
    has_topic: Callable[[str], ColumnElement[bool]] = field(compare=False)


def _live() -> _Sources:
    approver = aliased(User)
    mapping = (
        select(
            ControlMapping.id,
            ControlMapping.obligation_id,
            ControlMapping.control_id,
            ControlMapping.relationship_type.label("relationship"),
            ControlMapping.strength,
            ControlMapping.rationale_type,
            ControlMapping.coverage,
            ControlMapping.note,
            ControlMapping.state,
            approver.email.label("approved_by"),
            ControlMapping.approved_at,
        )
        .outerjoin(approver, approver.id == ControlMapping.approved_by_id)
        .subquery("m")
    )
    obligation = (
        select(
            Obligation.id,
            Obligation.regulation_id,
            Obligation.key,
            Obligation.ref,
            Obligation.title,
            Obligation.summary,
            Obligation.no_control_reason,
            Obligation.position,
        )
        .where(Obligation.retired_at.is_(None))
        .subquery("o")
    )
    regulation = (
        select(
            Regulation.id,
            Regulation.slug,
            Regulation.short_title,
            Regulation.citation,
            Jurisdiction.code.label("jurisdiction"),
            Regulation.content_hash,
        )
        .join(Jurisdiction, Jurisdiction.id == Regulation.jurisdiction_id)
        .where(Regulation.retired_at.is_(None))
        .subquery("r")
    )
    control = (
        select(
            Control.id,
            Control.code,
            Control.title,
            Control.description,
            Control.domain,
            Control.owner_team,
            Control.status,
            Control.last_reviewed_on,
        )
        .where(Control.retired_at.is_(None))
        .subquery("c")
    )

    def has_topic(slug: str) -> ColumnElement[bool]:
        tagged = (
            select(obligation_topics.c.obligation_id)
            .join(Topic, Topic.id == obligation_topics.c.topic_id)
            .where(Topic.slug == slug)
        )
        return obligation.c.id.in_(tagged)

    return _Sources(mapping, obligation, regulation, control, has_topic)


def _newest(version: type[Model], key: Any, cutoff: datetime) -> ColumnElement[bool]:
    """The condition selecting each entity's newest snapshot recorded before cutoff."""
    newest = (
        select(func.max(version.id))  # type: ignore[attr-defined]
        .where(version.recorded_at < cutoff)  # type: ignore[attr-defined]
        .group_by(key)
    )
    return version.id.in_(newest) & version.deleted.is_(False)  # type: ignore[attr-defined,no-any-return]


def _as_of(cutoff: datetime) -> _Sources:
    m, o, r, c = ControlMappingVersion, ObligationVersion, RegulationVersion, ControlVersion
    mapping = (
        select(
            m.mapping_id.label("id"),
            m.obligation_id,
            m.control_id,
            m.relationship,
            m.strength,
            m.rationale_type,
            m.coverage,
            m.note,
            m.state,
            m.approved_by,
            m.approved_at,
        )
        .where(_newest(m, m.mapping_id, cutoff))
        .subquery("m")
    )
    obligation = (
        select(
            o.obligation_id.label("id"),
            o.regulation_id,
            o.key,
            o.ref,
            o.title,
            o.summary,
            o.no_control_reason,
            o.position,
            o.topics,
        )
        .where(_newest(o, o.obligation_id, cutoff), o.retired.is_(False))
        .subquery("o")
    )
    regulation = (
        select(
            r.regulation_id.label("id"),
            r.slug,
            r.short_title,
            r.citation,
            r.jurisdiction,
            r.content_hash,
        )
        .where(_newest(r, r.regulation_id, cutoff), r.retired.is_(False))
        .subquery("r")
    )
    control = (
        select(
            c.control_id.label("id"),
            c.code,
            c.title,
            c.description,
            c.domain,
            c.owner_team,
            c.status,
            c.last_reviewed_on,
        )
        .where(_newest(c, c.control_id, cutoff), c.retired.is_(False))
        .subquery("c")
    )

    def has_topic(slug: str) -> ColumnElement[bool]:
        return obligation.c.topics.like(f"% {slug} %")  # slugs are checked: no wildcards

    return _Sources(mapping, obligation, regulation, control, has_topic)


def _jurisdiction_codes(code: str) -> list[str]:
    """The jurisdiction with this code and every one below it (US covers US-CA)."""
    rows = db.session.execute(select(Jurisdiction.id, Jurisdiction.parent_id, Jurisdiction.code))
    children: dict[int | None, list[tuple[int, str]]] = {}
    root = None
    for row_id, parent_id, row_code in rows:
        children.setdefault(parent_id, []).append((row_id, row_code))
        if row_code == code:
            root = row_id
    if root is None:
        message = f"jurisdiction: unknown code '{code}'"
        raise Invalid(f"Unknown filter value: {message}.", details=[message])
    found, queue = [code], [root]
    while queue:
        for child_id, child_code in children.get(queue.pop(), []):
            found.append(child_code)
            queue.append(child_id)
    return found


def earliest_record() -> datetime | None:
    """When the oldest history snapshot was recorded; None when nothing ever was."""
    firsts = [
        db.session.scalar(select(func.min(version.recorded_at)))
        for version in (RegulationVersion, ObligationVersion, ControlVersion, ControlMappingVersion)
    ]
    found = [clock.as_utc(first) for first in firsts if isinstance(first, datetime)]
    return min((moment for moment in found if moment is not None), default=None)


class Export:
    """The rows an export of these filters holds; each method runs its own streamed query."""

    def __init__(self, filters: ExportFilter) -> None:
        self.filters = filters
        cutoff = filters.cutoff
        if cutoff is not None:
            first = earliest_record()
            if first is None or first >= cutoff:
                assert filters.as_of is not None
                since = f"it starts on {first.date().isoformat()}" if first else "it is empty"
                message = (
                    f"Nothing existed on {filters.as_of.isoformat()}: the history of mappings "
                    f"and the catalogue begins later ({since}). Choose a later date."
                )
                raise Invalid(message, details=[f"as_of: {message}"])
        self.jurisdictions = (
            _jurisdiction_codes(filters.jurisdiction) if filters.jurisdiction else []
        )
        self._sources = _live() if cutoff is None else _as_of(cutoff)

    # -- query builders ----------------------------------------------------------------------

    def _catalogue_scope(self, query: Select[Any]) -> Select[Any]:
        s, f = self._sources, self.filters
        if self.jurisdictions:
            query = query.where(s.regulation.c.jurisdiction.in_(self.jurisdictions))
        if f.instrument:
            query = query.where(s.regulation.c.slug == f.instrument)
        if f.topic:
            query = query.where(s.has_topic(f.topic))
        return query

    def _mappings_query(self, *columns: Any) -> Select[Any]:
        s, f = self._sources, self.filters
        m, o, r, c = s.mapping, s.obligation, s.regulation, s.control
        query = (
            select(*columns)
            .select_from(m)
            .join(o, o.c.id == m.c.obligation_id)
            .join(r, r.c.id == o.c.regulation_id)
            .join(c, c.c.id == m.c.control_id)
        )
        if f.owner:
            query = query.where(c.c.owner_team == f.owner)
        if f.state:
            query = query.where(m.c.state == f.state)
        return self._catalogue_scope(query)

    def _obligations_query(self, *, unmapped: bool) -> Select[Any]:
        s = self._sources
        o, r = s.obligation, s.regulation
        query: Select[Any] = (
            select(
                r.c.jurisdiction,
                r.c.slug,
                r.c.short_title,
                r.c.citation,
                r.c.content_hash,
                o.c.key,
                o.c.ref,
                o.c.title,
                o.c.summary,
                o.c.no_control_reason,
            )
            .select_from(o)
            .join(r, r.c.id == o.c.regulation_id)
        )
        if unmapped:
            # Any mapping counts, whatever its owner or state: as on the gaps page.
            query = query.where(~exists().where(s.mapping.c.obligation_id == o.c.id))
        query = self._catalogue_scope(query)
        return query.order_by(r.c.jurisdiction, r.c.slug, o.c.position, o.c.key)

    def _stream(self, query: Select[Any]) -> Iterator[Any]:
        result = db.session.execute(query.execution_options(yield_per=BATCH))
        try:
            yield from result
        finally:
            result.close()  # a consumer that stops early must not leave the cursor open

    # -- the rows ----------------------------------------------------------------------------

    def _rows_query(self) -> Select[Any]:
        s = self._sources
        m, o, r, c = s.mapping, s.obligation, s.regulation, s.control
        return self._mappings_query(
            r.c.jurisdiction,
            r.c.slug,
            r.c.short_title,
            r.c.citation,
            r.c.content_hash,
            o.c.key,
            o.c.ref,
            o.c.title,
            o.c.summary,
            c.c.code,
            c.c.title,
            c.c.description,
            c.c.domain,
            c.c.owner_team,
            c.c.status,
            c.c.last_reviewed_on,
            m.c.relationship,
            m.c.strength,
            m.c.rationale_type,
            m.c.coverage,
            m.c.note,
            m.c.state,
            m.c.approved_by,
            m.c.approved_at,
        ).order_by(r.c.jurisdiction, r.c.slug, o.c.position, o.c.key, c.c.code)

    def mappings(self) -> Iterator[MappingRow]:
        """The mapped pairs, by jurisdiction, instrument, obligation order and control code."""
        for row in self._stream(self._rows_query()):
            yield MappingRow(*row)

    def count(self) -> int:
        """How many mapped pairs the export holds."""
        return int(db.session.scalar(self._mappings_query(func.count())) or 0)

    def counts_by_state(self) -> dict[str, int]:
        """How many mapped pairs the export holds in each state (proposed, approved)."""
        state = self._sources.mapping.c.state
        query = self._mappings_query(state, func.count()).group_by(state)
        return {str(name): int(count) for name, count in db.session.execute(query)}

    def unmapped(self) -> Iterator[ObligationRow]:
        """Obligations in scope that no control serves (owner and state filters do not apply)."""
        for row in self._stream(self._obligations_query(unmapped=True)):
            yield ObligationRow(*row)

    def obligations(self) -> Iterator[ObligationRow]:
        """Every obligation in scope, mapped or not (the OSCAL law catalog)."""
        for row in self._stream(self._obligations_query(unmapped=False)):
            yield ObligationRow(*row)

    def controls(self) -> Iterator[ControlRow]:
        """Every control in scope: the owner filter applies (the OSCAL controls catalog)."""
        c = self._sources.control
        query = select(
            c.c.code,
            c.c.title,
            c.c.description,
            c.c.domain,
            c.c.owner_team,
            c.c.status,
            c.c.last_reviewed_on,
        ).order_by(c.c.code)
        if self.filters.owner:
            query = query.where(c.c.owner_team == self.filters.owner)
        for row in self._stream(query):
            yield ControlRow(*row)

    def preview(self, *, offset: int, limit: int) -> list[MappingRow]:
        """One page of the rows, for the exports page."""
        query = self._rows_query().offset(offset).limit(limit)
        return [MappingRow(*row) for row in db.session.execute(query)]
