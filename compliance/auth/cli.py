"""`flask users ...`: create accounts and API tokens from the command line."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from compliance.audit.services import Actor
from compliance.auth import services
from compliance.auth.models import ROLES
from compliance.errors import ComplianceError

cli = AppGroup("users", help="Manage user accounts and API tokens.")
CLI_ACTOR = Actor.system("cli")


@cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default="")
@click.option("--team", default="", help="Owner team whose controls a manager sees.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(email: str, role: str, name: str, team: str, password_stdin: bool) -> None:
    """Create a user account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user(
            email, role=role, password=password, name=name, team=team, actor=CLI_ACTOR
        )
    except ComplianceError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Created {user.role} {user.email}.")


@cli.command("token")
@click.option("--email", required=True)
@click.option("--name", default="", help="A label to recognise the token by.")
@click.option(
    "--days",
    type=click.IntRange(0, 3650),
    default=None,
    help="Lifetime in days (0: never expires; default API_TOKEN_DAYS).",
)
def token_command(email: str, name: str, days: int | None) -> None:
    """Print a new API token for a user. It is shown this once; only its hash is kept."""
    try:
        issued = services.issue_token(email, name=name, days=days, actor=CLI_ACTOR)
    except ComplianceError as error:
        raise click.ClickException(error.message) from error
    click.echo(issued.token)
    expiry = issued.record.expires_at
    click.echo(
        f"Token '{issued.record.name}' for {email}, "
        f"{'expires ' + expiry.date().isoformat() if expiry else 'never expires'}. "
        "Store it now: it cannot be shown again.",
        err=True,
    )


@cli.command("list")
def list_command() -> None:
    """List accounts with their role, team and state."""
    for user in services.list_users():
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email:40} {user.role:8} {state:8} {user.team}")
