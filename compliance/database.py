"""Engine set-up and write transactions that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Enum, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from compliance.extensions import db

WRITE_OPTION = "compliance_write"


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy emit BEGIN itself (see _begin), so writes can ask for BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    # A write that starts DEFERRED can fail with SQLITE_BUSY_SNAPSHOT when another writer
    # commits first; IMMEDIATE takes the write lock up front and waits on busy_timeout instead.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write() -> None:
    """Start the session's transaction as a write: call first in every writing service."""
    session = db.session()
    if session.in_transaction():
        # Whatever was read so far came from a read transaction; a write must see fresh rows.
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})


def hold_lock(key: int) -> None:
    """Make writers that hold the same key take turns until their transaction ends.

    Call after begin_write. SQLite's BEGIN IMMEDIATE already admits one writer at a time; on
    PostgreSQL a check-then-insert needs a transaction-scoped advisory lock to be safe.
    """
    session = db.session()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a UTC-aware value (compliance.clock.utcnow)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def choice(name: str, values: tuple[str, ...]) -> Enum:
    """A string column restricted to values, checked by the database and by SQLAlchemy."""
    return Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(v) for v in values),
        validate_strings=True,
    )
