"""Dashboard figures: mapping coverage, next effective dates, recent changes, a team's controls."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select

from compliance import clock
from compliance.audit import services as audit_services
from compliance.audit.models import AuditEvent
from compliance.catalogue.models import (
    Jurisdiction,
    Obligation,
    Regulation,
    Topic,
    obligation_topics,
)
from compliance.catalogue.services import catalogue_counts, coverage_percent
from compliance.extensions import db
from compliance.mapping.models import Control, ControlMapping


@dataclass(frozen=True)
class Coverage:
    """Obligations needing a control in one group, split by how mapped controls cover them.

    Only live obligations without a no-control reason count. One is covered when it has at
    least one mapping (proposed or approved), fully covered when one of them says "full".
    """

    key: str
    label: str
    total: int
    full: int
    partial: int

    @property
    def unmapped(self) -> int:
        return self.total - self.full - self.partial

    @property
    def covered(self) -> int:
        return self.full + self.partial

    @property
    def percent(self) -> int | None:
        return coverage_percent(self.covered, self.total)

    @property
    def full_share(self) -> float:
        """Width of the chart's "full" bar, in percent of the track."""
        return round(100 * self.full / self.total, 1) if self.total else 0.0

    @property
    def partial_share(self) -> float:
        return round(100 * self.partial / self.total, 1) if self.total else 0.0


@dataclass(frozen=True)
class Headline:
    instruments: int
    obligations: int
    controls: int
    no_control_needed: int  # obligations that need no control, left out of coverage
    proposed_mappings: int  # awaiting approval
    coverage: Coverage  # over every live obligation that needs a control

    @property
    def gaps(self) -> int:
        return self.coverage.unmapped


@dataclass(frozen=True)
class UpcomingDate:
    """An instrument or obligation whose duties start on a date still to come."""

    on: date
    days_away: int
    regulation_slug: str
    regulation_title: str
    jurisdiction: str
    obligation_id: int | None = None  # None: the instrument as a whole
    ref: str = ""
    title: str = ""


@dataclass(frozen=True)
class TeamControl:
    id: int
    code: str
    title: str
    status: str
    obligations: int  # live obligations it is mapped to


@dataclass(frozen=True)
class Dashboard:
    headline: Headline
    by_jurisdiction: list[Coverage]
    by_topic: list[Coverage]
    upcoming: list[UpcomingDate]
    recent_changes: list[AuditEvent]
    team_controls: list[TeamControl] | None = field(default=None)  # None: not a manager

    @property
    def is_empty(self) -> bool:
        return self.headline.instruments == 0


# Optional everywhere below: the ids of the obligations to count, e.g. those that apply to a
# service profile (compliance.applicability); None counts every live obligation.
Only = Collection[int] | None


def _only(query: Select[Any], obligation_ids: Only) -> Select[Any]:
    return query if obligation_ids is None else query.where(Obligation.id.in_(obligation_ids))


def _live_obligations_needing_control(query: Select[Any]) -> Select[Any]:
    return query.where(
        Obligation.retired_at.is_(None),
        Regulation.retired_at.is_(None),
        Obligation.no_control_reason == "",
    )


def _coverage(
    *keys: Any, via_topics: bool = False, obligation_ids: Only = None
) -> list[tuple[Any, ...]]:
    """Rows of (*keys, total, full, partial), grouped by keys, in one aggregate query."""
    # Per obligation: 1 if any of its mappings covers it fully, else 0; no row when unmapped.
    best = (
        select(
            ControlMapping.obligation_id.label("obligation_id"),
            func.max(case((ControlMapping.coverage == "full", 1), else_=0)).label("full"),
        )
        .group_by(ControlMapping.obligation_id)
        .subquery()
    )
    query: Select[Any] = (
        select(
            *keys,
            func.count(Obligation.id),
            func.sum(case((best.c.full == 1, 1), else_=0)),
            func.sum(case((best.c.full == 0, 1), else_=0)),
        )
        .select_from(Obligation)
        .join(Obligation.regulation)
        .join(Regulation.jurisdiction)
        .outerjoin(best, best.c.obligation_id == Obligation.id)
    )
    if via_topics:
        query = query.join(
            obligation_topics, obligation_topics.c.obligation_id == Obligation.id
        ).join(Topic, Topic.id == obligation_topics.c.topic_id)
    query = _only(_live_obligations_needing_control(query), obligation_ids)
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    return [tuple(row) for row in db.session.execute(query)]


def _as_coverage(key: str, label: str, total: Any, full: Any, partial: Any) -> Coverage:
    return Coverage(key, label, int(total or 0), int(full or 0), int(partial or 0))


def overall_coverage(obligation_ids: Only = None) -> Coverage:
    """Coverage of every live obligation that needs a control."""
    total, full, partial = _coverage(obligation_ids=obligation_ids)[0]
    return _as_coverage("", "All obligations", total, full, partial)


def coverage_by_jurisdiction(obligation_ids: Only = None) -> list[Coverage]:
    """Coverage per jurisdiction of the obligations' instruments, by jurisdiction code."""
    rows = _coverage(Jurisdiction.code, Jurisdiction.name, obligation_ids=obligation_ids)
    return [_as_coverage(code, name, *counts) for code, name, *counts in rows]


def coverage_by_topic(obligation_ids: Only = None) -> list[Coverage]:
    """Coverage per obligation topic (an obligation with two topics counts in both)."""
    rows = _coverage(Topic.name, Topic.slug, via_topics=True, obligation_ids=obligation_ids)
    return [_as_coverage(slug, name, *counts) for name, slug, *counts in rows]


def headline(obligation_ids: Only = None) -> Headline:
    """The stat cards: catalogue size, controls, coverage, gaps and approvals waiting."""
    counts = catalogue_counts() if obligation_ids is None else _counts_of(obligation_ids)
    controls = select(func.count(Control.id)).where(Control.retired_at.is_(None))
    no_control = _only(
        select(func.count(Obligation.id))
        .join(Obligation.regulation)
        .where(
            Obligation.retired_at.is_(None),
            Regulation.retired_at.is_(None),
            Obligation.no_control_reason != "",
        ),
        obligation_ids,
    )
    proposed = select(func.count(ControlMapping.id)).where(ControlMapping.state == "proposed")
    if obligation_ids is not None:
        proposed = proposed.where(ControlMapping.obligation_id.in_(obligation_ids))
    return Headline(
        instruments=counts["regulations"],
        obligations=counts["obligations"],
        controls=db.session.scalar(controls) or 0,
        no_control_needed=db.session.scalar(no_control) or 0,
        proposed_mappings=db.session.scalar(proposed) or 0,
        coverage=overall_coverage(obligation_ids),
    )


def _counts_of(obligation_ids: Collection[int]) -> dict[str, int]:
    """Live instruments and obligations among obligation_ids."""
    live = (
        select(func.count(Obligation.id), func.count(func.distinct(Obligation.regulation_id)))
        .join(Obligation.regulation)
        .where(
            Obligation.retired_at.is_(None),
            Regulation.retired_at.is_(None),
            Obligation.id.in_(obligation_ids),
        )
    )
    obligations, regulations = db.session.execute(live).one()
    return {"regulations": int(regulations or 0), "obligations": int(obligations or 0)}


def upcoming_dates(*, limit: int = 10, obligation_ids: Only = None) -> list[UpcomingDate]:
    """Instruments and obligations whose duties start today or later, soonest first.

    With obligation_ids, only those obligations and the instruments they belong to.
    """
    today = clock.today()
    regulation_on = func.coalesce(Regulation.applies_from_on, Regulation.in_force_on)
    instruments = (
        select(regulation_on, Regulation.slug, Regulation.short_title, Jurisdiction.code)
        .join(Regulation.jurisdiction)
        .where(Regulation.retired_at.is_(None), regulation_on >= today)
        .order_by(regulation_on, Regulation.short_title)
        .limit(limit)
    )
    if obligation_ids is not None:
        owners = select(Obligation.regulation_id).where(Obligation.id.in_(obligation_ids))
        instruments = instruments.where(Regulation.id.in_(owners))
    # An obligation's own date only where it differs: its instrument's row already says the rest.
    obligations = (
        select(
            Obligation.effective_on,
            Regulation.slug,
            Regulation.short_title,
            Jurisdiction.code,
            Obligation.id,
            Obligation.ref,
            Obligation.title,
        )
        .join(Obligation.regulation)
        .join(Regulation.jurisdiction)
        .where(
            Obligation.retired_at.is_(None),
            Regulation.retired_at.is_(None),
            Obligation.effective_on >= today,
            or_(regulation_on.is_(None), Obligation.effective_on != regulation_on),
        )
        .order_by(Obligation.effective_on, Regulation.short_title, Obligation.position)
        .limit(limit)
    )
    if obligation_ids is not None:
        obligations = obligations.where(Obligation.id.in_(obligation_ids))
    found = [
        UpcomingDate(on, (on - today).days, slug, short_title, code)
        for on, slug, short_title, code in db.session.execute(instruments)
    ]
    found += [
        UpcomingDate(on, (on - today).days, slug, short_title, code, obligation_id, ref, title)
        for on, slug, short_title, code, obligation_id, ref, title in db.session.execute(
            obligations
        )
        if on is not None  # the query excludes NULL; this tells the type checker
    ]
    found.sort(key=lambda item: (item.on, item.regulation_title, item.ref))
    return found[:limit]


def recent_catalogue_changes(*, limit: int = 10) -> list[AuditEvent]:
    """The latest audit events of catalogue loads, newest first."""
    return audit_services.recent_events("catalogue.", limit=limit)


def team_controls(team: str) -> list[TeamControl]:
    """A team's live controls with how many live obligations each serves, by code."""
    served = and_(Obligation.id == ControlMapping.obligation_id, Obligation.retired_at.is_(None))
    query = (
        select(Control.id, Control.code, Control.title, Control.status, func.count(Obligation.id))
        .outerjoin(ControlMapping, ControlMapping.control_id == Control.id)
        .outerjoin(Obligation, served)
        .where(Control.owner_team == team, Control.retired_at.is_(None))
        .group_by(Control.id, Control.code, Control.title, Control.status)
        .order_by(Control.code)
    )
    return [TeamControl(*row) for row in db.session.execute(query)]


def build_dashboard(*, team: str | None = None, obligation_ids: Only = None) -> Dashboard:
    """Everything the dashboard shows; with team, also that team's controls (for managers).

    With obligation_ids (those that apply to a service profile), only those obligations count.
    """
    return Dashboard(
        headline=headline(obligation_ids),
        by_jurisdiction=coverage_by_jurisdiction(obligation_ids),
        by_topic=coverage_by_topic(obligation_ids),
        upcoming=upcoming_dates(obligation_ids=obligation_ids),
        recent_changes=recent_catalogue_changes(),
        team_controls=team_controls(team) if team is not None else None,
    )
