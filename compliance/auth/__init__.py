"""Accounts, roles, sessions and API tokens."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.auth import cli, views
    from compliance.auth.access import install_access_rules

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.cli)
    install_access_rules(app)
