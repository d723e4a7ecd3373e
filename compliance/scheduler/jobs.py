"""The job table and the scheduler loop. Each job is one service call, also a CLI command."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from compliance.alerts import outbox as alerts_outbox
from compliance.alerts import services as alerts
from compliance.audit import services as audit
from compliance.feeds import services as feeds
from compliance.scheduler.leader import Leadership
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


def send_alerts() -> None:
    """Deliver the alert messages that are due (`flask alerts send`).

    The outbox rows carry their own due times and retry state, so a missed tick costs only
    delay, and a send interrupted by a crash is picked up again (compliance.alerts.outbox).
    """
    alerts_outbox.send_due()  # logs its own summary


def raise_alert_dates() -> None:
    """Deadline alerts (30, 7, 1 days ahead) and escalations of unacknowledged actions."""
    deadlines = alerts.raise_deadlines()
    escalations = alerts.escalate_unacknowledged()
    log.info("alerts: %d deadline events, %d escalations", deadlines.events, escalations.escalated)


def send_digest(cadence: str) -> Callable[[], None]:
    def bundle_and_send() -> None:
        report = alerts_outbox.bundle_digests(cadence)
        log.info("alerts: %d %s digests holding %d alerts", report.messages, cadence, report.items)
        alerts_outbox.send_due()

    bundle_and_send.__name__ = f"send_{cadence}_digest"
    return bundle_and_send


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
        Job(
            "alerts-send",
            send_alerts,
            IntervalTrigger(seconds=int(config["SCHEDULER_ALERTS_SEND_SECONDS"]), timezone="UTC"),
            "Send the alert e-mails that are due",
        ),
        Job(
            "alerts-dates",
            raise_alert_dates,
            CronTrigger(hour=config["SCHEDULER_DIGEST_HOUR"], minute=0, timezone="UTC"),
            "Raise deadline alerts and escalate unacknowledged actions",
        ),
        Job(
            "alerts-digest-daily",
            send_digest("daily"),
            CronTrigger(hour=config["SCHEDULER_DIGEST_HOUR"], minute=5, timezone="UTC"),
            "Bundle and send the daily digests",
        ),
        Job(
            "alerts-digest-weekly",
            send_digest("weekly"),
            CronTrigger(
                day_of_week="mon", hour=config["SCHEDULER_DIGEST_HOUR"], minute=10, timezone="UTC"
            ),
            "Bundle and send the weekly digests",
        ),
    ]


def run(app: Flask, stop: threading.Event | None = None) -> None:
    """Stand by until this process is the one active scheduler, then run the jobs.

    Several `flask scheduler run` processes may share a database (one per host, or a restart
    overlapping the old process); only the elected leader runs jobs (compliance.scheduler.
    leader). A leader that loses its lease stops its jobs and stands by again.
    """
    stop = stop or threading.Event()  # set by tests (or an embedding process) to end the loop
    standby_seconds = app.config["SCHEDULER_STANDBY_SECONDS"]
    with app.app_context():
        leadership = Leadership(ttl_seconds=app.config["SCHEDULER_LEASE_SECONDS"])
    while not stop.is_set():
        with app.app_context():
            leading = leadership.acquire()
        if not leading:
            log.info("another scheduler is active; standing by (%s)", leadership.holder)
            stop.wait(standby_seconds)
            continue
        log.info("elected as the active scheduler (%s)", leadership.holder)
        try:
            _run_jobs(app, leadership, stop)
        finally:
            with app.app_context():
                leadership.release()


def _run_jobs(app: Flask, leadership: Leadership, stop: threading.Event) -> None:
    """Run every job on its trigger until interrupted or until the lead is lost."""
    scheduler = BlockingScheduler(timezone="UTC")
    # coalesce: a backlog after downtime runs once; max_instances: never two copies at once.
    options = {"replace_existing": True, "coalesce": True, "max_instances": 1}
    for job in job_table(app.config):
        scheduler.add_job(_in_app_context(app, job.func), job.trigger, id=job.id, **options)
        log.info("scheduled %s: %s (%s)", job.id, job.description, job.trigger)

    def keep_the_lead() -> None:
        if stop.is_set():
            scheduler.shutdown(wait=False)
            return
        with app.app_context():
            if not leadership.renew():
                log.warning("lost the scheduler lease; stopping jobs and standing by")
                scheduler.shutdown(wait=False)

    # Renew well inside the lease, so one slow renewal does not hand the lead away.
    renew_every = IntervalTrigger(seconds=max(1, app.config["SCHEDULER_LEASE_SECONDS"] // 3))
    if stop.is_set():
        return
    scheduler.add_job(keep_the_lead, renew_every, id="scheduler-lease", **options)
    scheduler.start()


def _in_app_context(app: Flask, func: Callable[[], object]) -> Callable[[], None]:
    @functools.wraps(func)  # keeps the job's real name in APScheduler's log lines
    def run_job() -> None:
        with app.app_context():
            func()

    return run_job
