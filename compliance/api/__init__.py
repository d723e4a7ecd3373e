"""The JSON API under /api/v1, authenticated with bearer tokens."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.api import views
    from compliance.extensions import csrf

    csrf.exempt(views.bp)  # bearer tokens, never cookies: no cross-site request can use them
    app.register_blueprint(views.bp)
