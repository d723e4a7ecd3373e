"""The home page: coverage, upcoming dates and recent changes at a glance."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.dashboard import views

    app.register_blueprint(views.bp)
