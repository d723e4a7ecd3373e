"""The law catalogue: jurisdictions, regulators, instruments and obligations."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.catalogue import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.cli)
