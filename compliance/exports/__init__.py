"""Auditor exports (CSV, XLSX, JSON, OSCAL), audit packs, imports, and the history for as-of."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.exports import cli, history, models, views  # noqa: F401  (tables, listener)

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.export_cli)
    app.cli.add_command(cli.import_cli)
