"""The job table and the scheduler loop. Each job is one service call, also a CLI command."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from compliance.audit import services as audit
from compliance.feeds import services as feeds
from compliance.search import services as search

log = logging.getLogger(__name__)


class Job(NamedTuple):
    id: str  # stable, so a restart replaces the job instead of adding a copy
    func: Callable[[], object]
    trigger: BaseTrigger
    description: str


def verify_audit_chain() -> None:
    """Log loudly if the audit trail no longer verifies."""
    report = audit.verify_chain()
    if report.intact:
        log.info("audit trail intact: %d events", report.checked)
    else:
        log.error("audit trail broken at event %s: %s", report.first_broken_id, report.reason)


def repair_search_index() -> None:
    """Bring the search index back in step with the database (`flask search check --repair`).

    Heals whatever request-time index writes missed: a lock held too long, a crashed worker.
    """
    report = search.check_index(repair=True)
    if report.in_step:
        log.info("search index in step: %d documents", report.indexed)
    else:
        log.warning(
            "search index repaired: %d missing, %d stale, %d extra%s",
            len(report.missing),
            len(report.stale),
            len(report.extra),
            f" ({report.problem})" if report.problem else "",
        )


def poll_due_feeds() -> None:
    """Poll the feed sources whose time has come (`flask feeds poll --due`).

    Due times live in the feed_sources table, not in the scheduler, so a restart or a missed
    tick costs only delay, and running it twice polls nothing twice.
    """
    feeds.poll_due_sources()  # logs its own summary


def job_table(config: Mapping[str, Any]) -> list[Job]:
    nightly = CronTrigger(hour=config["SCHEDULER_AUDIT_VERIFY_HOUR"], minute=0, timezone="UTC")
    return [
        Job("audit-verify", verify_audit_chain, nightly, "Check the audit trail's hash chain"),
        Job(
            "search-check",
            repair_search_index,
            CronTrigger(hour=config["SCHEDULER_AUDIT_VERIFY_HOUR"], minute=30, timezone="UTC"),
            "Check the search index against the database and repair it",
        ),
        Job(
            "feeds-poll",
            poll_due_feeds,
            IntervalTrigger(seconds=int(config["SCHEDULER_FEEDS_POLL_SECONDS"]), timezone="UTC"),
            "Poll the feed sources that are due",
        ),
    ]


def run(app: Flask) -> None:
    """Run every job on its trigger until interrupted."""
    scheduler = BlockingScheduler(timezone="UTC")
    # coalesce: a backlog after downtime runs once; max_instances: never two copies at once.
    options = {"replace_existing": True, "coalesce": True, "max_instances": 1}
    for job in job_table(app.config):
        scheduler.add_job(_in_app_context(app, job.func), job.trigger, id=job.id, **options)
        log.info("scheduled %s: %s (%s)", job.id, job.description, job.trigger)
    scheduler.start()


def _in_app_context(app: Flask, func: Callable[[], object]) -> Callable[[], None]:
    @functools.wraps(func)  # keeps the job's real name in APScheduler's log lines
    def run_job() -> None:
        with app.app_context():
            func()

    return run_job
