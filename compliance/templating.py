"""Jinja globals shared by every page."""

from __future__ import annotations

from flask import Flask, request


def safe_args() -> dict[str, str]:
    """The current query arguments to carry into sort and page links.

    Names starting with "_" are url_for's own options (_external, _scheme, _anchor); taken
    from the URL they would let anyone rewrite the page's links, so they are dropped.
    """
    return {k: v for k, v in request.args.items() if not k.startswith("_")}


def init_app(app: Flask) -> None:
    app.jinja_env.globals["safe_args"] = safe_args
