"""Pure rules for feed entries: cleaning, identity, content hashes and revision diffs.

Identity (design.md): the guid, else the canonical link, else a hash of title and date. The
content hash covers normalised text only (title and body), never HTML or dates: feedparser's
HTML attribute order and a feed's date stamps change without the announcement changing.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from compliance.feeds import sanitise
from compliance.feeds.parser import FeedItem

# Query parameters that only track the click, so links differing in them are one link.
TRACKING_PARAMETERS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi")
FUTURE_SLACK = timedelta(days=2)  # clocks and time zones; beyond this a date is nonsense


@dataclass(frozen=True)
class CleanItem:
    """An entry ready to store: sanitised, control-free, with its keys and content hash."""

    identity_key: str
    guid: str
    link: str
    link_key: str
    title_key: str
    title: str
    summary_html: str
    summary_text: str
    published_at: datetime | None
    content_hash: str


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def safe_link(value: str) -> str:
    """The link if it is an absolute http(s) URL of sane length, else "" (no javascript:)."""
    value = sanitise.one_line(value, 1000)
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or len(value) >= 1000:
        return ""
    return value


def canonical_link(link: str) -> str:
    """Lower-case scheme and host, no fragment, no default port, no tracking parameters."""
    if not link:
        return ""
    parts = urlsplit(link)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not name.lower().startswith(TRACKING_PARAMETERS)
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def content_hash(title: str, text: str) -> str:
    return _digest(" ".join(title.split()).lower(), " ".join(text.split()).lower())


def clean_item(item: FeedItem, *, now: datetime) -> CleanItem:
    """Sanitise one item and work out its keys; identity_key is settled by clean_items."""
    title = sanitise.plain_title(item.title)
    summary_html = sanitise.clean_html(item.html)
    summary_text = sanitise.text_of(item.html)
    published = item.published_at
    if published is not None and published > now + FUTURE_SLACK:
        published = None  # "year 9999": it would sort above everything, forever
    link = safe_link(item.link)
    canonical = canonical_link(link)
    date = published.isoformat() if published else ""
    guid = sanitise.one_line(item.guid, 500)
    return CleanItem(
        identity_key="",
        guid=guid,
        link=link,
        link_key=_digest(canonical) if canonical else "",
        title_key=_digest(title.lower(), date),
        title=title or (summary_text[:120] if summary_text else "(untitled)"),
        summary_html=summary_html,
        summary_text=summary_text,
        published_at=published,
        content_hash=content_hash(title, summary_text),
    )


def clean_items(items: list[FeedItem], *, now: datetime) -> tuple[list[CleanItem], int]:
    """Clean every item and give each a unique identity; return them and the duplicates dropped.

    A guid used by several items of the same document (a broken feed) identifies none of
    them; those fall back to the link, then to title and date. An item whose every key is
    taken by an earlier one is a true duplicate and is dropped.
    """
    cleaned: list[CleanItem] = []
    seen: set[tuple[str, str, str, str]] = set()
    for item in (clean_item(item, now=now) for item in items):
        signature = (item.guid, item.link_key, item.title_key, item.content_hash)
        if signature not in seen:  # the same item twice in one document: keep one
            seen.add(signature)
            cleaned.append(item)
    guid_uses: dict[str, int] = {}
    for item in cleaned:
        if item.guid:
            guid_uses[item.guid] = guid_uses.get(item.guid, 0) + 1
    taken: set[str] = set()
    result: list[CleanItem] = []
    for item in cleaned:
        candidates = []
        if item.guid and guid_uses[item.guid] == 1:
            candidates.append("guid:" + _digest(item.guid))
        if item.link_key:
            candidates.append("link:" + item.link_key)
        candidates.append("hash:" + item.title_key)
        key = next((c for c in candidates if c not in taken), None)
        if key is None:
            continue
        taken.add(key)
        result.append(_with_identity(item, key))
    return result, len(items) - len(result)


def _with_identity(item: CleanItem, key: str) -> CleanItem:
    return CleanItem(**{**item.__dict__, "identity_key": key})


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed"
    text: str


def diff(before_title: str, before_text: str, after_title: str, after_text: str) -> list[DiffLine]:
    """A line diff of two revisions' title and text, for the reviewer."""
    before = [f"Title: {before_title}", *before_text.split("\n")]
    after = [f"Title: {after_title}", *after_text.split("\n")]
    lines: list[DiffLine] = []
    # Line-level opcodes: ndiff's character-level pass is quadratic on long paragraphs.
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines.extend(DiffLine("same", text) for text in before[i1:i2])
            continue
        lines.extend(DiffLine("removed", text) for text in before[i1:i2])
        lines.extend(DiffLine("added", text) for text in after[j1:j2])
    return lines
