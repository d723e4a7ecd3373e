"""`flask search rebuild|check|query`: build, verify and try out the search index."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from compliance.applicability import services as applicability
from compliance.errors import ComplianceError
from compliance.search import services
from compliance.search.documents import SearchDocument

cli = AppGroup("search", help="Build, check and query the search index.")


@cli.command("rebuild")
def rebuild() -> None:
    """Recreate the index from the database (searches keep working meanwhile)."""
    total = services.count_documents()
    with click.progressbar(length=total, label="Indexing", show_pos=True) as bar:

        def advance(_: SearchDocument) -> None:
            bar.update(1)

        written = services.rebuild_index(on_document=advance)
    click.echo(f"Indexed {written} documents.")


@cli.command("check")
@click.option("--repair", is_flag=True, help="Fix every difference found.")
def check(repair: bool) -> None:
    """Compare the index with the database and report any difference."""
    report = services.check_index(repair=repair)
    if report.problem:
        click.secho(f"Index unreadable: {report.problem}", fg="red", err=True)
    click.echo(f"{report.indexed} documents indexed, {report.expected} in the database.")
    for label, ids in (
        ("missing", report.missing),
        ("stale", report.stale),
        ("extra", report.extra),
    ):
        if ids:
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            click.echo(f"{len(ids)} {label}: {shown}")
    if report.in_step:
        click.echo("The index is in step with the database.")
    elif report.repaired:
        click.secho("Repaired: the index now matches the database.", fg="green")
    else:
        click.secho("Out of step: run `flask search check --repair`.", fg="yellow")
        sys.exit(1)


@cli.command("query")
@click.argument("text", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--jurisdiction", default="", help="Only this jurisdiction (and those below it).")
@click.option("--kind", default="", help="regulation, obligation, control, feed-entry or review.")
@click.option("--page", default=1, type=click.IntRange(1))
@click.option(
    "--profile",
    "profile",
    default="",
    metavar="ID",
    help="Only the obligations that concern this service profile (its id, or its name).",
)
def query(
    text: tuple[str, ...], as_json: bool, jurisdiction: str, kind: str, page: int, profile: str
) -> None:
    """Search as an officer would, e.g. `flask search query "age verification UK"`."""
    args = {"q": " ".join(text), "jurisdiction": jurisdiction, "kind": kind, "page": str(page)}
    try:
        if profile:
            args["profile"] = str(applicability.find_profile(profile).id)
        request = services.SearchRequest.from_args(args, per_page=10)
        results = services.search(request, team=None)
    except ComplianceError as error:
        click.secho(error.message, fg="red", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(results_json(results), indent=2, ensure_ascii=False))
        return
    for notice in results.notices:
        click.secho(notice, fg="yellow")
    if results.corrected_from:
        click.echo(f"Showing results for “{results.searched}” (no results for the original).")
    elif results.suggestion:
        click.echo(f"Did you mean: {results.suggestion}")
    click.echo(f"{results.total} result(s)")
    if results.profile is not None:
        click.echo(f"Obligations limited to what concerns the profile {results.profile.name}.")
    for number, hit in enumerate(results.hits, start=(page - 1) * 10 + 1):
        label = f"{hit.context} {hit.ref}".strip()
        judgement = "  [needs judgement]" if hit.applicability == "needs-judgement" else ""
        click.echo(f"{number:>3}. [{hit.kind}] {hit.title}  ({label})  {hit.score:.2f}{judgement}")


def results_json(results: services.SearchResults) -> dict[str, object]:
    return {
        "query": results.searched,
        "total": results.total,
        "suggestion": results.suggestion,
        "notices": results.notices,
        "hits": [
            {
                "id": hit.doc_id,
                "kind": hit.kind,
                "title": hit.title,
                "ref": hit.ref,
                "context": hit.context,
                "score": hit.score,
                "applicability": hit.applicability or None,
            }
            for hit in results.hits
        ],
        "profile": results.profile.profile_id if results.profile is not None else None,
        "facets": {
            name: {value.value: value.count for value in values}
            for name, values in results.facets.items()
        },
    }
