"""`flask audit ...`: check the audit trail's hash chain."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from compliance.audit import services

cli = AppGroup("audit", help="Check the audit trail.")


@cli.command("verify")
def verify_command() -> None:
    """Recompute the hash chain; exit 1 naming the first broken event."""
    report = services.verify_chain()
    if report.intact:
        click.echo(f"Audit trail intact: {report.checked} events checked.")
        return
    click.secho(
        f"Audit trail broken at event {report.first_broken_id}: {report.reason} "
        f"({report.checked} events before it are intact).",
        fg="red",
        err=True,
    )
    sys.exit(1)
