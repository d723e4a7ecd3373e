"""`flask profiles ...`: create, change and evaluate service profiles; export their register."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from flask.cli import AppGroup

from compliance.applicability import register, services
from compliance.applicability.inputs import ProfileInput, from_json, parse_users
from compliance.applicability.rules import OUTCOMES
from compliance.applicability.vocabulary import CHILD_ACCESS
from compliance.audit.services import Actor
from compliance.catalogue.schema import COMPANY_SIZES, FEATURES, SERVICE_KINDS
from compliance.errors import ComplianceError

cli = AppGroup(
    "profiles",
    help=(
        "Service profiles: what a service is, where it is offered, its users, children, "
        "features and company size; and which obligations apply to it. PROFILE is a "
        "profile's id or its name."
    ),
)
CLI_ACTOR = Actor.system("cli")
P = ParamSpec("P")
R = TypeVar("R")


def _fail(error: ComplianceError) -> click.ClickException:
    lines = [error.message, *(f"  - {detail}" for detail in error.details)]
    return click.ClickException("\n".join(lines))


def _options(command: Callable[P, R]) -> Callable[P, R]:
    """The fact options shared by create and update; each given one replaces that fact."""
    decorators = [
        click.option("--file", "file", type=click.File("r"), help="A JSON object of facts."),
        click.option("--name", help="Unique name, e.g. 'Main app'."),
        click.option("--description"),
        click.option("--kind", "kinds", multiple=True, type=click.Choice(SERVICE_KINDS)),
        click.option(
            "--jurisdiction", "jurisdictions", multiple=True, help="A code: EU, GB, US-TX, ..."
        ),
        click.option(
            "--users", "users", multiple=True, help="Monthly active users as CODE=N (repeat)."
        ),
        click.option("--children", type=click.Choice(CHILD_ACCESS)),
        click.option("--minimum-age", type=int, help="The youngest age allowed; -1 clears it."),
        click.option("--feature", "features", multiple=True, type=click.Choice(FEATURES)),
        click.option("--no-features", is_flag=True, help="Clear the features (update only)."),
        click.option("--size", type=click.Choice((*COMPANY_SIZES, "none"))),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def _merged(current: ProfileInput | None, options: dict[str, Any]) -> ProfileInput:
    """The profile from a --file (if any), then each option given on top."""
    handle = options.pop("file")
    body = json.load(handle) if handle is not None else {}
    if not isinstance(body, dict):
        raise click.ClickException("--file must hold a JSON object.")
    if options["kinds"]:
        body["kinds"] = list(options["kinds"])
    if options["jurisdictions"]:
        body["jurisdictions"] = list(options["jurisdictions"])
    if options["features"] or options["no_features"]:
        body["features"] = list(options["features"])
    if options["users"]:
        body["monthly_users"] = parse_users(line.replace("=", ":") for line in options["users"])
    for option, name in (
        ("name", "name"),
        ("description", "description"),
        ("children", "child_access"),
    ):
        if options[option] is not None:
            body[name] = options[option]
    if options["minimum_age"] is not None:
        body["minimum_age"] = None if options["minimum_age"] < 0 else options["minimum_age"]
    if options["size"] is not None:
        body["company_size"] = None if options["size"] == "none" else options["size"]
    return from_json(body, current)


@cli.command("list")
def list_command() -> None:
    """List the profiles with how many obligations apply to each."""
    tallies = services.profile_tallies()
    profiles = services.list_profiles()
    if not profiles:
        click.echo("No service profile yet: add one with `flask profiles create`.")
    for profile in profiles:
        tally = tallies[profile.id]
        click.echo(
            f"{profile.id:>4}  {profile.name:32}  {tally.applies:>4} apply  "
            f"{tally.needs_judgement:>4} need judgement  {tally.does_not_apply:>4} do not apply"
        )


@cli.command("show")
@click.argument("profile")
def show_command(profile: str) -> None:
    """Print a profile's facts as JSON."""
    try:
        found = services.find_profile(profile)
    except ComplianceError as error:
        raise _fail(error) from error
    click.echo(json.dumps({"id": found.id, **found.snapshot()}, indent=2, ensure_ascii=False))


@cli.command("create")
@_options
def create_command(**options: Any) -> None:
    """Create a profile from options and/or a JSON --file (name, kinds, jurisdictions and
    children are required).

    Example: flask profiles create --name "Main app" --kind social-media --jurisdiction EU
    --users EU=52000000 --children likely --minimum-age 13 --feature recommender --size large
    """
    try:
        created = services.create_profile(_merged(None, options), actor=CLI_ACTOR)
    except ComplianceError as error:
        raise _fail(error) from error
    tally = services.evaluate_profile(created.id).tally()
    click.echo(
        f"Created profile {created.id} '{created.name}': {tally.applies} obligations apply, "
        f"{tally.needs_judgement} need judgement, {tally.does_not_apply} do not apply."
    )


@cli.command("update")
@click.argument("profile")
@_options
def update_command(profile: str, **options: Any) -> None:
    """Change some facts of a profile; print which obligations changed outcome."""
    try:
        found = services.find_profile(profile)
        data = _merged(ProfileInput.of(found), options)
        update = services.update_profile(found.id, data, actor=CLI_ACTOR)
    except ComplianceError as error:
        raise _fail(error) from error
    _print_update(update)


def _print_update(update: services.ProfileUpdate) -> None:
    if update.event_id is None:
        click.echo("Nothing changed.")
        return
    if not update.changes:
        click.echo(f"Saved '{update.profile.name}'. No obligation changed its outcome.")
        return
    click.echo(f"Saved '{update.profile.name}': " + "; ".join(update.changes.summary()) + ".")
    for change in update.changes.changes:
        click.echo(f"  {change.before} -> {change.item.verdict.explanation}")


@cli.command("delete")
@click.argument("profile")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(profile: str, yes: bool) -> None:
    """Delete a profile (the audit trail keeps what it stated)."""
    try:
        found = services.find_profile(profile)
        if not yes:
            click.confirm(f"Delete profile '{found.name}'?", abort=True)
        services.delete_profile(found.id, actor=CLI_ACTOR)
    except ComplianceError as error:
        raise _fail(error) from error
    click.echo(f"Deleted profile '{found.name}'.")


@cli.command("evaluate")
@click.argument("profile")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only obligations with this outcome.")
@click.option("--jurisdiction", default="", help="Only instruments of this jurisdiction code.")
@click.option("--instrument", default="", help="Only this instrument (its slug).")
def evaluate_command(profile: str, outcome: str | None, jurisdiction: str, instrument: str) -> None:
    """Print each obligation's outcome for the profile and why, then the counts."""
    try:
        found = services.find_profile(profile)
        evaluation = services.evaluate_profile(found.id)
    except ComplianceError as error:
        raise _fail(error) from error
    items = evaluation.filtered(
        outcome=outcome or "", jurisdiction=jurisdiction.upper(), instrument=instrument.lower()
    )
    for item in items:
        click.echo(f"{item.path}\t{item.verdict.explanation}")
    tally = evaluation.tally()
    click.echo(
        f"{found.name}: {tally.applies} apply, {tally.needs_judgement} need judgement, "
        f"{tally.does_not_apply} do not apply ({len(items)} listed).",
        err=True,
    )


@cli.command("questions")
@click.argument("profile")
def questions_command(profile: str) -> None:
    """List the judgement questions that decide this profile's open obligations."""
    try:
        found = services.find_profile(profile)
        asked = services.evaluate_profile(found.id).questions()
    except ComplianceError as error:
        raise _fail(error) from error
    for number, question in enumerate(asked, start=1):
        answer = {None: "unanswered", True: "yes", False: "no"}[question.answer]
        click.echo(f"{number:>3}. [{answer}] {question.text} ({len(question.obligations)})")


@cli.command("answer")
@click.argument("profile")
@click.argument("question")
@click.argument("answer", type=click.Choice(("yes", "no", "clear")))
def answer_command(profile: str, question: str, answer: str) -> None:
    """Answer a judgement question, by its number in `questions` or its exact text."""
    try:
        found = services.find_profile(profile)
        asked = [q.text for q in services.evaluate_profile(found.id).questions()]
        if question.isdigit() and 1 <= int(question) <= len(asked):
            question = asked[int(question) - 1]
        value = {"yes": True, "no": False, "clear": None}[answer]
        update = services.answer_questions(found.id, {question: value}, actor=CLI_ACTOR)
    except ComplianceError as error:
        raise _fail(error) from error
    _print_update(update)


@cli.command("export")
@click.argument("profile")
@click.option("--format", "fmt", type=click.Choice(tuple(register.FORMATS)), default="csv")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write; default stdout."
)
def export_command(profile: str, fmt: str, out: Path | None) -> None:
    """Write the statement-of-applicability register: every obligation, its outcome, the
    explanation and the mapped controls."""
    try:
        found = services.find_profile(profile)
        document = services.statement_of_applicability(found.id)
    except ComplianceError as error:
        raise _fail(error) from error
    data = register.render(document, fmt)
    if out is None:
        if fmt == "xlsx" and sys.stdout.isatty():
            raise click.ClickException("An XLSX workbook needs --out FILE.")
        click.echo(data, nl=False)  # bytes go to the binary stream
        return
    out.write_bytes(data)
    click.echo(f"Wrote {len(document.rows)} obligations for '{found.name}' to {out}.")
