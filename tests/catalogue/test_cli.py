"""`flask catalogue load`: what it prints, and its exit code when the files are bad."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor
from compliance.catalogue.models import Obligation, Regulation
from compliance.extensions import db
from compliance.mapping import services as mapping_services
from compliance.mapping.models import Control
from tests.conftest import DATA


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    return root


def counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Regulation.id))) or 0,
            db.session.scalar(select(func.count(Obligation.id))) or 0,
            db.session.scalar(select(func.count(AuditEvent.id))) or 0,
        )


def test_first_load_prints_counts(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["catalogue", "load"])  # CATALOGUE_DIR: tests/data/catalogue

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Loaded 7 files:",
        "  control: 3 created",
        "  jurisdiction: 2 created",
        "  mapping: 2 created",
        "  obligation: 4 created",
        "  regulation: 2 created",
        "  regulator: 2 created",
        "  topic: 4 created",
    ]
    assert counts(app)[:2] == (2, 4)


def test_second_load_says_no_changes(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["catalogue", "load"])
    events = counts(app)[2]

    result = runner.invoke(args=["catalogue", "load"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "No changes: the database already matches the 7 catalogue files.\n"
    )
    assert "  obligation: 4 unchanged" in result.stdout
    assert counts(app)[2] == events


def test_load_from_a_directory_argument(
    app: Flask, runner: FlaskCliRunner, catalogue: Path
) -> None:
    (catalogue / "gb/test-osa.yaml").unlink()

    result = runner.invoke(args=["catalogue", "load", str(catalogue)])

    assert result.exit_code == 0, result.output
    assert "  regulation: 1 created" in result.stdout
    assert counts(app)[:2] == (1, 3)


def test_bad_catalogue_is_refused(app: Flask, runner: FlaskCliRunner, catalogue: Path) -> None:
    runner.invoke(args=["catalogue", "load", str(catalogue)])
    before = counts(app)
    dsa = catalogue / "eu/test-dsa.yaml"
    dsa.write_text(dsa.read_text(encoding="utf-8").replace("2022-10-19", "2022-13-45"))

    result = runner.invoke(args=["catalogue", "load", str(catalogue)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "catalogue/eu/test-dsa.yaml:8: '2022-13-45' is not a valid date (use YYYY-MM-DD) "
        "(at dates.adopted)",
        "The catalogue has 1 problem(s); nothing was loaded.",
    ]
    assert counts(app) == before


def test_load_names_the_controls_it_left_alone(
    app: Flask, runner: FlaskCliRunner, catalogue: Path
) -> None:
    runner.invoke(args=["catalogue", "load", str(catalogue)])
    with app.app_context():
        row = db.session.scalars(select(Control).filter_by(code="TS-TR-01")).one()
        mapping_services.update_control(
            row.id,
            mapping_services.ControlInput(
                row.code, "Our report", row.description, row.domain, row.owner_team, row.status, 90
            ),
            actor=Actor.system("test"),
        )
    controls = catalogue / "controls.yaml"
    controls.write_text(
        controls.read_text(encoding="utf-8").replace("status: partial", "status: implemented")
    )

    result = runner.invoke(args=["catalogue", "load", str(catalogue)])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No changes")
    assert "  control: 1 kept local, 2 unchanged" in result.stdout
    assert result.stdout.endswith(
        "  kept the app's edits to control TS-TR-01 (the library's version changed)\n"
    )


def test_missing_directory_is_refused(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["catalogue", "load", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert "catalogue directory not found" in result.stderr


def test_stats_after_a_load(runner: FlaskCliRunner) -> None:
    runner.invoke(args=["catalogue", "load"])

    result = runner.invoke(args=["catalogue", "stats"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2 instruments and 4 obligations")
