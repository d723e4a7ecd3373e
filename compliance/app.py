"""Build the Flask application: configuration, extensions, then each domain. Wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from compliance import (
    alerts,
    api,
    applicability,
    audit,
    auth,
    catalogue,
    dashboard,
    errors,
    exports,
    feeds,
    mapping,
    reviews,
    scheduler,
    search,
    templating,
)
from compliance.config import DefaultConfig
from compliance.extensions import bootstrap, csrf, db, login_manager, migrate

DOMAINS = (
    auth,
    dashboard,
    catalogue,
    mapping,
    applicability,
    audit,
    exports,
    api,
    scheduler,
    search,
    feeds,
    reviews,
    alerts,
)
# templates/ lives beside the package, not inside it (README, "Layout").
TEMPLATE_DIR = str(Path(__file__).resolve().parent.parent / "templates")
MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True, template_folder=TEMPLATE_DIR)
    app.config.from_object(DefaultConfig)
    if overrides is None:
        app.config.from_pyfile("compliance.cfg", silent=True)  # instance/, never committed
        app.config.from_prefixed_env("COMPLIANCE")  # e.g. COMPLIANCE_SECRET_KEY
    else:
        app.config.update(overrides)  # tests: nothing leaks in from the developer's machine
    _derive_settings(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    for domain in DOMAINS:
        domain.init_app(app)  # its blueprint, CLI group and signal handlers
    templating.init_app(app)
    errors.register_handlers(app)
    return app


def _derive_settings(app: Flask) -> None:
    """Fill the settings whose defaults depend on other settings."""
    config = app.config
    if not config.get("SECRET_KEY"):
        raise RuntimeError(
            "No secret key: set COMPLIANCE_SECRET_KEY, or run `make instance/compliance.cfg` "
            "to write a random one into the instance folder."
        )
    instance = Path(app.instance_path)
    database_url = config.get("DATABASE_URL") or f"sqlite:///{instance / 'compliance.db'}"
    config.setdefault("SQLALCHEMY_DATABASE_URI", database_url)
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgres://"):
        # Heroku-style URLs: SQLAlchemy only knows the postgresql:// scheme.
        config["SQLALCHEMY_DATABASE_URI"] = "postgresql://" + config["SQLALCHEMY_DATABASE_URI"][11:]
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql://"):
        config["SQLALCHEMY_DATABASE_URI"] = config["SQLALCHEMY_DATABASE_URI"].replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    config["SEARCH_INDEX_DIR"] = config.get("SEARCH_INDEX_DIR") or str(instance / "search-index")
    if not config.get("ALERTS_MESSAGE_ID_DOMAIN"):
        host = urlsplit(str(config["BASE_URL"])).hostname or "localhost"
        config["ALERTS_MESSAGE_ID_DOMAIN"] = host
    if config.get("SESSION_COOKIE_SECURE") is None:
        secure = str(config["BASE_URL"]).startswith("https://")
        config["SESSION_COOKIE_SECURE"] = secure
        config["REMEMBER_COOKIE_SECURE"] = secure
