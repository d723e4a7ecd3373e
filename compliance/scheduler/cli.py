"""`flask scheduler ...`: run or list the periodic jobs."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from compliance.scheduler import jobs

cli = AppGroup("scheduler", help="Run the periodic jobs.")


@cli.command("run")
def run_command() -> None:
    """Run the scheduler in this process until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    click.echo("Scheduler running; Ctrl-C stops it.")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        jobs.run(app)
    except (KeyboardInterrupt, SystemExit):
        click.echo("Scheduler stopped.")


@cli.command("list")
def list_command() -> None:
    """List the jobs and their triggers."""
    for job in jobs.job_table(current_app.config):
        click.echo(f"{job.id:20} {job.trigger}  {job.description}")
