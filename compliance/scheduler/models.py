"""The lease that elects the one active scheduler per database (SQLite; PostgreSQL uses an
advisory lock instead, see compliance.scheduler.leader)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import UTCDateTime
from compliance.extensions import Model


class SchedulerLease(Model):
    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid:random, unique per process
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
