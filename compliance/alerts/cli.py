"""`flask alerts send|digest|deadlines|escalate|outbox`: the scheduler's alert jobs, by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from compliance.alerts import outbox, services
from compliance.alerts.models import AlertMessage
from compliance.extensions import db

cli = AppGroup("alerts", help="Change alerts by e-mail.")


@cli.command("send")
@click.option("--limit", type=click.IntRange(1, 100_000), default=None, help="At most this many.")
def send_command(limit: int | None) -> None:
    """Deliver the queued messages that are due (what the scheduler runs every minute)."""
    report = outbox.send_due(limit=limit)
    click.echo(
        f"{report.sent} sent, {report.retrying} to retry, {report.failed} failed, "
        f"{report.cancelled} cancelled, {report.recovered} interrupted sends recovered"
    )
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    if report.failed:
        raise SystemExit(1)


@cli.command("digest")
@click.option(
    "--cadence", type=click.Choice(["daily", "weekly"]), required=True, help="Which digests."
)
@click.option("--no-send", is_flag=True, help="Only bundle; the next send delivers them.")
def digest_command(cadence: str, no_send: bool) -> None:
    """Bundle pending alerts into one digest per subscriber, then send them."""
    report = outbox.bundle_digests(cadence)
    click.echo(
        f"{report.messages} {cadence} digests holding {report.items} alerts"
        + (f"; {report.dropped} alerts of ended subscriptions left out" if report.dropped else "")
    )
    if not no_send:
        sent = outbox.send_due()
        click.echo(f"{sent.sent} sent, {sent.retrying} to retry, {sent.failed} failed")


@cli.command("deadlines")
def deadlines_command() -> None:
    """Raise the alerts for obligation dates 30, 7 and 1 days ahead."""
    report = services.raise_deadlines()
    click.echo(f"{report.events} deadline alerts, {report.deliveries} deliveries")
    for subject in report.subjects:
        click.echo(f"  {subject}")


@cli.command("escalate")
def escalate_command() -> None:
    """Escalate "action required" alerts nobody acknowledged in time to the admins."""
    report = services.escalate_unacknowledged()
    click.echo(f"{report.escalated} escalated, {report.settled} settled without escalation")


@cli.command("outbox")
@click.option("--state", default="", help="Only messages in this state.")
def outbox_command(state: str) -> None:
    """List the outbox, newest first."""
    summary = services.outbox_summary()
    click.echo(
        ", ".join(f"{count} {name}" for name, count in sorted(summary.counts.items()))
        or "The outbox is empty."
    )
    click.echo(f"{summary.waiting_for_digest} alerts waiting for a digest")
    query = db.select(AlertMessage).order_by(AlertMessage.id.desc()).limit(50)
    if state:
        query = query.where(AlertMessage.state == state)
    for message in db.session.scalars(query):
        error = f"  [{message.last_error[:80]}]" if message.last_error else ""
        click.echo(
            f"{message.id:>6}  {message.state:<9} {message.attempts:>2}x  {message.address}"
            f"  {message.message_id}{error}"
        )
