"""What the index holds: its fields, the analysers that turn text into terms, and highlighting.

Writing and searching must analyse text identically, so both take their terms from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.analysis.filters import STOP_WORDS
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.lang.porter import stem as porter_stem

from compliance.search.documents import SearchDocument

SCHEMA_VERSION = "v1"  # part of each index's name; bump when the schema changes
SNIPPET_CHARS = 280

_WORD_PATTERN = r"\w+(?:\.?\w+)*"  # keeps "312.5" and "u.s.c" whole
_WORDS = re.compile(_WORD_PATTERN)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_MIN_TERM = 2  # StopFilter's default: shorter words are dropped with the stop words

Segments = list[tuple[str, bool]]  # text pieces, True where a query word matched


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Porter stem, remembered: a catalogue repeats a few thousand words endlessly.

    Whoosh's own StemFilter cache is a Python LFU that costs more than it saves; a C LRU makes
    analysis about a third cheaper when indexing (search-and-feed-performance.md, section 2).
    """
    return str(porter_stem(word))


def _is_cjk(text: str) -> bool:
    return not text.isascii() and _CJK.search(text) is not None


class _CjkBigrams(Filter):  # type: ignore[misc]
    """Split runs of Chinese, Japanese or Korean characters into overlapping pairs.

    Those scripts do not separate words with spaces, so "情報流通プラットフォーム" would
    otherwise be one token that only the whole string matches.
    """

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        for token in tokens:
            text = token.text
            if len(text) <= 2 or not _is_cjk(text):
                yield token
                continue
            start = getattr(token, "startchar", None)
            for offset in range(len(text) - 1):
                token.text = text[offset : offset + 2]
                if start is not None:
                    token.startchar, token.endchar = start + offset, start + offset + 2
                yield token


def _text_analyzer() -> Any:
    return (
        RegexTokenizer(_WORD_PATTERN)
        | LowercaseFilter()
        | _CjkBigrams()
        | StopFilter()
        | StemFilter(stemfn=stem, cachesize=None)
    )


def _exact_analyzer() -> Any:
    return RegexTokenizer(_WORD_PATTERN) | LowercaseFilter() | _CjkBigrams()


TEXT_ANALYZER = _text_analyzer()
EXACT_ANALYZER = _exact_analyzer()


def build_schema() -> Schema:
    return Schema(
        id=ID(unique=True, sortable=True),
        hash=ID(sortable=True),
        kind=ID,
        title=TEXT(analyzer=TEXT_ANALYZER),
        names=TEXT(analyzer=TEXT_ANALYZER),
        body=TEXT(analyzer=TEXT_ANALYZER),
        # Unstemmed words of all three, for prefix and fuzzy queries and spelling: stems make
        # both misbehave ("represent*" misses the stem "repres").
        exact=TEXT(analyzer=EXACT_ANALYZER, phrase=False),
        cite=KEYWORD(lowercase=True),
        regulation=ID,
        jurisdictions=KEYWORD,
        level=ID,
        topic=KEYWORD,
        status=ID,
        type=ID,
        team=ID,
        retired=ID,
        stored=STORED,
    )


def analyse(text: str) -> list[str]:
    """The index terms of text: lower case, stemmed, without stop words."""
    return [token.text for token in TEXT_ANALYZER(text or "", mode="query")]


def fields(document: SearchDocument) -> dict[str, Any]:
    """The document as Whoosh field values (empty ones left out), with what hits display."""
    values: dict[str, Any] = {
        "id": document.id,
        "hash": document.content_hash,
        "kind": document.kind,
        "title": document.title,
        "names": document.names,
        "body": document.body,
        "exact": "\n".join((document.title, document.names, document.body)),
        "cite": " ".join(document.cite),
        "regulation": document.regulation,
        "jurisdictions": " ".join(document.jurisdictions),
        "level": document.level,
        "topic": " ".join(document.topics),
        "status": document.status,
        "type": document.type,
        "team": document.team,
        "retired": "yes" if document.retired else "no",
    }
    values = {name: value for name, value in values.items() if value}
    values["stored"] = {
        "id": document.id,
        "kind": document.kind,
        "title": document.title,
        "regulation": document.regulation,
        "jurisdiction": document.jurisdiction,
        "level": document.level,
        "topics": list(document.topics),
        "status": document.status,
        "type": document.type,
        **document.display,
    }
    return values


# -- highlighting --------------------------------------------------------------------------------


def _words(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, lower-case word) as both analysers see them, CJK runs as pairs."""
    for match in _WORDS.finditer(text):
        word = match.group().lower()
        start = match.start()
        if len(word) > 2 and _is_cjk(word):
            for offset in range(len(word) - 1):
                yield start + offset, start + offset + 2, word[offset : offset + 2]
        else:
            yield start, match.end(), word


def highlight(
    text: str, stems: set[str], exact: set[str], window: int | None = SNIPPET_CHARS
) -> Segments:
    """text in pieces, the words searched for marked; long text cut around the first match.

    A word is marked when its stem is one of stems, or it is one of exact (prefix and fuzzy
    expansions). The words are those TEXT_ANALYZER and EXACT_ANALYZER see, found without
    building Whoosh tokens: this runs for the title and summary of every hit shown.
    """
    if not text:
        return []
    spans: list[tuple[int, int]] = []
    for start, end, word in _words(text):
        if word in exact or (
            len(word) >= _MIN_TERM and word not in STOP_WORDS and stem(word) in stems
        ):
            spans.append((start, end))
    return _cut(text, spans, window)


def _cut(text: str, marks: list[tuple[int, int]], window: int | None) -> Segments:
    start, end = 0, len(text)
    if window is not None and len(text) > window:
        first = marks[0][0] if marks else 0
        start = max(0, min(first - window // 4, len(text) - window))
        end = min(len(text), start + window)
        if start > 0:
            start = text.find(" ", start) + 1 or start
        if end < len(text):
            end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    pieces: Segments = []
    if start > 0:
        pieces.append(("… ", False))
    cursor = start
    for mark_start, mark_end in marks:
        if mark_start < cursor or mark_end > end:
            continue
        if mark_start > cursor:
            pieces.append((text[cursor:mark_start], False))
        pieces.append((text[mark_start:mark_end], True))
        cursor = mark_end
    if cursor < end:
        pieces.append((text[cursor:end], False))
    if end < len(text):
        pieces.append((" …", False))
    return pieces
