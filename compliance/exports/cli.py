"""`flask export ...` (mappings, audit trail, audit pack, OSCAL check) and `flask import ...`."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any

import click
from flask.cli import AppGroup

from compliance.audit.services import Actor, AuditFilter
from compliance.errors import ComplianceError
from compliance.exports import services
from compliance.exports.formats import FORMATS
from compliance.exports.importer import ImportPlan
from compliance.exports.rows import ExportFilter
from compliance.mapping.models import CONTROL_DOMAINS, CONTROL_STATUSES, MAPPING_STATES

export_cli = AppGroup(
    "export", help="Export control mappings, the audit trail and audit packs; check OSCAL."
)
import_cli = AppGroup("import", help="Import controls and mappings (CSV, XLSX) or OSCAL catalogs.")
CLI_ACTOR = Actor.system("cli")

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


def _iso(value: Any) -> str:
    return value.date().isoformat() if value is not None else ""


def _fail(error: ComplianceError) -> None:
    for line in error.details:
        click.secho(f"  {line}", fg="red", err=True)
    click.secho(error.message, fg="red", err=True)
    sys.exit(1)


@contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    """A file written beside path and moved over it only when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _guarded(action: Callable[[], None]) -> None:
    try:
        action()
    except ComplianceError as error:
        _fail(error)


@export_cli.command("mappings")
@click.option("--format", "fmt", required=True, type=click.Choice(list(FORMATS)))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The file to write; with --format oscal, a folder (or a .zip file) for the three "
    "OSCAL documents.",
)
@click.option("--as-of", type=_DATE, help="The mappings and catalogue as they stood that day.")
@click.option("--jurisdiction", default="", help="A jurisdiction code; includes those below.")
@click.option("--instrument", default="", help="An instrument's slug, e.g. eu-dsa.")
@click.option("--topic", default="", help="A topic slug, e.g. minors.")
@click.option("--owner", default="", help="A control owner team.")
@click.option("--state", default="", type=click.Choice(["", *MAPPING_STATES]))
@click.option("--bom", is_flag=True, help="CSV: start with a UTF-8 byte-order mark (Excel).")
def mappings_command(
    fmt: str,
    out: Path,
    as_of: Any,
    jurisdiction: str,
    instrument: str,
    topic: str,
    owner: str,
    state: str,
    bom: bool,
) -> None:
    """Export the control mappings, one row per obligation-control pair."""

    def run() -> None:
        filters = ExportFilter.from_args(
            {
                "jurisdiction": jurisdiction,
                "instrument": instrument,
                "topic": topic,
                "owner": owner,
                "state": state,
                "as_of": _iso(as_of),
            }
        )
        if fmt == "oscal" and out.suffix.lower() != ".zip":
            files = services.write_oscal_folder(filters, out, actor=CLI_ACTOR)
            for name, digest in files.items():
                click.echo(f"{out / name}  sha256 {digest}")
            return
        with _atomic(out) as file:
            exported = services.write_mappings(filters, fmt, file, actor=CLI_ACTOR, bom=bom)
        click.echo(
            f"Wrote {exported.summary.mappings} mappings ({filters.describe()}) to {out} as "
            f"{FORMATS[fmt].label}; sha256 {exported.sha256}."
        )

    _guarded(run)


@export_cli.command("audit-trail")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "json"]))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--action", default="", help="Action prefix, e.g. mapping. or catalogue.")
@click.option("--entity-type", default="", help="e.g. mapping, control, regulation.")
@click.option("--actor", default="", help="Part of the actor's label (an e-mail, 'cli').")
@click.option("--from", "from_on", type=_DATE, help="First day (UTC), inclusive.")
@click.option("--to", "to_on", type=_DATE, help="Last day (UTC), inclusive.")
def audit_trail_command(
    fmt: str, out: Path, action: str, entity_type: str, actor: str, from_on: Any, to_on: Any
) -> None:
    """Export the audit trail, oldest first, with the filters of the audit page."""

    def run() -> None:
        filters = AuditFilter.from_args(
            {
                "action": action,
                "entity_type": entity_type,
                "actor": actor,
                "from": _iso(from_on),
                "to": _iso(to_on),
            }
        )
        with _atomic(out) as file:
            exported = services.write_trail(filters, fmt, file, actor=CLI_ACTOR)
        click.echo(f"Wrote {exported.summary.mappings} events to {out}; sha256 {exported.sha256}.")

    _guarded(run)


@export_cli.command("pack")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "from_on", type=_DATE, help="First day of the period (UTC).")
@click.option("--to", "to_on", type=_DATE, help="Last day of the period (UTC); default today.")
def pack_command(out: Path, from_on: Any, to_on: Any) -> None:
    """Write an audit pack: mappings in all four formats as of the period's end, the audit
    trail of the period, and a manifest of SHA-256 hashes (SHA256SUMS, manifest.json)."""

    def run() -> None:
        with _atomic(out) as file:
            packed = services.write_pack(
                file, from_on=_day(from_on), to_on=_day(to_on), actor=CLI_ACTOR
            )
        click.echo(f"Wrote {out}: {len(packed.files)} files; sha256 {packed.sha256}.")
        for note in packed.notes:
            click.echo(f"  note: {note}")

    _guarded(run)


@export_cli.command("check-oscal")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def check_oscal_command(path: Path) -> None:
    """Validate exported OSCAL documents (a folder or a .zip) against the OSCAL 1.2.3 JSON
    Schemas and the app's own checks (relationships, unique ids, id-refs that resolve)."""
    try:
        results = services.check_oscal(path)
    except ComplianceError as error:
        _fail(error)
        return
    failed = False
    for name, problems in results.items():
        if problems:
            failed = True
            click.secho(f"{name}: INVALID ({len(problems)} problem(s))", fg="red")
            for problem in problems:
                click.echo(f"  {problem}")
        else:
            click.echo(f"{name}: valid")
    sys.exit(1 if failed else 0)


def _report(plan: ImportPlan, dry_run: bool, verbose: bool) -> None:
    click.echo(f"{'Dry run' if dry_run else 'Imported'} {plan.source}: {plan.summary()}.")
    for change in plan.changes:
        if verbose or change.action != "unchanged":
            click.echo(f"  {change.describe()}")
    if dry_run and plan.changed:
        click.echo("Nothing was changed. Run again without --dry-run to apply.")


@import_cli.command("mappings")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--verbose", is_flag=True, help="Also list the rows that change nothing.")
def import_mappings_command(file: Path, dry_run: bool, verbose: bool) -> None:
    """Import controls and mappings from a CSV or XLSX file with a mapping export's columns.

    All or nothing; new and changed mappings become proposed, never approved."""

    def run() -> None:
        with file.open("rb") as stream:
            data = services.read_upload(stream)
        plan = services.import_table(file.name, data, actor=CLI_ACTOR, dry_run=dry_run)
        _report(plan, dry_run, verbose)

    _guarded(run)


@import_cli.command("catalog")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prefix", required=True, help="Put before each control id, e.g. NIST-.")
@click.option("--domain", required=True, type=click.Choice(CONTROL_DOMAINS))
@click.option("--owner", required=True, help="The owner team of the imported controls.")
@click.option(
    "--status", default="not-implemented", show_default=True, type=click.Choice(CONTROL_STATUSES)
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--verbose", is_flag=True, help="Also list the controls that change nothing.")
def import_catalog_command(
    file: Path, prefix: str, domain: str, owner: str, status: str, dry_run: bool, verbose: bool
) -> None:
    """Import an OSCAL catalog (JSON), e.g. NIST SP 800-53, as a framework of controls."""

    def run() -> None:
        with file.open("rb") as stream:
            data = services.read_upload(stream)
        plan = services.import_oscal_catalog(
            file.name,
            data,
            prefix=prefix,
            domain=domain,
            owner_team=owner,
            status=status,
            actor=CLI_ACTOR,
            dry_run=dry_run,
        )
        _report(plan, dry_run, verbose)

    _guarded(run)
