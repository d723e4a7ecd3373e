"""The tamper-evident audit trail."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.audit import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.cli)
