"""`flask reviews list`: the change-review queue in a terminal."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from compliance.errors import ComplianceError
from compliance.extensions import db
from compliance.reviews import services
from compliance.reviews.models import STATES

cli = AppGroup("reviews", help="The change-review queue.")


@cli.command("list")
@click.option(
    "--state",
    type=click.Choice(["open", "all", *STATES]),
    default="open",
    show_default=True,
    help="Which reviews.",
)
@click.option("--assignee", default="", help="An e-mail, or 'none' for unassigned ones.")
@click.option("--regulation", default="", help="An instrument's slug, e.g. eu-dsa.")
@click.option("--overdue", is_flag=True, help="Only open reviews past their due date.")
def list_command(state: str, assignee: str, regulation: str, overdue: bool) -> None:
    """List change reviews, newest first."""
    try:
        filters = services.ReviewFilter.from_args(
            {"state": state, "assignee": assignee, "regulation": regulation, "overdue": overdue}
        )
    except ComplianceError as error:
        raise click.ClickException(error.message) from error
    reviews = list(db.session.scalars(services.reviews_query(filters)))
    if not reviews:
        click.echo("No reviews.")
        return
    for review in reviews:
        instruments = ", ".join(m.regulation.slug for m in review.matches[:3]) or "-"
        who = review.assignee.email if review.assignee else "unassigned"
        due = review.due_on.isoformat() if review.due_on else "-"
        click.echo(
            f"#{review.id:<5} {review.state:<16} {review.score:4.2f}  due {due:<10}  {who:<28} "
            f"{instruments:<30} {review.entry.title[:70]}"
        )
    counts = services.state_counts()
    click.echo(
        f"{len(reviews)} shown; " + ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s])
    )
