"""The company's own layer: internal controls and their mappings to obligations."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from compliance.clock import utcnow
from compliance.database import UTCDateTime, choice
from compliance.extensions import Model

if TYPE_CHECKING:
    from compliance.auth.models import User
    from compliance.catalogue.models import Obligation

CONTROL_STATUSES = ("implemented", "partial", "planned", "not-implemented")
CONTROL_DOMAINS = (
    "governance",
    "risk-assessment",
    "notice-and-action",
    "appeals",
    "transparency-reporting",
    "age-assurance",
    "child-safety",
    "csam-reporting",
    "law-enforcement",
    "advertising",
    "recommender",
    "data-protection",
    "crisis-response",
    "vendor-oversight",
    "terms-and-policies",
    "moderation-operations",
)
# NIST IR 8477 set-theory relationships, as OSCAL's mapping model names them.
RELATIONSHIPS = (
    "equal-to",
    "equivalent-to",
    "subset-of",
    "superset-of",
    "intersects-with",
    "no-relationship",
)
RATIONALE_TYPES = ("syntactic", "semantic", "functional")
COVERAGES = ("full", "partial")
MAPPING_STATES = ("proposed", "approved")


class Control(Model):
    __tablename__ = "controls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. TS-NA-01
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str] = mapped_column(choice("control_domain", CONTROL_DOMAINS))
    owner_team: Mapped[str] = mapped_column(String(120), index=True)
    status: Mapped[str] = mapped_column(choice("control_status", CONTROL_STATUSES))
    review_interval_days: Mapped[int] = mapped_column(default=365)
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    evidence_links: Mapped[list[str]] = mapped_column(JSON, default=list)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    mappings: Mapped[list[ControlMapping]] = relationship(back_populates="control")

    __table_args__ = (CheckConstraint("review_interval_days > 0", name="review_interval"),)


class ControlMapping(Model):
    """One obligation–control pair, described as NIST IR 8477 / OSCAL mapping-collection do."""

    __tablename__ = "control_mappings"
    __table_args__ = (
        UniqueConstraint("obligation_id", "control_id"),
        CheckConstraint("strength BETWEEN 1 AND 10", name="strength_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    obligation_id: Mapped[int] = mapped_column(ForeignKey("obligations.id"), index=True)
    control_id: Mapped[int] = mapped_column(ForeignKey("controls.id"), index=True)
    relationship_type: Mapped[str] = mapped_column(
        "relationship", choice("relationship", RELATIONSHIPS)
    )
    strength: Mapped[int]
    rationale_type: Mapped[str] = mapped_column(choice("rationale_type", RATIONALE_TYPES))
    coverage: Mapped[str] = mapped_column(choice("coverage", COVERAGES))
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(choice("mapping_state", MAPPING_STATES), default="proposed")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    obligation: Mapped[Obligation] = relationship(back_populates="mappings")
    control: Mapped[Control] = relationship(back_populates="mappings")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
