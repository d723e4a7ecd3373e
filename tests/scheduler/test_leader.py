"""Exactly one active scheduler per database: SQLite lease row, PostgreSQL advisory lock."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from flask import Flask

from compliance.clock import utcnow
from compliance.extensions import db
from compliance.scheduler import jobs
from compliance.scheduler.leader import LEASE_NAME, Leadership
from compliance.scheduler.models import SchedulerLease


def test_a_second_scheduler_stands_by_until_the_first_releases(app: Flask) -> None:
    with app.app_context():
        first, second = Leadership(), Leadership()
        assert first.acquire()
        assert not second.acquire()
        assert first.renew()
        assert first.acquire()  # asking again keeps the lead
        first.release()
        assert second.acquire()
        assert not first.acquire()
        second.release()


def test_a_standby_takes_over_when_the_leader_dies(app: Flask, backend: str) -> None:
    with app.app_context():
        leader, standby = Leadership(), Leadership()
        assert leader.acquire()
        if backend == "postgresql":
            # The leader's process dies: its session ends and the server drops the lock.
            assert leader._connection is not None
            leader._connection.invalidate()
        else:
            # The leader hangs or dies: it stops renewing and its lease runs out.
            lease = db.session.get(SchedulerLease, LEASE_NAME)
            assert lease is not None
            lease.expires_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
        assert standby.acquire()
        assert not leader.renew()  # the old leader learns it lost and stops its jobs
        standby.release()


def test_a_live_lease_is_not_taken_over(app: Flask, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the lease row is SQLite's mechanism")
    with app.app_context():
        leader, standby = Leadership(ttl_seconds=60), Leadership()
        assert leader.acquire()
        lease = db.session.get(SchedulerLease, LEASE_NAME)
        assert lease is not None and lease.holder == leader.holder
        assert not standby.acquire()
        leader.release()
        assert db.session.get(SchedulerLease, LEASE_NAME) is None


def test_only_the_leader_runs_jobs(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two scheduler loops on one database: one runs the jobs, the other stands by."""
    ran: list[str] = []
    lock = threading.Lock()

    def fake_job_table(_config: object) -> list[jobs.Job]:
        from apscheduler.triggers.interval import IntervalTrigger

        def tick() -> None:
            with lock:
                ran.append(threading.current_thread().name)

        return [jobs.Job("tick", tick, IntervalTrigger(seconds=1), "test tick")]

    monkeypatch.setattr(jobs, "job_table", fake_job_table)
    # A short lease, so the leader checks its stop flag (with each renewal) every second.
    app.config.update(SCHEDULER_STANDBY_SECONDS=0.2, SCHEDULER_LEASE_SECONDS=3)
    elected: list[Leadership] = []
    original_acquire = Leadership.acquire

    def tracking_acquire(self: Leadership) -> bool:
        won = original_acquire(self)
        if won and self not in elected:
            elected.append(self)
        return won

    monkeypatch.setattr(Leadership, "acquire", tracking_acquire)
    stop = threading.Event()
    loops = [
        threading.Thread(target=jobs.run, args=(app, stop), name=name, daemon=True)
        for name in ("one", "two")
    ]
    for loop in loops:
        loop.start()
    try:
        deadline = time.monotonic() + 10
        while len(ran) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for loop in loops:
            loop.join(timeout=10)
    assert not any(loop.is_alive() for loop in loops)
    assert len(ran) >= 3
    assert len(elected) == 1  # the other loop never won the election
