"""Elect exactly one active scheduler per database; the others stand by and take over.

PostgreSQL: a session-level advisory lock held on a dedicated connection. If the process dies,
its connection closes, the server drops the lock, and a standby's next try wins.
SQLite: a lease row with an expiry, renewed by the leader well before it runs out; a standby
takes the lease once it has expired (the leader died or hung).
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from compliance.clock import utcnow
from compliance.database import begin_write
from compliance.extensions import db
from compliance.scheduler.models import SchedulerLease

LEASE_NAME = "scheduler"
# Any constant works; it names the advisory lock all schedulers of one database contend for.
_ADVISORY_KEY = 8_477_002
# pg_try_advisory_lock(bigint) files the key's low 32 bits as objid, high bits as classid.
_HOLDS_LOCK = text(
    "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :key AND objsubid = 1"
)


class Leadership:
    """One process's claim to be the active scheduler. Call within an app context."""

    def __init__(self, *, ttl_seconds: int = 60) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.ttl = timedelta(seconds=ttl_seconds)
        self._connection: Connection | None = None  # PostgreSQL: holds the advisory lock

    @property
    def _postgresql(self) -> bool:
        return db.engine.dialect.name == "postgresql"

    def acquire(self) -> bool:
        """Try once to become the leader; True if this process now leads."""
        if self._postgresql:
            return self._acquire_advisory()
        return self._claim_lease(take_over_only_if_expired=True)

    def renew(self) -> bool:
        """Keep the lead; False means it was lost and this process must stop its jobs."""
        if self._postgresql:
            if self._connection is None:
                return False
            try:  # a server restart or a killed backend ends the session and its lock
                held = self._connection.execute(_HOLDS_LOCK, {"key": _ADVISORY_KEY}).scalar()
                self._connection.commit()
            except DBAPIError:
                held = False
            if not held:
                self._connection.invalidate()
                self._connection = None
            return bool(held)
        return self._claim_lease(take_over_only_if_expired=False)

    def release(self) -> None:
        """Give up the lead at once, so a standby need not wait for the lease to expire."""
        if self._postgresql:
            if self._connection is not None:
                # Unlock explicitly: close() only returns the session to the pool, lock held.
                try:
                    self._connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY}
                    )
                    self._connection.commit()
                    self._connection.close()
                except DBAPIError:
                    self._connection.invalidate()  # a dead session holds no lock anyway
                self._connection = None
            return
        begin_write()
        lease = db.session.get(SchedulerLease, LEASE_NAME)
        if lease is not None and lease.holder == self.holder:
            db.session.delete(lease)
        db.session.commit()

    def _acquire_advisory(self) -> bool:
        if self._connection is not None:
            return True
        connection = db.engine.connect()
        locked = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_KEY}
        ).scalar()
        connection.commit()  # end the transaction; the session-level lock stays held
        if locked:
            self._connection = connection
            return True
        connection.close()
        return False

    def _claim_lease(self, *, take_over_only_if_expired: bool) -> bool:
        now = utcnow()
        begin_write()  # BEGIN IMMEDIATE: two standbys cannot both take an expired lease
        lease = db.session.scalar(select(SchedulerLease).filter_by(name=LEASE_NAME))
        if lease is None:
            lease = SchedulerLease(name=LEASE_NAME, holder=self.holder, acquired_at=now)
            db.session.add(lease)
        elif lease.holder != self.holder:
            if not take_over_only_if_expired or lease.expires_at > now:
                db.session.rollback()
                return False
            lease.holder, lease.acquired_at = self.holder, now
        lease.expires_at = now + self.ttl
        db.session.commit()
        return True
