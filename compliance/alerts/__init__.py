"""Change alerts by e-mail: subscriptions, a transactional outbox, digests, acknowledgement,
escalation, and a calendar feed (issue #6). The outbox's crash-safety note is in outbox.py.
"""

from __future__ import annotations

from flask import Flask

from compliance.extensions import csrf


def init_app(app: Flask) -> None:
    from compliance.alerts import cli, handlers, models, views  # noqa: F401  (models: tables)

    app.register_blueprint(views.bp)
    # RFC 8058: mail clients POST the unsubscribe URL with no session or form; the signed,
    # single-use token in the URL is the proof instead of a CSRF token.
    csrf.exempt(views.unsubscribe)
    app.cli.add_command(cli.cli)
    handlers.connect()
