"""The job table, `flask scheduler list`, and the nightly audit-chain check."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import text

from compliance.audit.services import Actor, record
from compliance.database import begin_write
from compliance.extensions import db
from compliance.scheduler import jobs


def test_scheduler_list_shows_the_audit_check(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["scheduler", "list"])

    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("audit-verify"))
    assert "hour='3'" in line
    assert "Check the audit trail's hash chain" in line


def test_job_ids_are_unique(app: Flask) -> None:
    table = jobs.job_table(app.config)

    assert len({job.id for job in table}) == len(table)
    assert "audit-verify" in {job.id for job in table}


def test_audit_check_hour_follows_the_setting(app: Flask) -> None:
    table = jobs.job_table({**app.config, "SCHEDULER_AUDIT_VERIFY_HOUR": 5})

    audit_job = next(job for job in table if job.id == "audit-verify")
    assert "hour='5'" in str(audit_job.trigger)


def _write_events(count: int) -> None:
    for n in range(count):
        begin_write()
        record(Actor.system("test"), "test.written", "thing", n)
        db.session.commit()


def test_audit_job_logs_an_intact_trail(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    with app.app_context():
        _write_events(3)
        with caplog.at_level(logging.INFO, logger=jobs.log.name):
            jobs.verify_audit_chain()

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "audit trail intact: 3 events")
    ]


def test_audit_job_logs_a_broken_trail(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    with app.app_context():
        _write_events(3)
        db.session.execute(text("UPDATE audit_events SET summary = 'x' WHERE id = 2"))
        db.session.commit()
        with caplog.at_level(logging.INFO, logger=jobs.log.name):
            jobs.verify_audit_chain()

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "audit trail broken at event 2: its content does not match its hash")
    ]


def test_jobs_run_in_an_app_context(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """The scheduler thread has no app context of its own; the wrapper provides one."""
    wrapped = jobs._in_app_context(app, jobs.verify_audit_chain)

    with caplog.at_level(logging.INFO, logger=jobs.log.name):
        wrapped()

    assert wrapped.__name__ == "verify_audit_chain"
    assert caplog.records[-1].getMessage() == "audit trail intact: 0 events"


class FakeScheduler:
    """Stands in for APScheduler's BlockingScheduler: records the jobs instead of blocking."""

    instances: list[FakeScheduler] = []

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.jobs: list[tuple[Any, Any, dict[str, Any]]] = []
        self.started = False
        FakeScheduler.instances.append(self)

    def add_job(self, func: Any, trigger: Any, **options: Any) -> None:
        self.jobs.append((func, trigger, options))

    def start(self) -> None:
        self.started = True


def test_run_schedules_every_job_once(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    FakeScheduler.instances.clear()
    monkeypatch.setattr(jobs, "BlockingScheduler", FakeScheduler)
    stop = threading.Event()

    def start_then_stop(self: FakeScheduler) -> None:
        self.started = True
        stop.set()  # the fake returns at once; end the elect-and-run loop after one round

    monkeypatch.setattr(FakeScheduler, "start", start_then_stop)

    jobs.run(app, stop)

    [scheduler] = FakeScheduler.instances
    assert scheduler.started
    assert scheduler.options == {"timezone": "UTC"}
    assert [options["id"] for _, _, options in scheduler.jobs] == [
        *(job.id for job in jobs.job_table(app.config)),
        "scheduler-lease",  # the leader renews its lease as a job of its own
    ]
    for _, _, options in scheduler.jobs:
        assert options["replace_existing"] and options["coalesce"]
        assert options["max_instances"] == 1
    func, _, _ = scheduler.jobs[0]
    with caplog.at_level(logging.INFO, logger=jobs.log.name):
        func()  # outside any app context, as in the scheduler's worker thread
    assert caplog.records[-1].getMessage() == "audit trail intact: 0 events"


def test_scheduler_run_command_stops_cleanly(
    runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(app: Flask, stop: object = None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "run", interrupted)

    result = runner.invoke(args=["scheduler", "run"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Scheduler running; Ctrl-C stops it.",
        "Scheduler stopped.",
    ]
