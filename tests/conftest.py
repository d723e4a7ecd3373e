"""Fixtures: an app on a real database (SQLite file, and PostgreSQL when configured), a client,
a CLI runner, and builders for users and catalogue rows."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text

from compliance import create_app
from compliance.audit.services import Actor
from compliance.auth import services as auth_services
from compliance.auth.models import User
from compliance.extensions import db

DATA = Path(__file__).parent / "data"
PASSWORD = "correct horse battery staple"
PG_URL_VARIABLE = "COMPLIANCE_TEST_DATABASE_URL"


def _backends() -> list[str]:
    # With the variable set, every database test also runs on PostgreSQL; an unreachable
    # server then fails those tests (never skips them).
    return ["sqlite", "postgresql"] if os.environ.get(PG_URL_VARIABLE) else ["sqlite"]


def _pg_url() -> str:
    url = os.environ[PG_URL_VARIABLE]
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def pg_schema_ready() -> None:
    """Create the tables once per session on the PostgreSQL test database."""
    app = create_app(_config(_pg_url(), Path("/nonexistent")))
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()


def _config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SEARCH_INDEX_DIR": str(tmp_path / "search-index"),
        "CATALOGUE_DIR": str(DATA / "catalogue"),
        "BASE_URL": "http://localhost",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),  # never the repository's instance/
        # Cheaper hashing keeps the suite fast; test_passwords checks the real defaults.
        "PASSWORD_ARGON2_MEMORY_KIB": 1024,
        "PASSWORD_ARGON2_TIME_COST": 1,
    }


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    if backend == "postgresql":
        request.getfixturevalue("pg_schema_ready")
        url = _pg_url()
    else:
        url = f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app(_config(url, tmp_path))
    with app.app_context():
        if backend == "postgresql":
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """Builder: make_user(role="officer", email=..., team=...) saves and returns a User."""

    def make(role: str = "officer", email: str | None = None, team: str = "") -> User:
        with app.app_context():
            user = auth_services.create_user(
                email or f"{role}@example.org",
                role=role,
                password=PASSWORD,
                team=team,
                actor=Actor.system("test"),
            )
            db.session.refresh(user)  # the commit expired it; load it before detaching
            db.session.expunge(user)
            return user

    return make


@pytest.fixture
def login(client: FlaskClient, make_user: Callable[..., User]) -> Callable[..., User]:
    """login(role="officer") creates a user of that role and logs the test client in."""

    def log_in(role: str = "officer", team: str = "", email: str | None = None) -> User:
        user = make_user(role, email=email, team=team)
        client.get("/login")  # sets the session cookie the CSRF token is bound to
        response = client.post(
            "/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return log_in


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Fetch a page and return the CSRF token its form carries."""
    html = client.get(path).get_data(as_text=True)
    marker = 'name="csrf_token" type="hidden" value="'
    start = html.find(marker)
    if start == -1:
        marker = 'name="csrf_token" value="'
        start = html.find(marker)
    assert start != -1, f"no CSRF token on {path}"
    start += len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def loaded_catalogue(app: Flask) -> None:
    """The small test catalogue in tests/data/catalogue, loaded through the real loader."""
    from compliance.catalogue.loader import load_catalogue

    with app.app_context():
        load_catalogue(DATA / "catalogue")


def pg_admin_engine():  # type: ignore[no-untyped-def]
    """An AUTOCOMMIT engine on the PostgreSQL server, for creating throw-away databases."""
    return create_engine(_pg_url(), isolation_level="AUTOCOMMIT")
