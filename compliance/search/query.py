"""Read the search box into a structured query: words, phrases, synonyms, citations, places.

Pure: the vocabulary (instrument aliases, jurisdiction names, synonyms, the analyser that
normalises words) is passed in, so this module knows nothing of Whoosh or the database. The
grammar is deliberately small and never fails: anything it cannot read becomes plain words,
and each liberty it takes is reported back as a notice the user can read.

    words              every word (or one of its synonyms) must appear
    "a phrase"         the words next to each other
    word*  word~       prefix; spelling-tolerant (word~2 allows two edits)
    a OR b             either
    -word  NOT word    must not appear
    field:value        filter: jurisdiction, level, topic, status, type, kind
    Art. 16(1) DSA     a pinpoint citation, scoped to the instrument named beside it
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from compliance.catalogue.source import read_plain
from compliance.search.citations import find_citations

SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")
MAX_QUERY_CHARS = 500
MAX_CLAUSES = 24
MIN_PREFIX = 2  # "a*" would stand for most of the vocabulary
MAX_NGRAM = 8  # the longest alias or synonym phrase looked for, in words
# What `field:value` may name. Nothing else is reachable from a query (no owner team, no ids).
FILTER_FIELDS = ("jurisdiction", "level", "topic", "status", "type", "kind")

_TOKEN = re.compile(
    r"""(?P<neg>(?<![^\s(])-)?(?:
        (?P<phrase>"[^"]*")
      | (?P<field>[A-Za-z_]\w*):(?P<value>"[^"]*"|[^\s"()]+)
      | (?P<word>\w+(?:['’.\-]\w+)*)(?P<suffix>\*|~[12]?)?
      | (?P<star>\*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Word:
    text: str
    start: int = 0  # where it stands in Query.text, for "did you mean"
    prefix: bool = False
    fuzzy: int = 0  # edits allowed, 0 for an exact word


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]


@dataclass(frozen=True)
class Synonyms:
    """One of several phrases meaning the same (compliance/search/synonyms.yaml)."""

    options: tuple[str, ...]
    typed: str = ""  # the words as the user typed them


@dataclass(frozen=True)
class Instrument:
    """An instrument named by one of its aliases: its documents, or the words themselves."""

    slugs: tuple[str, ...]
    words: str


@dataclass(frozen=True)
class Place:
    """A jurisdiction named in words; matches it and the jurisdictions below it."""

    codes: tuple[str, ...]


Clause = Word | Phrase | Synonyms | Instrument | Place


@dataclass(frozen=True)
class Query:
    """What to look for. Every group must match; a group matches when any of its clauses does."""

    text: str
    groups: tuple[tuple[Clause, ...], ...] = ()
    excluded: tuple[Clause, ...] = ()
    citations: tuple[tuple[str, ...], ...] = ()  # atoms of each citation, most specific first
    instruments: tuple[str, ...] = ()  # slugs named in the query: ranked first, scope citations
    places: tuple[str, ...] = ()  # jurisdiction codes named in the query: ranked first
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    @property
    def match_all(self) -> bool:
        """Nothing to look for: list everything the filters allow."""
        return not self.groups and not self.citations

    def words(self) -> list[Word]:
        return [c for group in self.groups for c in group if isinstance(c, Word)]

    def relaxed(self) -> Query:
        """The same query with any group enough: used when no document has every word."""
        merged = tuple(clause for group in self.groups for clause in group)
        return Query(
            text=self.text,
            groups=(merged,) if merged else (),
            excluded=self.excluded,
            citations=self.citations,
            instruments=self.instruments,
            places=self.places,
            filters=self.filters,
            notices=self.notices,
        )


Analyse = Callable[[str], list[str]]


@dataclass(frozen=True)
class Vocabulary:
    """What the parser recognises, each phrase keyed by its analysed words."""

    analyse: Analyse  # text -> index terms (lower case, stemmed, no stop words)
    synonyms: Mapping[tuple[str, ...], tuple[str, ...]]  # phrase -> its group
    aliases: Mapping[tuple[str, ...], tuple[str, ...]]  # phrase -> instrument slugs
    places: Mapping[tuple[str, ...], str]  # phrase -> jurisdiction code
    codes: frozenset[str]  # jurisdiction codes, recognised when typed in capitals

    @classmethod
    def build(
        cls,
        analyse: Analyse,
        *,
        aliases: Mapping[str, list[str]] | None = None,
        jurisdictions: Mapping[str, str] | None = None,
        synonyms_file: Path = SYNONYMS_FILE,
    ) -> Vocabulary:
        """aliases: slug -> names; jurisdictions: code -> name (both from the catalogue)."""
        data = read_synonyms(synonyms_file)
        synonym_map: dict[tuple[str, ...], tuple[str, ...]] = {}
        for group in data["groups"]:
            options = tuple(str(option) for option in group)
            for option in options:
                analysed = tuple(analyse(option))
                if analysed:
                    synonym_map.setdefault(analysed, options)
        alias_map: dict[tuple[str, ...], tuple[str, ...]] = {}
        for slug, names in (aliases or {}).items():
            for name in names:
                words = _key(name)
                if words:
                    alias_map[words] = tuple(dict.fromkeys((*alias_map.get(words, ()), slug)))
        return cls(
            analyse=analyse,
            synonyms=synonym_map,
            aliases=alias_map,
            places=_places(jurisdictions or {}, data["places"]),
            codes=frozenset((jurisdictions or {}).keys()) | frozenset(data["places"]),
        )


def _key(phrase: str) -> tuple[str, ...]:
    return tuple(_plain_words(phrase))


def _places(
    jurisdictions: Mapping[str, str], extra: Mapping[str, list[str]]
) -> dict[tuple[str, ...], str]:
    """Jurisdiction names, and the other names synonyms.yaml gives them, to their codes."""
    places: dict[tuple[str, ...], str] = {}
    for code, name in jurisdictions.items():
        if _key(name):
            places.setdefault(_key(name), code)
    for code, names in extra.items():
        for name in names:
            if _key(str(name)):
                places[_key(str(name))] = str(code)
    return places


def read_synonyms(path: Path = SYNONYMS_FILE) -> dict[str, Any]:
    """The synonyms file: {"groups": [[phrase, ...], ...], "places": {code: [name, ...]}}."""
    stat = path.stat()
    data = _read_synonyms(path, stat.st_mtime_ns, stat.st_size)
    return {"groups": list(data["groups"]), "places": dict(data["places"])}


@lru_cache(maxsize=8)
def _read_synonyms(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    # Parsed once per version of the file: the vocabulary is rebuilt after every index write,
    # and parsing the YAML was most of that.
    data = read_plain(path) or {}
    return {"groups": list(data.get("groups") or []), "places": dict(data.get("places") or {})}


def _plain_words(text: str) -> list[str]:
    """Lower-case words without punctuation: how aliases and places are compared."""
    return re.findall(r"\w+", text.lower())


def clean(text: str) -> tuple[str, list[str]]:
    """Normalise Unicode, drop control characters, cap the length; say what was changed."""
    notices = []
    text = unicodedata.normalize("NFKC", text or "")
    cleaned = "".join(
        " " if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") else char
        for char in text[: MAX_QUERY_CHARS * 4]
    )
    if cleaned != text[: MAX_QUERY_CHARS * 4]:
        notices.append("Control characters in the query were ignored.")
    cleaned = " ".join(cleaned.split())
    if len(text) > MAX_QUERY_CHARS * 4 or len(cleaned) > MAX_QUERY_CHARS:
        cleaned = cleaned[:MAX_QUERY_CHARS].rsplit(" ", 1)[0] if " " in cleaned else cleaned
        cleaned = cleaned[:MAX_QUERY_CHARS]
        notices.append(f"The query was cut to its first {MAX_QUERY_CHARS} characters.")
    return cleaned, notices


@dataclass
class _Token:
    kind: str  # word, phrase, or, not, star
    text: str
    start: int
    negated: bool = False
    suffix: str = ""


class _Parser:
    def __init__(self, text: str, vocabulary: Vocabulary, notices: list[str]) -> None:
        self.text = text
        self.vocabulary = vocabulary
        self.notices = notices
        self.filters: dict[str, list[str]] = {}
        self.instruments: list[str] = []
        self.places: list[str] = []

    def parse(self) -> Query:
        aliases = self.vocabulary.aliases
        citations = [
            # "Section 230" is an instrument's name as well as a citation: the name wins.
            c
            for c in find_citations(self.text)
            if tuple(_plain_words(self.text[c.start : c.end])) not in aliases
        ]
        masked = list(self.text)
        for citation in citations:
            masked[citation.start : citation.end] = " " * (citation.end - citation.start)
        tokens = self._tokens("".join(masked))
        groups, excluded = self._clauses(tokens)
        if not groups and self.places and not citations:
            # "California" alone: the place is what is asked for, not a mere preference.
            groups = [[Place(tuple(dict.fromkeys(self.places)))]]
        if len(groups) > MAX_CLAUSES:
            groups = groups[:MAX_CLAUSES]
            self.notices.append(f"Only the first {MAX_CLAUSES} words or phrases were searched.")
        return Query(
            text=self.text,
            groups=tuple(tuple(group) for group in groups),
            excluded=tuple(excluded[:MAX_CLAUSES]),
            citations=tuple(c.atoms for c in citations[:MAX_CLAUSES]),
            instruments=tuple(dict.fromkeys(self.instruments)),
            places=tuple(dict.fromkeys(self.places)),
            filters={name: tuple(dict.fromkeys(values)) for name, values in self.filters.items()},
            notices=tuple(dict.fromkeys(self.notices)),
        )

    def _tokens(self, text: str) -> list[_Token]:
        if text.count('"') % 2:
            self.notices.append("A quotation mark had no partner; it was ignored.")
            last = text.rfind('"')
            text = text[:last] + " " + text[last + 1 :]
        tokens: list[_Token] = []
        negate_next = False
        for match in _TOKEN.finditer(text):
            negated = bool(match["neg"]) or negate_next
            negate_next = False
            if match["phrase"] is not None:
                tokens.append(_Token("phrase", match["phrase"][1:-1], match.start(), negated))
            elif match["field"] is not None:
                tokens.extend(self._field(match, negated))
            elif match["star"] is not None:
                tokens.append(_Token("star", "*", match.start()))
            elif match["word"] in ("OR", "AND", "NOT"):
                if match["word"] == "NOT":
                    negate_next = True
                elif match["word"] == "OR":
                    tokens.append(_Token("or", "OR", match.start()))
            else:
                start = match.start("word")
                tokens.append(_Token("word", match["word"], start, negated, match["suffix"] or ""))
        return tokens

    def _field(self, match: re.Match[str], negated: bool) -> list[_Token]:
        name, value = match["field"].lower(), match["value"].strip('"').strip()
        if name in FILTER_FIELDS and value and not negated:
            value = value.upper() if name == "jurisdiction" else value.lower()
            self.filters.setdefault(name, []).append(value)
            return []
        if name not in FILTER_FIELDS:
            self.notices.append(
                f"There is no field '{name[:30]}'; its words were searched instead. "
                f"Fields: {', '.join(FILTER_FIELDS)}."
            )
        start = match.start("field")
        return [
            _Token("word", word, start, negated)
            for word in re.findall(r"\w+(?:['’.\-]\w+)*", f"{match['field']} {value}")
        ]

    def _clauses(self, tokens: list[_Token]) -> tuple[list[list[Clause]], list[Clause]]:
        groups: list[list[Clause]] = []
        excluded: list[Clause] = []
        join_next = False
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.kind == "or":
                join_next = bool(groups)
                index += 1
                continue
            if token.kind == "star":
                index += 1
                continue
            clause, used = self._clause(tokens, index)
            index += used
            if clause is None:
                continue
            if token.negated:
                excluded.append(clause)
            elif join_next and groups:
                groups[-1].append(clause)
            else:
                groups.append([clause])
            join_next = False
        return groups, excluded

    def _clause(self, tokens: list[_Token], index: int) -> tuple[Clause | None, int]:
        token = tokens[index]
        if token.kind == "phrase":
            words = tuple(re.findall(r"\w+", token.text))
            if not words:
                return None, 1
            return (Phrase(words) if len(words) > 1 else Word(words[0], token.start)), 1
        if token.suffix == "*":
            if len(token.text) < MIN_PREFIX:
                self.notices.append(
                    f"A prefix needs {MIN_PREFIX} letters; '{token.text}*' was ignored."
                )
                return None, 1
            return Word(token.text, token.start, prefix=True), 1
        if token.suffix.startswith("~"):
            edits = int(token.suffix[1:] or (2 if len(token.text) >= 6 else 1))
            return Word(token.text, token.start, fuzzy=edits), 1
        if token.negated:
            return Word(token.text, token.start), 1
        run = self._plain_run(tokens, index)
        return self._longest(run, tokens[index])

    @staticmethod
    def _plain_run(tokens: list[_Token], index: int) -> list[_Token]:
        run = []
        for token in tokens[index : index + MAX_NGRAM]:
            if token.kind != "word" or token.negated or token.suffix:
                break
            run.append(token)
        return run

    def _longest(self, run: list[_Token], first: _Token) -> tuple[Clause | None, int]:
        """The longest alias, place or synonym phrase starting here, else the one word."""
        vocabulary = self.vocabulary
        for size in range(len(run), 0, -1):
            words = [token.text for token in run[:size]]
            plain = tuple(w for word in words for w in _plain_words(word))
            slugs = vocabulary.aliases.get(plain)
            if slugs and _not_a_stray_word(words):
                self.instruments.extend(slugs)
                return Instrument(slugs, " ".join(words)), size
            code = vocabulary.places.get(plain)
            if code is None and size == 1 and words[0].replace(".", "") in vocabulary.codes:
                code = words[0].replace(".", "")  # "US", "U.S.", "GB": codes count in capitals
            if code is not None and _not_a_stray_word(words):
                self.places.append(code)
                return None, size
            if size > 1 or len(vocabulary.analyse(words[0])) <= 1:
                group = vocabulary.synonyms.get(tuple(vocabulary.analyse(" ".join(words))))
                if group:
                    return Synonyms(group, " ".join(words)), size
        return Word(first.text, first.start), 1


# Short lower-case words that happen to be aliases or place names ("us", "in", "it").
_AMBIGUOUS = {"us", "in", "it", "de", "at", "be", "no", "so", "or", "on", "is", "to", "me", "id"}


def _not_a_stray_word(words: list[str]) -> bool:
    return not (len(words) == 1 and words[0] in _AMBIGUOUS)


def parse(text: str, vocabulary: Vocabulary) -> Query:
    """Read a query; never raises, whatever the text."""
    cleaned, notices = clean(text)
    if cleaned.strip() in ("", "*"):
        return Query(text=cleaned, notices=tuple(notices))
    return _Parser(cleaned, vocabulary, notices).parse()


def with_corrections(query: Query, corrections: Mapping[int, str]) -> str:
    """The query's text with the words at the given offsets replaced: the "did you mean" text."""
    text = query.text
    for word in sorted(query.words(), key=lambda w: w.start, reverse=True):
        if word.start in corrections and text[word.start :].startswith(word.text):
            text = (
                text[: word.start] + corrections[word.start] + text[word.start + len(word.text) :]
            )
    return text
