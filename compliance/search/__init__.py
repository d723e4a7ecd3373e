"""Full-text search over instruments, obligations and controls (a Whoosh index)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.search import cli, handlers, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.cli)
    handlers.connect()
