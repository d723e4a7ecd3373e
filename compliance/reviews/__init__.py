"""The change-review queue: an officer decides what each flagged regulatory change means."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.reviews import cli, models, views  # noqa: F401  (models: the tables)

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.cli)
