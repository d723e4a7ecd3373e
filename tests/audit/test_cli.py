"""`flask audit verify`: exit 0 on an intact trail, 1 naming the first broken event."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, select, text, update

from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor, record
from compliance.database import begin_write
from compliance.extensions import db


def write_events(app: Flask, count: int) -> list[int]:
    with app.app_context():
        ids = []
        for n in range(count):
            begin_write()
            event = record(
                Actor.system("test"), "test.written", "thing", n, after={"role": "officer"}
            )
            db.session.commit()
            ids.append(event.id)
        return ids


def test_verify_intact(app: Flask, runner: FlaskCliRunner) -> None:
    write_events(app, 4)

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "Audit trail intact: 4 events checked.\n"


def test_verify_empty_trail(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 0
    assert "0 events checked" in result.stdout


def test_verify_names_an_edited_summary(app: Flask, runner: FlaskCliRunner) -> None:
    ids = write_events(app, 5)
    with app.app_context():
        db.session.execute(
            text("UPDATE audit_events SET summary = 'edited' WHERE id = :id"), {"id": ids[1]}
        )
        db.session.commit()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Audit trail broken at event {ids[1]}: its content does not match its hash "
        "(1 events before it are intact).\n"
    )


def test_verify_names_an_edited_after(app: Flask, runner: FlaskCliRunner) -> None:
    ids = write_events(app, 5)
    with app.app_context():
        table = AuditEvent.__table__
        db.session.execute(
            update(table).where(table.c.id == ids[3]).values(after={"role": "admin"})
        )
        db.session.commit()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"Audit trail broken at event {ids[3]}:" in result.stderr


def test_verify_names_the_event_after_a_deleted_one(app: Flask, runner: FlaskCliRunner) -> None:
    ids = write_events(app, 5)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[2]))
        db.session.commit()
        assert ids[2] not in db.session.scalars(select(AuditEvent.id)).all()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Audit trail broken at event {ids[3]}: its link to the previous event is broken"
    )


def test_verify_a_loaded_catalogue(runner: FlaskCliRunner, loaded_catalogue: None) -> None:
    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Audit trail intact: ")
