"""Periodic jobs, run by `flask scheduler run` in their own process (never in web workers)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from compliance.scheduler import cli

    app.cli.add_command(cli.cli)
