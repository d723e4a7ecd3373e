"""Read feed bytes with feedparser (the only feedparser caller): RSS and Atom in, items out.

feedparser never fetches anything here: it is given bytes and the response headers
(compliance.feeds.fetcher does the HTTP). Documents declaring XML entities are refused before
parsing: no regulator needs them, and they are how billion-laughs and quadratic-blowup
documents work, whatever the XML library's own limits are.
"""

from __future__ import annotations

import calendar
import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

# Minor complaints feedparser files under bozo that still leave a usable feed.
_HARMLESS = ("CharacterEncodingOverride", "CharacterEncodingUnknown", "NonXMLContentType")
_ENTITY_MARKERS = (b"<!ENTITY", "<!ENTITY".encode("utf-16-le"), "<!ENTITY".encode("utf-16-be"))
MAX_HTML = 200_000  # characters of one entry's HTML kept; longer is cut before sanitising


class NotAFeed(Exception):
    """The body cannot be read as a feed; the message says why, for the source's page."""


@dataclass(frozen=True)
class FeedItem:
    """One entry as the feed gave it: text not yet cleaned, dates already UTC."""

    guid: str
    link: str
    title: str
    html: str  # the entry's content, else its summary (HTML, unsanitised)
    published_at: datetime | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    version: str  # "rss20", "atom10", ...
    items: list[FeedItem]
    warning: str  # set when feedparser had to recover from malformed XML


def parse_feed(body: bytes, *, content_type: str, url: str, max_items: int) -> ParsedFeed:
    """Parse body; raise NotAFeed for an empty body, entities, or something not a feed."""
    if not body.strip():
        raise NotAFeed("the server sent an empty body")
    if any(marker in body for marker in _ENTITY_MARKERS):
        raise NotAFeed("the document declares XML entities (refused: entity-expansion attacks)")
    headers = {"content-type": content_type or "application/xml", "content-location": url}
    parsed: Any = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,  # compliance.feeds.sanitise does it, once, with nh3
        resolve_relative_uris=True,
    )
    version = str(parsed.get("version") or "")
    entries = list(parsed.get("entries") or [])
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    problem_name = type(problem).__name__ if problem is not None else ""
    if not version and not entries:
        if b"<html" in body[:2048].lower():
            raise NotAFeed("the server sent an HTML page, not a feed")
        detail = f" ({_describe(problem)})" if problem is not None else ""
        raise NotAFeed(f"the body is not an RSS or Atom feed{detail}")
    warning = ""
    if problem is not None and problem_name not in _HARMLESS:
        warning = f"malformed XML, read anyway: {_describe(problem)}"
    feed = parsed.get("feed") or {}
    return ParsedFeed(
        title=str(feed.get("title") or ""),
        version=version,
        items=[_item(entry) for entry in entries[:max_items]],
        warning=warning,
    )


def _describe(problem: Any) -> str:
    return str(problem).strip()[:200] or type(problem).__name__


def _item(entry: Any) -> FeedItem:
    content = entry.get("content") or []
    html = str(content[0].get("value") or "") if content else ""
    html = html or str(entry.get("summary") or entry.get("description") or "")
    return FeedItem(
        guid=str(entry.get("id") or entry.get("guid") or "").strip(),
        link=str(entry.get("link") or "").strip(),
        title=str(entry.get("title") or ""),
        html=html[:MAX_HTML],
        # dict.get: FeedParserDict's own get() maps a missing key to the other with a warning.
        published_at=_moment(
            dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        ),
    )


def _moment(value: Any) -> datetime | None:
    """feedparser's parsed dates are UTC struct_time tuples; anything unreadable is None."""
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(tuple(value)), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None
