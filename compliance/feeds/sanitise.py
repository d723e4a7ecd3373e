"""Make feed text safe to store and show: HTML through nh3 (the only nh3 caller), text without
control characters. Feed content is written by strangers; nothing from it reaches a page
unsanitised.
"""

from __future__ import annotations

import html
import re
import unicodedata

import nh3

# Enough structure to read an announcement; no images (remote images would tell a feed's
# publisher who reads it, and when), no forms, no embedded content.
TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl",
    "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre",
    "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
}  # fmt: skip
# Dropped with everything inside them, not just unwrapped.
CONTENT_TAGS = {"script", "style", "iframe", "object", "embed", "template", "svg", "math",
                "form", "textarea", "select", "button", "noscript", "title"}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"colspan", "rowspan"},
              "th": {"colspan", "rowspan", "scope"}}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto"}  # never javascript: or data:

# C0 and C1 controls, except tab and newline, which text may keep; NUL first among them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")
# Block-level tags end a line of text: "<p>a</p><p>b</p>" reads "a\nb", not "ab".
_BLOCK = re.compile(r"<(?=/?(?:p|br|div|li|h[1-6]|tr|blockquote|pre|dt|dd|hr)\b)", re.I)


def strip_controls(text: str) -> str:
    """Remove control characters (NUL, escape, C1 ...) and bidi overrides; keep tabs, newlines."""
    text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Bidi overrides and isolates (Trojan Source) can make a title read unlike its bytes.
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf" or ch == "\u00ad")


def one_line(text: str, limit: int) -> str:
    """A title: control-free, every run of whitespace (newlines too) one space, at most limit."""
    return _SPACES.sub(" ", strip_controls(text)).strip()[:limit]


def clean_html(fragment: str) -> str:
    """Sanitised HTML: only TAGS and ATTRIBUTES, links http(s)/mailto, rel=noopener nofollow."""
    return nh3.clean(
        strip_controls(fragment),
        tags=TAGS,
        clean_content_tags=CONTENT_TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def text_of(fragment: str) -> str:
    """The readable text of an HTML fragment: tags gone, entities decoded, spaces collapsed."""
    blocks = _BLOCK.sub("\n<", strip_controls(fragment))
    bare = nh3.clean(blocks, tags=set(), clean_content_tags=CONTENT_TAGS)
    lines = (_SPACES.sub(" ", line).strip() for line in html.unescape(bare).split("\n"))
    return "\n".join(line for line in lines if line)


def plain_title(value: str, limit: int = 500) -> str:
    """A feed title as plain text: some feeds put markup or entities in titles."""
    if "<" in value or "&" in value:
        # Through nh3 too: a <script> in a title loses its content, not just its tags.
        bare = nh3.clean(strip_controls(value), tags=set(), clean_content_tags=CONTENT_TAGS)
        value = html.unescape(bare)
    return one_line(value, limit)
