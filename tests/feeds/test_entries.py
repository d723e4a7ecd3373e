"""Entry rules: identity, sanitising, control characters, dates, content hashes and diffs."""

from __future__ import annotations

from datetime import UTC, datetime

from compliance.feeds.entries import canonical_link, clean_item, clean_items, diff
from compliance.feeds.parser import FeedItem, parse_feed
from tests.feeds.conftest import read

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def _item(**fields) -> FeedItem:
    values = {"guid": "", "link": "", "title": "A title", "html": "", "published_at": None}
    return FeedItem(**{**values, **fields})


def test_identity_is_the_guid_else_the_link_else_title_and_date():
    items, dropped = clean_items(
        [
            _item(guid="g-1", link="https://r.example/1"),
            _item(link="https://r.example/2"),
            _item(title="Only a title", published_at=NOW),
        ],
        now=NOW,
    )

    assert dropped == 0
    assert [item.identity_key.split(":")[0] for item in items] == ["guid", "link", "hash"]


def test_a_guid_shared_by_several_items_identifies_none_of_them():
    items, dropped = clean_items(
        parse_feed(read("duplicate_guids.xml"), content_type="application/rss+xml",
                   url="https://dupes.example/", max_items=50).items,
        now=NOW,
    )  # fmt: skip

    assert dropped == 1  # the third item repeats the first exactly
    assert [item.title for item in items] == ["First announcement", "Second announcement"]
    assert all(item.identity_key.startswith("link:") for item in items)


def test_canonical_links_drop_tracking_fragments_and_default_ports():
    assert canonical_link("HTTPS://Regulator.Example:443/news/1?utm_source=rss&id=4#top") == (
        "https://regulator.example/news/1?id=4"
    )
    assert canonical_link("http://r.example:8080/a?fbclid=x") == "http://r.example:8080/a"


def test_hostile_html_is_sanitised():
    parsed = parse_feed(read("hostile.xml"), content_type="application/rss+xml",
                        url="https://hostile.example/", max_items=5)  # fmt: skip
    item = clean_item(parsed.items[0], now=NOW)

    html = item.summary_html
    for forbidden in ("<script", "onclick", "onerror", "onload", "javascript:", "data:", "<form",
                      "<input", "<iframe", "<svg", "<style", "<img", "display:none"):  # fmt: skip
        assert forbidden not in html.lower(), forbidden
    assert '<a href="https://hostile.example/ok" rel="noopener noreferrer nofollow">' in html
    assert item.link == ""  # a javascript: link is no link
    assert "<script>" not in item.title and "alert" not in item.title
    assert item.title == "Breaking: DSA news"


def test_nul_bytes_and_header_breaking_newlines_leave_titles():
    item = clean_item(
        _item(title="Fine\x00 title\r\nBcc: victim@example.org\x1b[31m", html="Body\x00 text\x07"),
        now=NOW,
    )

    assert item.title == "Fine title Bcc: victim@example.org[31m"
    assert "\n" not in item.title and "\x00" not in item.title
    assert item.summary_text == "Body text"


def test_bidi_overrides_are_stripped():
    item = clean_item(_item(title="Invoice\u202egnp.exe"), now=NOW)

    assert item.title == "Invoicegnp.exe"


def test_dates_in_the_far_future_are_dropped_and_others_kept_in_utc():
    far = clean_item(_item(published_at=datetime(9999, 12, 31, tzinfo=UTC)), now=NOW)
    near = clean_item(_item(published_at=datetime(2026, 11, 11, tzinfo=UTC)), now=NOW)

    assert far.published_at is None
    assert near.published_at == datetime(2026, 11, 11, tzinfo=UTC)


def test_the_content_hash_ignores_markup_and_spacing_but_not_words():
    plain = clean_item(_item(html="<p>Duties  apply</p>"), now=NOW)
    styled = clean_item(_item(html="<div><b>Duties</b>\napply</div>"), now=NOW)
    changed = clean_item(_item(html="<p>Duties no longer apply</p>"), now=NOW)

    assert plain.content_hash == styled.content_hash
    assert plain.content_hash != changed.content_hash


def test_diff_marks_added_and_removed_lines():
    lines = diff("Old title", "Same line\nRemoved line", "New title", "Same line\nAdded line")

    assert [(line.kind, line.text) for line in lines] == [
        ("removed", "Title: Old title"),
        ("added", "Title: New title"),
        ("same", "Same line"),
        ("removed", "Removed line"),
        ("added", "Added line"),
    ]
