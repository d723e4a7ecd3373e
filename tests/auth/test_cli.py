"""`flask users create|token|list`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text

from compliance.auth import services
from compliance.auth.models import ApiToken, User
from compliance.extensions import db
from tests.conftest import PASSWORD


def create(
    runner: FlaskCliRunner, email: str, role: str = "officer", password: str = PASSWORD
) -> Result:
    return runner.invoke(
        args=["users", "create", "--email", email, "--role", role, "--password-stdin"],
        input=password + "\n",
    )


def test_create_user_from_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Dana@Example.org",
            "--role",
            "manager",
            "--name",
            "Dana",
            "--team",
            "Policy",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == "Created manager dana@example.org.\n"
    assert PASSWORD not in result.output
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        assert (user.email, user.role, user.name, user.team) == (
            "dana@example.org",
            "manager",
            "Dana",
            "Policy",
        )
        assert user.password_hash.startswith("$argon2id$")
        for table in ("users", "audit_events"):
            dump = str(db.session.execute(text(f"SELECT * FROM {table}")).all())  # noqa: S608
            assert PASSWORD not in dump
        assert services.authenticate("dana@example.org", PASSWORD, address="-").id == user.id


def test_create_user_with_a_prompted_password(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["users", "create", "--email", "eve@example.org", "--role", "auditor"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert services.authenticate("eve@example.org", PASSWORD, address="-").role == "auditor"


def test_duplicate_email_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    assert create(runner, "frank@example.org").exit_code == 0

    result = create(runner, "FRANK@example.org", role="admin")

    assert result.exit_code == 1
    assert "A user with e-mail frank@example.org already exists." in result.stderr
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 1


def test_short_password_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    result = create(runner, "gina@example.org", password="tooshort")

    assert result.exit_code == 1
    assert "at least 12 characters" in result.stderr
    with app.app_context():
        assert not services.has_users()


def test_empty_stdin_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    result = create(runner, "gina@example.org", password="")

    assert result.exit_code == 1
    assert "at least 12 characters" in result.stderr


def test_unknown_role_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    result = create(runner, "hal@example.org", role="root")

    assert result.exit_code != 0
    assert "'root' is not one of" in result.stderr
    with app.app_context():
        assert not services.has_users()


def test_token_is_printed_once_and_only_its_hash_is_stored(
    app: Flask, runner: FlaskCliRunner, make_user: Callable[..., User]
) -> None:
    user = make_user("officer", email="ivy@example.org")

    result = runner.invoke(args=["users", "token", "--email", "IVY@example.org", "--name", "CI"])

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith(services.TOKEN_PREFIX)
    assert "\n" not in token
    assert "Token 'CI' for IVY@example.org, expires " in result.stderr
    assert "it cannot be shown again" in result.stderr
    with app.app_context():
        row = db.session.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        for table in ("api_tokens", "audit_events"):
            dump = str(db.session.execute(text(f"SELECT * FROM {table}")).all())  # noqa: S608
            assert token not in dump
        found = services.user_for_token(token)
        assert found is not None and found.id == user.id


def test_token_that_never_expires(runner: FlaskCliRunner, make_user: Callable[..., User]) -> None:
    make_user("officer", email="jo@example.org")

    result = runner.invoke(args=["users", "token", "--email", "jo@example.org", "--days", "0"])

    assert result.exit_code == 0, result.output
    assert "never expires" in result.stderr


def test_token_for_unknown_user(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "token", "--email", "nobody@example.org"])

    assert result.exit_code == 1
    assert "No user with e-mail nobody@example.org" in result.stderr
    assert result.stdout == ""


def test_list_users(runner: FlaskCliRunner, make_user: Callable[..., User]) -> None:
    make_user("admin")
    make_user("manager", team="Policy")

    result = runner.invoke(args=["users", "list"])

    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines == [
        ["admin@example.org", "admin", "active"],
        ["manager@example.org", "manager", "active", "Policy"],
    ]
