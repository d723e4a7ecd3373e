"""The Alembic revisions build exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from compliance import create_app
from compliance.extensions import db
from tests.conftest import PG_URL_VARIABLE, _config, _pg_url, pg_admin_engine

# migrations/env.py is Flask-Migrate's template, which still calls db.get_engine() first.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


def _loggers() -> list[logging.Logger]:
    known = logging.Logger.manager.loggerDict.values()
    return [logging.getLogger(), *(v for v in known if isinstance(v, logging.Logger))]


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """Put logging back as it was after each test.

    migrations/env.py calls logging.config.fileConfig, which disables every logger that exists
    and adds a stderr handler; later tests that read logs (caplog) would see nothing.
    """
    saved = {id(lg): (lg.disabled, lg.level, lg.handlers[:], lg.propagate) for lg in _loggers()}
    yield
    for logger in _loggers():
        # A logger created during the test gets the defaults back.
        disabled, level, handlers, propagate = saved.get(id(logger), (False, 0, [], True))
        logger.disabled, logger.handlers[:], logger.propagate = disabled, handlers, propagate
        logger.setLevel(level)


def _app(database_url: str, tmp_path: Path) -> Flask:
    """An app on a database nobody has created tables in (unlike the `app` fixture)."""
    return create_app(_config(database_url, tmp_path))


def _flask_db(app: Flask, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (result.output, result.exception)


def _tables(app: Flask) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def _differences(app: Flask) -> list[Any]:
    """What autogenerate would put in a new revision: nothing, if the revisions are complete."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, db.metadata))


def _check_upgrade_and_downgrade(app: Flask) -> None:
    assert _tables(app) == set()

    _flask_db(app, "upgrade")

    assert _differences(app) == []
    model_tables = {table.name for table in db.metadata.sorted_tables}
    assert _tables(app) == model_tables | {"alembic_version"}

    _flask_db(app, "downgrade", "base")

    assert _tables(app) == {"alembic_version"}

    _flask_db(app, "upgrade")  # and back again, from an emptied database

    assert _differences(app) == []
    with app.app_context():
        db.engine.dispose()


def test_upgrade_builds_the_models_on_sqlite(tmp_path: Path) -> None:
    _check_upgrade_and_downgrade(_app(f"sqlite:///{tmp_path / 'migrated.db'}", tmp_path))


@pytest.mark.skipif(not os.environ.get(PG_URL_VARIABLE), reason=f"{PG_URL_VARIABLE} is not set")
def test_upgrade_builds_the_models_on_postgresql(tmp_path: Path) -> None:
    # Inside the test, not a fixture: an unreachable server must fail this test, not error it.
    name = f"compliance_migrations_{secrets.token_hex(6)}"
    admin = pg_admin_engine()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(_pg_url()).set(database=name).render_as_string(hide_password=False)
        _check_upgrade_and_downgrade(_app(url, tmp_path))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_through_flask_migrate_in_an_app_context(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    app = _app(f"sqlite:///{tmp_path / 'direct.db'}", tmp_path)
    with app.app_context():
        upgrade()
        assert "audit_events" in inspect(db.engine).get_table_names()
        db.engine.dispose()
