"""Internal controls and their mappings to obligations."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.mapping import views

    app.register_blueprint(views.bp)
