"""Service profiles and what applies to them: applies, does not apply, needs judgement."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.applicability import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.cli)
