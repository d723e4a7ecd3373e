"""Catalogue tables: jurisdictions, regulators, instruments and the obligations they impose."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Date, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from compliance.clock import utcnow
from compliance.database import UTCDateTime, choice
from compliance.extensions import Model, db

if TYPE_CHECKING:
    from compliance.mapping.models import ControlMapping

LEVELS = ("international", "regional", "national", "subnational", "local")
INSTRUMENT_TYPES = (
    "treaty",
    "statute",
    "regulation",
    "directive",
    "statutory-instrument",
    "code-of-practice",
    "guidance",
    "standard",
    "rule",
    "bill",
    "court-decision",
)
STATUSES = (
    "proposed",
    "enacted",
    "in-force",
    "partly-in-force",
    "enjoined",
    "partly-enjoined",
    "repealed",
    "expired",
    "lapsed",
)
DUTIES = ("must", "must-not", "should", "may")

regulation_topics = Table(
    "regulation_topics",
    db.metadata,
    Column("regulation_id", ForeignKey("regulations.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)
obligation_topics = Table(
    "obligation_topics",
    db.metadata,
    Column("obligation_id", ForeignKey("obligations.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Topic(Model):
    """A term of the controlled topic vocabulary (regulations/README.md)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class Jurisdiction(Model):
    __tablename__ = "jurisdictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # INT, EU, ISO 3166-1 (GB), ISO 3166-2 (US-CA), or a local code (US-NY-NYC).
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(choice("level", LEVELS))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))

    parent: Mapped[Jurisdiction | None] = relationship(remote_side=[id])
    regulations: Mapped[list[Regulation]] = relationship(back_populates="jurisdiction")


class Regulator(Model):
    __tablename__ = "regulators"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    url: Mapped[str] = mapped_column(String(500), default="")

    jurisdiction: Mapped[Jurisdiction] = relationship()


class Regulation(Model):
    """Any legal instrument: treaty, statute, regulation, code of practice, guidance."""

    __tablename__ = "regulations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)  # its file name in regulations/
    title: Mapped[str] = mapped_column(String(500))
    short_title: Mapped[str] = mapped_column(String(200))
    citation: Mapped[str] = mapped_column(String(300))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    instrument_type: Mapped[str] = mapped_column(choice("instrument_type", INSTRUMENT_TYPES))
    status: Mapped[str] = mapped_column(choice("status", STATUSES), index=True)
    status_note: Mapped[str] = mapped_column(Text, default="")
    adopted_on: Mapped[date | None] = mapped_column(Date)
    in_force_on: Mapped[date | None] = mapped_column(Date)
    applies_from_on: Mapped[date | None] = mapped_column(Date)
    regulator_id: Mapped[int | None] = mapped_column(ForeignKey("regulators.id"))
    url: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    max_penalty: Mapped[str] = mapped_column(Text, default="")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)  # names feeds use
    applies_when: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regulations.id"))  # law it implements
    source_path: Mapped[str] = mapped_column(String(300), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    jurisdiction: Mapped[Jurisdiction] = relationship(back_populates="regulations")
    regulator: Mapped[Regulator | None] = relationship()
    parent: Mapped[Regulation | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Regulation]] = relationship(back_populates="parent")
    topics: Mapped[list[Topic]] = relationship(secondary=regulation_topics, order_by=Topic.slug)
    obligations: Mapped[list[Obligation]] = relationship(
        back_populates="regulation", order_by="Obligation.position"
    )

    @property
    def effective_on(self) -> date | None:
        """The date the instrument's duties bite: applies-from, else in-force."""
        return self.applies_from_on or self.in_force_on


class Obligation(Model):
    __tablename__ = "obligations"
    __table_args__ = (UniqueConstraint("regulation_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    regulation_id: Mapped[int] = mapped_column(ForeignKey("regulations.id"), index=True)
    key: Mapped[str] = mapped_column(String(120))  # stable across edits of ref or wording
    ref: Mapped[str] = mapped_column(String(120))  # pinpoint citation as written: "Art. 16(1)"
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    duty: Mapped[str] = mapped_column(choice("duty", DUTIES))
    applies_when: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    threshold: Mapped[str] = mapped_column(Text, default="")  # the condition in plain words
    effective_on: Mapped[date | None] = mapped_column(Date)  # only where it differs
    source_url: Mapped[str] = mapped_column(String(500), default="")
    no_control_reason: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)  # order in the instrument's file
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    regulation: Mapped[Regulation] = relationship(back_populates="obligations")
    topics: Mapped[list[Topic]] = relationship(secondary=obligation_topics, order_by=Topic.slug)
    mappings: Mapped[list[ControlMapping]] = relationship(back_populates="obligation")

    @property
    def path(self) -> str:
        """The catalogue reference used by mapping files: <instrument slug>/<key>."""
        return f"{self.regulation.slug}/{self.key}"

    @property
    def applies_from(self) -> date | None:
        return self.effective_on or self.regulation.effective_on


class LibrarySeed(Model):
    """What the loader last seeded of the company layer (controls, mappings) from the library.

    The company owns those rows once seeded: an edited row is never overwritten by a reload and a
    deleted one is never re-created; only untouched rows follow the library's changes.
    """

    __tablename__ = "library_seeds"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "control" or "mapping"
    key: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    seeded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
