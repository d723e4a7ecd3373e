"""`flask catalogue ...`: check and load the files in CATALOGUE_DIR."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from compliance.catalogue import loader
from compliance.catalogue.stats import catalogue_stats
from compliance.catalogue.validation import catalogue_files

cli = AppGroup("catalogue", help="Check and load the regulation catalogue.")

_DIRECTORY = click.argument(
    "directory", required=False, type=click.Path(file_okay=False, path_type=Path)
)


def _directory(directory: Path | None) -> Path:
    return directory or Path(current_app.config["CATALOGUE_DIR"])


@contextmanager
def _progress(root: Path, label: str) -> Iterator[Callable[[Path], None] | None]:
    """A progress bar over the files, on a terminal only (logs stay clean)."""
    if not sys.stdout.isatty() or not root.is_dir():
        yield None
        return
    with click.progressbar(length=len(catalogue_files(root)), label=label) as bar:
        yield lambda _path: bar.update(1)


@cli.command("validate")
@_DIRECTORY
def validate_command(directory: Path | None) -> None:
    """Check every catalogue file; print each problem as path:line: message."""
    root = _directory(directory)
    with _progress(root, "Checking") as on_file:
        catalogue = loader.validate_catalogue(root, on_file)
    for problem in catalogue.problems:
        click.secho(str(problem), fg="red", err=True)
    if catalogue.problems:
        click.echo(f"{len(catalogue.problems)} problem(s) in {catalogue.files} file(s).", err=True)
        sys.exit(1)
    click.echo(
        f"OK: {catalogue.files} files, {len(catalogue.instruments)} instruments, "
        f"{len(catalogue.obligation_paths())} obligations, {len(catalogue.controls)} controls, "
        f"{len(catalogue.mappings)} mappings."
    )


@cli.command("load")
@_DIRECTORY
def load_command(directory: Path | None) -> None:
    """Add or update the catalogue in one transaction; retire what left the files."""
    root = _directory(directory)
    try:
        with _progress(root, "Loading") as on_file:
            report = loader.load_catalogue(root, on_file=on_file)
    except loader.CatalogueInvalid as error:
        for line in error.details:
            click.secho(line, fg="red", err=True)
        click.secho(error.message, fg="red", err=True)
        sys.exit(1)
    if not report.changed:
        click.echo(f"No changes: the database already matches the {report.files} catalogue files.")
    else:
        click.echo(f"Loaded {report.files} files:")
    for line in report.lines():
        click.echo(f"  {line}")
    for item in report.kept_local:
        click.echo(f"  kept the app's edits to {item} (the library's version changed)")


@cli.command("stats")
def stats_command() -> None:
    """Print counts by level, jurisdiction, status and topic, and the mapping coverage."""
    stats = catalogue_stats()
    click.echo(
        f"{stats.instruments} instruments and {stats.obligations} obligations in "
        f"{stats.jurisdictions} jurisdictions; {stats.controls} controls, "
        f"{stats.mappings} mappings."
    )
    for title, table in (
        ("By level", stats.by_level),
        ("By jurisdiction", stats.by_jurisdiction),
        ("By status", stats.by_status),
        ("By topic", stats.by_topic),
    ):
        click.echo(f"\n{title + ':':36} {'instruments':>11}  {'obligations':>11}")
        for name, (instruments, obligations) in table.items():
            click.echo(f"  {name:34} {instruments:>11}  {obligations:>11}")
    cover = stats.coverage
    click.echo(
        f"\nCoverage of binding instruments' obligations: {cover.mapped} of "
        f"{cover.needing_control} that need a control are mapped ({cover.ratio:.1%}); "
        f"{cover.no_control} more need no control (reason given); {cover.obligations} in all."
    )
