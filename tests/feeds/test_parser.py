"""feedparser behind parse_feed: feeds read, non-feeds and entity bombs refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compliance.feeds.parser import NotAFeed, parse_feed
from tests.feeds.conftest import read

RSS = "application/rss+xml"


def _parse(body: bytes, content_type: str = RSS):
    return parse_feed(
        body, content_type=content_type, url="https://regulator.example/feed", max_items=50
    )


def test_rss_items_come_out_with_utc_dates():
    parsed = _parse(read("rss_basic.xml"))

    assert parsed.version == "rss20"
    assert [item.guid for item in parsed.items] == ["news-1", "news-2", "news-3"]
    first = parsed.items[0]
    assert first.published_at == datetime(2026, 11, 3, 8, 30, tzinfo=UTC)  # +0100 → UTC
    assert "<strong>Art. 28 DSA</strong>" in first.html
    assert parsed.warning == ""


def test_atom_entries_read_id_link_and_offset_dates():
    parsed = _parse(read("atom_basic.xml"), "application/atom+xml")

    item = parsed.items[0]
    assert (item.guid, item.link) == ("urn:test:entry:1", "https://legislature.example/a/1")
    assert item.published_at == datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


def test_malformed_xml_is_read_as_far_as_it_goes_with_a_warning():
    parsed = _parse(read("malformed.xml"))

    assert parsed.items[0].title == "An entry before the break"
    assert parsed.warning.startswith("malformed XML, read anyway")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (read("not_a_feed.html"), "text/html", "the server sent an HTML page, not a feed"),
        (b"", RSS, "the server sent an empty body"),
        (b"   \n", RSS, "the server sent an empty body"),
        (b"just some text, no XML", "text/plain", "the body is not an RSS or Atom feed"),
        (read("billion_laughs.xml"), RSS, "declares XML entities"),
    ],
)
def test_what_is_not_a_feed_is_refused_with_the_reason(body, content_type, reason):
    with pytest.raises(NotAFeed, match=reason):
        _parse(body, content_type)


def test_a_quadratic_blowup_feed_is_refused():
    big = "A" * 100_000
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{big}">]>'
        f'<rss version="2.0"><channel><item><title>{"&a;" * 10_000}</title></item></channel></rss>'
    ).encode()

    with pytest.raises(NotAFeed, match="declares XML entities"):
        _parse(body)


def test_an_entity_declaration_in_utf16_is_refused_too():
    body = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "x">]><rss/>'.encode(
        "utf-16-le"
    )

    with pytest.raises(NotAFeed, match="declares XML entities"):
        _parse(body)


def test_items_beyond_the_cap_are_not_read():
    items = "".join(f"<item><title>n{n}</title><guid>g{n}</guid></item>" for n in range(30))
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()

    parsed = parse_feed(body, content_type=RSS, url="https://x.example/", max_items=10)

    assert len(parsed.items) == 10


def test_odd_dates_become_utc_or_none():
    by_guid = {item.guid: item.published_at for item in _parse(read("odd_dates.xml")).items}

    assert by_guid["date-9999"] == datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=UTC
    )  # entries.py drops it
    assert by_guid["date-none"] is None
    assert by_guid["date-tokyo"] == datetime(2026, 11, 4, 0, 0, tzinfo=UTC)
    assert by_guid["date-garbage"] is None
