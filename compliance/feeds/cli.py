"""`flask feeds ...`: add, list, enable, disable and poll feed sources by hand."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from compliance.audit.services import Actor
from compliance.errors import ComplianceError
from compliance.feeds import services

cli = AppGroup("feeds", help="Manage and poll the regulators' feed sources.")
CLI_ACTOR = Actor.system("cli")


@cli.command("add")
@click.argument("url")
@click.option("--name", default="", help="What the feed is (default: its host name).")
@click.option("--interval", type=int, default=None, help="Minutes between polls.")
@click.option("--disabled", is_flag=True, help="Add it without polling it yet.")
def add_command(url: str, name: str, interval: int | None, disabled: bool) -> None:
    """Add a feed source by URL."""
    try:
        source = services.add_source(
            url, name=name, interval_minutes=interval, enabled=not disabled, actor=CLI_ACTOR
        )
    except ComplianceError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Added feed source #{source.id}: {source.name} ({source.url}).")


@cli.command("list")
@click.option("--problems", is_flag=True, help="Only sources that are failing or flagged.")
def list_command(problems: bool) -> None:
    """List the sources with their status, failures and next poll."""
    sources = services.all_sources(problems_only=problems)
    if not sources:
        click.echo("No feed sources." if not problems else "No source is failing.")
        return
    for source in sources:
        state = source.last_status
        if not source.enabled:
            state += " (disabled)"
        if source.flagged_at is not None:
            state += " FLAGGED"
        next_poll = source.next_poll_at.strftime("%Y-%m-%d %H:%M") if source.next_poll_at else "-"
        click.echo(
            f"{source.id:>4}  {state:<24} {source.consecutive_failures:>3} fail  "
            f"next {next_poll:<16}  {source.name[:50]}  {source.url}"
        )
        if source.last_error:
            click.echo(f"      {source.last_error[:160]}")


@cli.command("poll")
@click.option("--source", "source_id", type=int, default=None, help="Only this source, now.")
@click.option("--due", is_flag=True, help="The sources whose time has come (the default).")
@click.option("--all", "everything", is_flag=True, help="Every enabled source, due or not.")
@click.option("--force", is_flag=True, help="With --source: skip the conditional GET.")
def poll_command(source_id: int | None, due: bool, everything: bool, force: bool) -> None:
    """Poll feed sources now: the same code the scheduler runs."""
    if sum((source_id is not None, due, everything)) > 1:
        raise click.UsageError("Give one of --source ID, --due and --all.")
    try:
        if source_id is not None:
            outcome = services.poll_source(source_id, force=force)
            outcomes = [outcome]
            click.echo(
                f"#{outcome.source_id} {outcome.name}: {outcome.status}"
                + (f" ({outcome.error})" if outcome.error else "")
                + f"; {outcome.new} new, {outcome.revised} revised, "
                f"{outcome.reviews_opened} review(s) opened"
            )
        else:
            report = services.poll_all_sources() if everything else services.poll_due_sources()
            outcomes = report.outcomes
            for outcome in outcomes:
                if outcome.status in ("failed", "refused", "gone"):
                    click.echo(
                        f"#{outcome.source_id} {outcome.name}: {outcome.status} ({outcome.error})"
                    )
            click.echo(report.summary())
    except ComplianceError as error:
        raise click.ClickException(error.message) from error
    if any(o.status in ("failed", "refused") for o in outcomes) and source_id is not None:
        sys.exit(1)


@cli.command("enable")
@click.argument("source_id", type=int)
def enable_command(source_id: int) -> None:
    """Enable a source; it becomes due at once."""
    _toggle(source_id, True)


@cli.command("disable")
@click.argument("source_id", type=int)
def disable_command(source_id: int) -> None:
    """Disable a source; it keeps its entries and reviews."""
    _toggle(source_id, False)


def _toggle(source_id: int, enabled: bool) -> None:
    try:
        source = services.update_source(source_id, enabled=enabled, actor=CLI_ACTOR)
    except ComplianceError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"#{source.id} {source.name}: {'enabled' if enabled else 'disabled'}.")
