"""Polling end to end against a real HTTP server on 127.0.0.1: entries, revisions, conditional
GET, redirects, failures with backoff and the 7-day flag, and idempotence."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from compliance import signals
from compliance.audit.models import AuditEvent
from compliance.errors import Conflict, Invalid
from compliance.extensions import db
from compliance.feeds import services
from compliance.feeds.models import FeedEntry, FeedEntryRevision, FeedSource
from compliance.reviews.models import ChangeReview, ReviewEvent
from compliance.scheduler import jobs
from tests.feeds.conftest import ADMIN, FeedServer, FrozenClock, Reply, add, read, source

pytestmark = pytest.mark.usefixtures("loaded_catalogue")

ITEM = """<item><title>{title}</title><guid isPermaLink="false">{guid}</guid>
<link>https://regulator.example/{guid}</link><pubDate>Mon, 03 Nov 2026 09:00:00 GMT</pubDate>
<description>{text}</description></item>"""


def rss(*items: str) -> str:
    channel = f"<channel><title>T</title>{''.join(items)}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def poll(app: Flask, source_id: int, **options):
    with app.app_context():
        return services.poll_source(source_id, **options)


def entries(app: Flask) -> list[FeedEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(FeedEntry).order_by(FeedEntry.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def count(app: Flask, model) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_poll_stores_entries_and_opens_reviews_for_relevant_ones(
    feeds_app: Flask, feed_server: FeedServer
):
    source_id = add(feeds_app, feed_server.feed("/feed", read("rss_basic.xml"), etag='"1"'))

    outcome = poll(feeds_app, source_id)

    assert (outcome.status, outcome.new, outcome.revised) == ("ok", 3, 0)
    assert outcome.reviews_opened == 2  # the DSA and the OSA news; not the office closure
    stored = {e.title: e for e in entries(feeds_app)}
    dsa = stored["Commission opens proceedings under Art. 28 DSA"]
    assert dsa.matches[0]["slug"] == "test-dsa"
    assert "cites Art. 28 DSA" in dsa.matches[0]["reasons"]
    assert stored["Ofcom publishes guidance on 2023 c. 50 duties"].matches[0]["reasons"][0] == (
        "cites 2023 c. 50"
    )
    assert stored["Office closed for the holidays"].relevance == 0
    assert dsa.link == "https://regulator.example/news/1?utm_source=rss"
    after = source(feeds_app, source_id)
    assert (after.last_status, after.etag, after.consecutive_failures) == ("ok", '"1"', 0)
    assert after.next_poll_at is not None


def test_a_304_costs_no_parse_and_an_unchanged_body_is_not_parsed_again(
    feeds_app: Flask, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
):
    with_etag = add(feeds_app, feed_server.feed("/etag", read("rss_basic.xml"), etag='"v1"'))
    without = add(feeds_app, feed_server.feed("/plain", read("atom_basic.xml")))
    poll(feeds_app, with_etag)
    poll(feeds_app, without)
    parsed = []
    from compliance.feeds import store

    real = store.parse_feed
    monkeypatch.setattr(store, "parse_feed", lambda *a, **k: parsed.append(1) or real(*a, **k))

    assert poll(feeds_app, with_etag).status == "not-modified"
    assert poll(feeds_app, without).status == "unchanged"

    assert parsed == []
    assert feed_server.hits("/etag")[-1].headers["if-none-match"] == '"v1"'
    assert count(feeds_app, FeedEntry) == 4


def test_changed_content_becomes_a_revision_with_a_diff_for_the_reviewer(
    feeds_app: Flask, feed_server: FeedServer
):
    first = rss(
        ITEM.format(title="DSA guidance consultation", guid="c1", text="Deadline is 1 May.")
    )
    url = feed_server.feed("/feed", first)
    source_id = add(feeds_app, url)
    poll(feeds_app, source_id)
    second = rss(
        ITEM.format(title="DSA guidance consultation", guid="c1", text="Deadline is 1 June.")
    )
    feed_server.feed("/feed", second)

    outcome = poll(feeds_app, source_id)

    assert (outcome.new, outcome.revised) == (0, 1)
    with feeds_app.app_context():
        entry = db.session.scalars(select(FeedEntry)).one()
        assert entry.revision == 2
        assert [r.number for r in entry.revisions] == [1, 2]
        diff = services.revision_diffs(entry)[0]
        assert ("removed", "Deadline is 1 May.") in [(d.kind, d.text) for d in diff.lines]
        assert ("added", "Deadline is 1 June.") in [(d.kind, d.text) for d in diff.lines]
        review = db.session.scalars(select(ChangeReview)).one()
        assert [e.kind for e in review.events] == ["opened", "revised"]


def test_a_revision_reopens_a_decided_review(feeds_app: Flask, feed_server: FeedServer):
    from compliance.reviews import services as reviews

    url = feed_server.feed("/feed", rss(ITEM.format(title="DSA update", guid="u", text="v1")))
    source_id = add(feeds_app, url)
    poll(feeds_app, source_id)
    with feeds_app.app_context():
        review = db.session.scalars(select(ChangeReview)).one()
        reviews.update_review(
            review.id,
            reviews.ReviewChanges(state="no-action", decision_note="Not for us."),
            actor=ADMIN,
        )
    feed_server.feed("/feed", rss(ITEM.format(title="DSA update", guid="u", text="v2 widens it")))

    poll(feeds_app, source_id)

    with feeds_app.app_context():
        review = db.session.scalars(select(ChangeReview)).one()
        assert review.state == "new"
        assert review.events[-1].note == "the entry changed (revision 2)"


def test_duplicate_guids_and_rotating_guids_never_duplicate_entries(
    feeds_app: Flask, feed_server: FeedServer
):
    dupes = add(feeds_app, feed_server.feed("/dupes", read("duplicate_guids.xml")))
    assert poll(feeds_app, dupes).new == 2

    rotating = {"n": 0}

    def answer(_seen):
        rotating["n"] += 1
        body = rss(
            *(
                ITEM.format(title=f"Item {k}", guid=f"random-{rotating['n']}-{k}", text="same")
                for k in range(3)
            )
        )
        return Reply(200, body.encode(), {"Content-Type": "application/rss+xml"})

    feed_server.route("/rotating", answer)
    rotating_id = add(feeds_app, feed_server.url("/rotating"))
    for _ in range(3):
        poll(feeds_app, rotating_id)

    with feeds_app.app_context():
        query = select(func.count()).where(FeedEntry.source_id == rotating_id)
        assert db.session.scalar(query) == 3


def test_a_poll_run_twice_or_cut_short_stores_nothing_twice(
    feeds_app: Flask, feed_server: FeedServer
):
    source_id = add(feeds_app, feed_server.feed("/feed", read("rss_basic.xml"), etag='"1"'))
    poll(feeds_app, source_id)
    with feeds_app.app_context():
        # As if the process died after storing entries but before the validators landed.
        found = db.session.get(FeedSource, source_id)
        found.etag, found.body_hash = "", ""
        db.session.commit()

    again = poll(feeds_app, source_id)

    assert (again.status, again.new, again.revised) == ("ok", 0, 0)
    assert count(feeds_app, FeedEntry) == 3
    assert count(feeds_app, FeedEntryRevision) == 3
    assert count(feeds_app, ChangeReview) == 2


def test_hostile_content_is_stored_sanitised(feeds_app: Flask, feed_server: FeedServer):
    source_id = add(feeds_app, feed_server.feed("/hostile", read("hostile.xml")))

    poll(feeds_app, source_id)

    entry = entries(feeds_app)[0]
    assert "<script" not in entry.summary_html and "onerror" not in entry.summary_html
    assert "javascript:" not in entry.summary_html and entry.link == ""
    assert entry.title == "Breaking: DSA news"


def test_nul_bytes_and_newlines_in_titles(feeds_app: Flask, feed_server: FeedServer):
    body = rss(ITEM.format(title="Split&#13;&#10;Set-Cookie: x=1", guid="n", text="BODY"))
    body = body.replace("BODY", "text\x00 with a NUL")
    source_id = add(feeds_app, feed_server.feed("/nul", body.encode()))

    outcome = poll(feeds_app, source_id)

    assert outcome.status == "ok"
    entry = entries(feeds_app)[0]
    assert entry.title == "Split Set-Cookie: x=1"
    assert "\x00" not in entry.summary_text


def test_odd_dates_are_stored_in_utc_or_left_empty(feeds_app: Flask, feed_server: FeedServer):
    source_id = add(feeds_app, feed_server.feed("/dates", read("odd_dates.xml")))

    poll(feeds_app, source_id)

    dates = {e.title: e.published_at for e in entries(feeds_app)}
    assert dates["From the far future"] is None
    assert dates["With no date at all"] is None
    assert dates["In Tokyo time"].isoformat() == "2026-11-04T00:00:00+00:00"


@pytest.mark.parametrize(
    ("path", "reply", "error"),
    [
        ("/html", Reply(200, read("not_a_feed.html"), {"Content-Type": "text/html"}), "HTML page"),
        ("/laughs", Reply(200, read("billion_laughs.xml")), "declares XML entities"),
        ("/500", Reply(500, b"no"), "HTTP 500 Internal Server Error"),
    ],
)
def test_a_broken_feed_marks_its_source_and_stores_nothing(
    feeds_app: Flask, feed_server: FeedServer, path: str, reply: Reply, error: str
):
    source_id = add(feeds_app, feed_server.route(path, reply))

    outcome = poll(feeds_app, source_id)

    assert outcome.status == "failed"
    found = source(feeds_app, source_id)
    assert error in found.last_error
    assert found.consecutive_failures == 1
    assert found.etag == "" and found.body_hash == ""  # the next poll fetches it in full
    assert count(feeds_app, FeedEntry) == 0


def test_malformed_xml_keeps_what_it_can_and_says_so(feeds_app: Flask, feed_server: FeedServer):
    source_id = add(feeds_app, feed_server.feed("/bad", read("malformed.xml")))

    outcome = poll(feeds_app, source_id)

    assert outcome.status == "ok"
    assert source(feeds_app, source_id).last_error.startswith("malformed XML, read anyway")
    assert entries(feeds_app)[0].title == "An entry before the break"


def test_410_disables_the_source(feeds_app: Flask, feed_server: FeedServer):
    source_id = add(feeds_app, feed_server.route("/gone", Reply(410, b"")))

    poll(feeds_app, source_id)

    found = source(feeds_app, source_id)
    assert (found.enabled, found.last_status, found.next_poll_at) == (False, "gone", None)
    assert found.disabled_reason.startswith("HTTP 410 Gone")


def test_a_permanent_redirect_moves_the_url_only_once_the_new_one_parsed(
    feeds_app: Flask, feed_server: FeedServer
):
    feed_server.route("/moved-to-html", Reply(301, b"", {"Location": "/html"}))
    feed_server.route("/html", Reply(200, read("not_a_feed.html"), {"Content-Type": "text/html"}))
    to_html = add(feeds_app, feed_server.url("/moved-to-html"))
    feed_server.route("/moved", Reply(308, b"", {"Location": "/new"}))
    new = feed_server.feed("/new", read("rss_basic.xml"))
    moved = add(feeds_app, feed_server.url("/moved"))

    poll(feeds_app, to_html)
    poll(feeds_app, moved)

    assert source(feeds_app, to_html).url == feed_server.url("/moved-to-html")
    assert source(feeds_app, moved).url == new
    with feeds_app.app_context():
        event = db.session.scalars(select(AuditEvent).filter_by(action="feed.source.moved")).one()
        assert event.after == {"url": new}


def test_a_refusal_is_shown_on_the_source_with_the_reason(
    feeds_app: Flask, feed_server: FeedServer
):
    feed_server.route("/jump", Reply(302, b"", {"Location": "http://169.254.169.254/latest/"}))
    source_id = add(feeds_app, feed_server.url("/jump"))

    poll(feeds_app, source_id)

    found = source(feeds_app, source_id)
    assert found.last_status == "refused"
    assert "169.254.169.254 is a cloud metadata address" in found.last_error


def test_failures_back_off_exponentially_and_flag_after_seven_days(
    feeds_app: Flask, feed_server: FeedServer, clock: FrozenClock
):
    feeds_app.config["FEEDS_MAX_BACKOFF_MINUTES"] = 24 * 60
    source_id = add(feeds_app, feed_server.route("/down", Reply(503, b"")), interval_minutes=60)
    flagged = []
    signals.feed_source_flagged.connect(receiver := lambda sender, **_: flagged.append(sender.id))
    delays = []
    try:
        for _ in range(12):
            poll(feeds_app, source_id)
            found = source(feeds_app, source_id)
            delays.append(found.next_poll_at - clock.now)
            clock.advance(hours=20)
    finally:
        signals.feed_source_flagged.disconnect(receiver)

    # Equal jitter: between half and all of interval x 2^(n-1), capped at 24 h.
    for n, delay in enumerate(delays, start=1):
        ceiling = timedelta(minutes=min(60 * 2 ** (n - 1), 24 * 60))
        assert ceiling / 2 <= delay <= ceiling, (n, delay)
    assert delays[-1] >= timedelta(hours=12)
    found = source(feeds_app, source_id)
    assert found.consecutive_failures == 12
    assert found.enabled  # flagged, never silently disabled
    assert found.flagged_at is not None
    assert found.flagged_at - found.failing_since >= timedelta(days=7)
    assert flagged == [source_id]  # flagged once, not on every later failure


def test_a_success_clears_the_failure_state(
    feeds_app: Flask, feed_server: FeedServer, clock: FrozenClock
):
    feed_server.route("/flaky", Reply(500, b""))
    source_id = add(feeds_app, feed_server.url("/flaky"))
    for _ in range(4):  # days 0, 3, 6 and 9
        poll(feeds_app, source_id)
        clock.advance(days=3)
    assert source(feeds_app, source_id).flagged_at is not None
    feed_server.feed("/flaky", read("rss_basic.xml"))

    poll(feeds_app, source_id)

    found = source(feeds_app, source_id)
    assert (found.consecutive_failures, found.failing_since, found.flagged_at) == (0, None, None)
    assert found.last_success_at == clock.now


def test_retry_after_is_honoured(feeds_app: Flask, feed_server: FeedServer, clock: FrozenClock):
    source_id = add(
        feeds_app, feed_server.route("/slow-down", Reply(429, b"", {"Retry-After": "7200"}))
    )

    poll(feeds_app, source_id)

    assert source(feeds_app, source_id).next_poll_at - clock.now >= timedelta(hours=2)


def test_one_bad_source_never_holds_up_the_others(feeds_app: Flask, feed_server: FeedServer):
    slow = add(feeds_app, feed_server.route("/slow", Reply(200, b"", delay=30)), name="slow")
    good = [add(feeds_app, feed_server.feed(f"/ok{n}", read("rss_basic.xml"))) for n in range(3)]

    with feeds_app.app_context():
        report = services.poll_due_sources()

    by_id = {o.source_id: o.status for o in report.outcomes}
    assert by_id[slow] == "failed"
    assert all(by_id[g] == "ok" for g in good)
    assert count(feeds_app, FeedEntry) == 9


def test_no_more_than_two_requests_to_one_host_at_once(feeds_app: Flask, feed_server: FeedServer):
    feeds_app.config["FEEDS_POLL_WORKERS"] = 6
    gate = threading.Semaphore(0)

    def held(_seen):
        gate.acquire(timeout=0.3)  # hold each request briefly so they overlap if allowed to
        return Reply(200, read("rss_basic.xml"), {"Content-Type": "application/rss+xml"})

    for n in range(6):
        feed_server.route(f"/h{n}", held)
        add(feeds_app, feed_server.url(f"/h{n}"))

    with feeds_app.app_context():
        report = services.poll_due_sources()

    assert len(report.outcomes) == 6
    assert feed_server.max_active == 2


def test_only_due_and_enabled_sources_are_polled(
    feeds_app: Flask, feed_server: FeedServer, clock: FrozenClock
):
    due = add(feeds_app, feed_server.feed("/due", read("rss_basic.xml")))
    add(feeds_app, feed_server.feed("/off", read("rss_basic.xml")), enabled=False)
    with feeds_app.app_context():
        assert [o.source_id for o in services.poll_due_sources().outcomes] == [due]
        assert services.poll_due_sources().outcomes == []  # next poll is an interval away
        clock.advance(hours=2)
        assert [o.source_id for o in services.poll_due_sources().outcomes] == [due]


def test_the_scheduler_has_a_polling_job_running_the_same_code(
    feeds_app: Flask, feed_server: FeedServer
):
    add(feeds_app, feed_server.feed("/feed", read("rss_basic.xml")))
    job = next(job for job in jobs.job_table(feeds_app.config) if job.id == "feeds-poll")

    jobs._in_app_context(feeds_app, job.func)()

    assert "interval[0:01:00]" in str(job.trigger)
    assert count(feeds_app, FeedEntry) == 3


def test_adding_a_source_refuses_bad_urls_and_duplicates(feeds_app: Flask):
    with feeds_app.app_context():
        for url, reason in [
            ("ftp://example.org/feed", "only http and https"),
            ("http://169.254.169.254/", "cloud metadata"),
            ("http://10.1.2.3/feed", "private address"),
            ("http://[::1]/feed", "loopback address"),
            ("not a url", "spaces or control characters"),
        ]:
            with pytest.raises(Invalid, match=reason):
                services.add_source(url, actor=ADMIN)
        services.add_source("https://regulator.example/feed", actor=ADMIN)
        with pytest.raises(Conflict, match="already a source"):
            services.add_source("https://regulator.example/feed", actor=ADMIN)
        with pytest.raises(Invalid, match="interval must be from 15"):
            services.add_source("https://other.example/feed", interval_minutes=5, actor=ADMIN)
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_type == "feed_source")
        )
        assert list(actions) == ["feed.source.added"]


def test_review_history_is_audited(feeds_app: Flask, feed_server: FeedServer):
    source_id = add(feeds_app, feed_server.feed("/feed", read("rss_basic.xml")))

    poll(feeds_app, source_id)

    with feeds_app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions.count("review.opened") == 2
        assert "feed.entries.stored" in actions
        assert db.session.scalar(select(func.count()).select_from(ReviewEvent)) == 2
