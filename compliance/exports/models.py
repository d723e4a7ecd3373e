"""History tables: each row is a snapshot of an instrument, obligation, control or mapping.

An export "as of" a date reads the latest snapshot of each row recorded before the end of
that day. Snapshots are written by compliance.exports.history in the transaction that made the
change, and are never updated. Columns are plain strings, not choices: history must keep a
value even after the vocabulary drops it. Entity ids carry no foreign key, since a deleted
mapping's history outlives it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import UTCDateTime
from compliance.extensions import Model


class RegulationVersion(Model):
    __tablename__ = "regulation_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    regulation_id: Mapped[int] = mapped_column(index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    slug: Mapped[str] = mapped_column(String(120))
    short_title: Mapped[str] = mapped_column(String(200))
    citation: Mapped[str] = mapped_column(String(300))
    jurisdiction: Mapped[str] = mapped_column(String(20))  # the jurisdiction's code
    content_hash: Mapped[str] = mapped_column(String(64))  # the instrument's version
    retired: Mapped[bool] = mapped_column(default=False)


class ObligationVersion(Model):
    __tablename__ = "obligation_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    obligation_id: Mapped[int] = mapped_column(index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    regulation_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(120))
    ref: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    # Topic slugs between spaces (" minors notice-and-action "), so "has topic t" is a
    # LIKE '% t %' that SQLite and PostgreSQL run alike; slugs never contain spaces.
    topics: Mapped[str] = mapped_column(Text, default=" ")
    no_control_reason: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    retired: Mapped[bool] = mapped_column(default=False)


class ControlVersion(Model):
    __tablename__ = "control_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str] = mapped_column(String(40))
    owner_team: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(40))
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    retired: Mapped[bool] = mapped_column(default=False)


class ControlMappingVersion(Model):
    __tablename__ = "control_mapping_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    mapping_id: Mapped[int] = mapped_column(index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    obligation_id: Mapped[int]
    control_id: Mapped[int]
    relationship: Mapped[str] = mapped_column(String(40))
    strength: Mapped[int]
    rationale_type: Mapped[str] = mapped_column(String(40))
    coverage: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(40))
    approved_by: Mapped[str | None] = mapped_column(String(254))  # the approver's e-mail
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
