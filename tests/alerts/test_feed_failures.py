"""A feed source failing for days reaches the admins by e-mail, once (issue #6), through the
real poller against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from flask import Flask

from compliance.alerts import outbox
from compliance.feeds import services as feeds
from tests.feeds.conftest import (  # noqa: F401  (fixtures used by name)
    FeedServer,
    FrozenClock,
    Reply,
    add,
    clock,
    feed_server,
    feeds_app,
)


def test_a_source_failing_for_days_is_mailed_to_the_admins_once(  # noqa: F811 (fixtures)
    feeds_app: Flask, feed_server: FeedServer, clock: FrozenClock, make_user: Any,  # noqa: F811
    smtp_server: Any,
) -> None:  # fmt: skip
    feeds_app.config.update(smtp_server.config)
    make_user("admin", email="admin@example.org")
    make_user("manager", email="manager@example.org")
    source_id = add(
        feeds_app,
        feed_server.route("/down", Reply(503, b"")),
        name="Ofcom news",
        interval_minutes=60,
    )

    for _ in range(12):  # 20 hours apart: past the 7 days at the 10th failure
        with feeds_app.app_context():
            feeds.poll_source(source_id)
        clock.advance(hours=20)
    with feeds_app.app_context():
        report = outbox.send_due()

    assert report.sent == 1
    [message] = smtp_server.messages
    assert message["To"] == "admin@example.org"
    assert message["Subject"].startswith("Feed source failing for ")
    assert message["Subject"].endswith(" days: Ofcom news")
    text = message.get_body(("plain",)).get_content()
    assert f"http://localhost/feeds/{source_id}" in text and "503" in text
