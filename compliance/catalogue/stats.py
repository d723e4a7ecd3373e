"""Counts over the loaded catalogue: by level, jurisdiction, status and topic, and coverage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from compliance.catalogue.models import (
    Jurisdiction,
    Obligation,
    Regulation,
    Topic,
    obligation_topics,
    regulation_topics,
)
from compliance.extensions import db
from compliance.mapping.models import Control, ControlMapping

# Coverage is measured over the instruments whose duties bind today.
BINDING_STATUSES = ("in-force", "partly-in-force", "partly-enjoined")


@dataclass(frozen=True)
class Coverage:
    obligations: int  # live obligations of binding instruments
    mapped: int  # ... with at least one mapped control
    no_control: int  # ... marked as needing no control, with a reason

    @property
    def needing_control(self) -> int:
        return self.obligations - self.no_control

    @property
    def ratio(self) -> float:
        """Mapped share of the obligations that need a control."""
        return self.mapped / self.needing_control if self.needing_control else 1.0


@dataclass
class CatalogueStats:
    instruments: int = 0
    obligations: int = 0
    controls: int = 0
    mappings: int = 0
    jurisdictions: int = 0
    by_level: dict[str, tuple[int, int]] = field(default_factory=dict)  # (instruments, obligations)
    by_jurisdiction: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_status: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_topic: dict[str, tuple[int, int]] = field(default_factory=dict)
    coverage: Coverage = field(default_factory=lambda: Coverage(0, 0, 0))


def _grouped(key: Any) -> dict[str, tuple[int, int]]:
    """(instrument count, obligation count) per value of key, over live rows."""
    live_obligation = (Obligation.regulation_id == Regulation.id) & Obligation.retired_at.is_(None)
    query = (
        select(
            key,
            func.count(func.distinct(Regulation.id)),
            func.count(func.distinct(Obligation.id)),
        )
        .select_from(Regulation)
        .join(Jurisdiction, Jurisdiction.id == Regulation.jurisdiction_id)
        .outerjoin(Obligation, live_obligation)
    )
    query = query.where(Regulation.retired_at.is_(None)).group_by(key).order_by(key)
    rows = db.session.execute(query)
    return {str(value): (instruments, obligations) for value, instruments, obligations in rows}


def _topic_counts() -> dict[str, tuple[int, int]]:
    instruments = dict(
        db.session.execute(
            select(Topic.slug, func.count(regulation_topics.c.regulation_id))
            .join(regulation_topics, regulation_topics.c.topic_id == Topic.id)
            .join(Regulation, Regulation.id == regulation_topics.c.regulation_id)
            .where(Regulation.retired_at.is_(None))
            .group_by(Topic.slug)
        ).all()
    )
    obligations = dict(
        db.session.execute(
            select(Topic.slug, func.count(obligation_topics.c.obligation_id))
            .join(obligation_topics, obligation_topics.c.topic_id == Topic.id)
            .join(Obligation, Obligation.id == obligation_topics.c.obligation_id)
            .where(Obligation.retired_at.is_(None))
            .group_by(Topic.slug)
        ).all()
    )
    slugs = sorted(db.session.scalars(select(Topic.slug)))
    return {slug: (instruments.get(slug, 0), obligations.get(slug, 0)) for slug in slugs}


def coverage() -> Coverage:
    """How many obligations of binding instruments have a control, or need none."""
    binding = (
        select(Obligation.id, Obligation.no_control_reason)
        .join(Obligation.regulation)
        .where(
            Regulation.status.in_(BINDING_STATUSES),
            Regulation.retired_at.is_(None),
            Obligation.retired_at.is_(None),
        )
        .subquery()
    )
    mapped_ids = select(ControlMapping.obligation_id).distinct()
    total = db.session.scalar(select(func.count()).select_from(binding)) or 0
    no_control = (
        db.session.scalar(
            select(func.count()).select_from(binding).where(binding.c.no_control_reason != "")
        )
        or 0
    )
    mapped = (
        db.session.scalar(
            select(func.count())
            .select_from(binding)
            .where(binding.c.id.in_(mapped_ids), binding.c.no_control_reason == "")
        )
        or 0
    )
    return Coverage(total, mapped, no_control)


def catalogue_stats() -> CatalogueStats:
    """Every count `flask catalogue stats` prints."""
    live_regulations = select(func.count(Regulation.id)).where(Regulation.retired_at.is_(None))
    live_obligations = (
        select(func.count(Obligation.id))
        .join(Obligation.regulation)
        .where(Obligation.retired_at.is_(None), Regulation.retired_at.is_(None))
    )
    return CatalogueStats(
        instruments=db.session.scalar(live_regulations) or 0,
        obligations=db.session.scalar(live_obligations) or 0,
        controls=db.session.scalar(
            select(func.count(Control.id)).where(Control.retired_at.is_(None))
        )
        or 0,
        mappings=db.session.scalar(select(func.count(ControlMapping.id))) or 0,
        jurisdictions=db.session.scalar(
            select(func.count(func.distinct(Regulation.jurisdiction_id))).where(
                Regulation.retired_at.is_(None)
            )
        )
        or 0,
        by_level=_grouped(Jurisdiction.level),
        by_jurisdiction=_grouped(Jurisdiction.code),
        by_status=_grouped(Regulation.status),
        by_topic=_topic_counts(),
        coverage=coverage(),
    )
