"""Relevance: which tracked instruments a feed entry concerns, with a score and the reasons.

Cheap, explainable layers first (design reference, section 4.3): formal citations, pinpoint
citations such as "Art. 28 DSA", names and aliases (short acronyms case-sensitive), then a
change-signal lexicon; the search index comes last, to corroborate a weak match or suggest a
candidate for a person to promote. Pure: the catalogue and the search come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from compliance.search.citations import Citation, find_citations, ref_atoms

W_CITATION = 1.0  # the instrument's own citation: "Regulation (EU) 2022/2065", "2023 c. 50"
W_PINPOINT = 0.9  # a provision of a named instrument: "Art. 28 DSA"
W_TITLE = 0.7  # a name or alias in the entry's title
W_BODY = 0.4  # a name or alias in the entry's text
W_CHANGE = 0.1  # words announcing a change, on top of a match
W_LOCAL = 0.1  # the feed's jurisdiction is the instrument's: a regulator on its own law
W_SEARCH_CORROBORATES = 0.15  # the search index ranks an already matched instrument high
W_SEARCH_ONLY = 0.3  # the best a search-only candidate scores: below any sane threshold
# A name from another jurisdiction's source: "Online Safety Act" in an Australian regulator's
# news is more likely Australia's Act than the UK's, whose alias it also is.
FOREIGN = 0.75
NEAR = 60  # characters between a provision and the instrument name it belongs to
SEARCH_HITS = 3

CHANGE_WORDS = re.compile(
    r"\b(amend(?:s|ed|ment|ments|ing)?|repeal(?:s|ed)?|consultation|consults?|"
    r"comes? into force|came into force|commencement|in force|code of practice|guidance|"
    r"guidelines|statutory instrument|delegated act|implementing act|regulations made|"
    r"enforcement|fine[sd]?|penalt(?:y|ies)|investigation|designat(?:es|ed|ion)|"
    r"final rule|proposed rule|rulemaking|bill|royal assent|signed into law|effective)\b",
    re.IGNORECASE,
)
_CITATION_LIKE = re.compile(r"\d+\s*/\s*\d+|\bc\.\s*\d|\bCFR\b|U\.S\.C|\bNo\.\s*\d|§", re.I)
_ACRONYM = re.compile(r"^[A-Z0-9][A-Z0-9&\-]{1,7}$")
_PINPOINT_FAMILIES = {"art", "s", "para", "rule", "cfr", "usc"}
_CODE_FAMILIES = {"cfr", "usc"}  # the citation itself names the law: "16 CFR 312.5"
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\xa0": " "})


@dataclass(frozen=True)
class ObligationRef:
    obligation_id: int
    ref: str
    atoms: frozenset[str]


@dataclass(frozen=True)
class Instrument:
    """What matching knows of one tracked instrument."""

    regulation_id: int
    slug: str
    short_title: str
    jurisdictions: tuple[str, ...]  # its own code first, then each one above it
    citation: str
    names: tuple[str, ...]  # short title, title, aliases
    obligations: tuple[ObligationRef, ...] = ()

    @classmethod
    def of(
        cls,
        *,
        regulation_id: int,
        slug: str,
        short_title: str,
        title: str,
        citation: str,
        aliases: Iterable[str],
        jurisdictions: tuple[str, ...],
        obligations: Iterable[tuple[int, str]],
    ) -> Instrument:
        names = tuple(dict.fromkeys(n.strip() for n in (short_title, title, *aliases) if n.strip()))
        refs = tuple(
            ObligationRef(oid, ref, frozenset(ref_atoms(ref))) for oid, ref in obligations if ref
        )
        return cls(regulation_id, slug, short_title, jurisdictions, citation, names, refs)


@dataclass(frozen=True)
class Suggestion:
    """A search-index hit for an entry: the instrument's slug and, if any, the obligation."""

    slug: str
    title: str
    obligation_id: int | None = None


@dataclass
class Match:
    regulation_id: int
    slug: str
    short_title: str
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    obligation_ids: list[int] = field(default_factory=list)

    def add(self, weight: float, reason: str) -> None:
        if reason not in self.reasons:
            self.score = min(1.0, round(self.score + weight, 3))
            self.reasons.append(reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "regulation_id": self.regulation_id,
            "slug": self.slug,
            "short_title": self.short_title,
            "score": round(self.score, 2),
            "reasons": list(self.reasons),
            "obligation_ids": list(self.obligation_ids),
        }


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    text: str
    instruments: tuple[int, ...]  # indexes into Matcher.instruments
    citation: bool


def normalise(text: str) -> str:
    """Typographic quotes and dashes as plain ones, so "Children’s Code" meets its alias."""
    return text.translate(_QUOTES)


def _pattern(name: str) -> str:
    return r"\s+".join(re.escape(word) for word in normalise(name).split())


class Matcher:
    """The compiled name and citation rules of a catalogue; build once per poll cycle."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self.instruments = instruments
        self._by_name: dict[str, set[int]] = {}  # lower-cased name (exact for acronyms)
        self._citations: set[str] = set()
        self._code_atoms: list[tuple[int, frozenset[str]]] = []
        exact: set[str] = set()
        folded: set[str] = set()
        for index, instrument in enumerate(instruments):
            citation_names = {instrument.citation.strip()} | {
                n for n in instrument.names if _CITATION_LIKE.search(n)
            }
            for name in (*instrument.names, instrument.citation):
                name = " ".join(normalise(name).split())
                if len(name) < 3 and not name.isupper():
                    continue
                acronym = bool(_ACRONYM.match(name)) and len(name) <= 8
                key = name if acronym else name.lower()
                (exact if acronym else folded).add(name)
                self._by_name.setdefault(key, set()).add(index)
                if name in citation_names:
                    self._citations.add(key)
            atoms = {
                atom
                for citation in find_citations(instrument.citation)
                if citation.family in _CODE_FAMILIES
                for atom in citation.atoms
            }
            if atoms:
                self._code_atoms.append((index, frozenset(atoms)))
        self._exact = _alternation(exact, 0)
        self._folded = _alternation(folded, re.IGNORECASE)

    def _spans(self, text: str) -> list[_Span]:
        spans: list[_Span] = []
        for regex, fold in ((self._folded, True), (self._exact, False)):
            if regex is None:
                continue
            for found in regex.finditer(text):
                name = " ".join(found.group(0).split())
                key = name.lower() if fold else name
                indexes = self._by_name.get(key)
                if not indexes:
                    continue
                if any(s.start < found.end() and found.start() < s.end for s in spans):
                    continue  # a longer name already covers it ("Online Safety Act 2023")
                spans.append(
                    _Span(
                        found.start(), found.end(), name, tuple(sorted(indexes)),
                        key in self._citations,
                    )
                )  # fmt: skip
        return sorted(spans, key=lambda s: s.start)

    def match(
        self,
        title: str,
        text: str,
        *,
        source_jurisdictions: tuple[str, ...] = (),
        search: Callable[[str], list[Suggestion]] | None = None,
    ) -> list[Match]:
        """Every instrument the entry concerns, best first, each with its score and reasons.

        source_jurisdictions: the feed's jurisdiction code first, then each one above it.
        """
        title, text = normalise(title), normalise(text)
        matches: dict[int, Match] = {}

        def match_for(index: int) -> Match:
            if index not in matches:
                found = self.instruments[index]
                matches[index] = Match(found.regulation_id, found.slug, found.short_title)
            return matches[index]

        whole = f"{title}\n{text}"
        for spans, in_title in ((self._spans(title), True), (self._spans(text), False)):
            for span in spans:
                self._named(span, in_title, source_jurisdictions, match_for)
        self._pinpoints(whole, self._spans(whole), source_jurisdictions, match_for)
        if source_jurisdictions:
            for index, found in matches.items():
                chain = self.instruments[index].jurisdictions
                if chain and (source_jurisdictions[0] in chain or chain[0] in source_jurisdictions):
                    found.add(W_LOCAL, f"from a {source_jurisdictions[0]} source")
        change = CHANGE_WORDS.search(whole)
        if change and matches:
            for found in matches.values():
                found.add(W_CHANGE, f"announces a change ('{change.group(0).lower()}')")
        if search is not None and title.strip():
            self._searched(search(title), matches, match_for)
        return sorted(matches.values(), key=lambda m: (-m.score, m.slug))

    def _named(
        self,
        span: _Span,
        in_title: bool,
        source: tuple[str, ...],
        match_for: Callable[[int], Match],
    ) -> None:
        """Score a name or citation found in the title or the text."""
        chosen, note = self._resolve(span, source)
        for index in chosen:
            factor, suffix = (0.5 if note else 1.0), note
            if self._foreign(index, source):
                factor *= FOREIGN
                suffix = suffix or f" (in news from a {source[0]} source)"
            if span.citation:
                match_for(index).add(W_CITATION, f"cites {span.text}")
            elif in_title:
                match_for(index).add(
                    W_TITLE * factor, f"mentions '{span.text}' in the title{suffix}"
                )
            else:
                match_for(index).add(W_BODY * factor, f"mentions '{span.text}'{suffix}")

    def _foreign(self, index: int, source: tuple[str, ...]) -> bool:
        """Whether the instrument's jurisdiction and the source's are unrelated."""
        if not source:
            return False
        chain = self.instruments[index].jurisdictions
        if not chain or chain[0] == "INT":  # treaties concern every source
            return False
        return source[0] not in chain and chain[0] not in source

    def _resolve(self, span: _Span, source: tuple[str, ...]) -> tuple[tuple[int, ...], str]:
        """The instruments a name stands for; a name several share is narrowed by the source."""
        if len(span.instruments) == 1:
            return span.instruments, ""
        if source:
            local = tuple(i for i in span.instruments if not self._foreign(i, source))
            if len(local) == 1:
                return local, ""
        return span.instruments, f" (a name {len(span.instruments)} instruments share)"

    def _pinpoints(
        self,
        text: str,
        spans: list[_Span],
        source: tuple[str, ...],
        match_for: Callable[[int], Match],
    ) -> None:
        for citation in find_citations(text):
            if citation.family not in _PINPOINT_FAMILIES:
                continue
            atoms = set(citation.atoms)
            named: list[tuple[int, int]] = []  # (instrument index, end of the cited words)
            if citation.family in _CODE_FAMILIES:
                named += [(i, citation.end) for i, code in self._code_atoms if atoms & code]
            span = _nearest(spans, citation)
            if span is not None:
                chosen, _note = self._resolve(span, source)
                end = max(citation.end, span.end)
                named += [(index, end) for index in chosen]
            done: set[int] = set()
            for index, end in named:
                if index in done:
                    continue
                done.add(index)
                start = min(citation.start, span.start if span is not None else citation.start)
                words = " ".join(text[start:end].split())[:100]
                found = match_for(index)
                found.add(W_PINPOINT, f"cites {words}")
                for obligation_id in _cited(self.instruments[index], citation.atoms):
                    if obligation_id not in found.obligation_ids:
                        found.obligation_ids.append(obligation_id)

    def _searched(
        self,
        suggestions: list[Suggestion],
        matches: dict[int, Match],
        match_for: Callable[[int], Match],
    ) -> None:
        by_slug = {instrument.slug: i for i, instrument in enumerate(self.instruments)}
        seen: set[int] = set()
        for rank, suggestion in enumerate(suggestions[:SEARCH_HITS], start=1):
            index = by_slug.get(suggestion.slug)
            if index is None or index in seen:
                continue
            seen.add(index)
            reason = f"the search index ranks it #{rank} for the title ('{suggestion.title[:80]}')"
            if index in matches:
                matches[index].add(W_SEARCH_CORROBORATES, reason)
            else:
                match_for(index).add(round(W_SEARCH_ONLY / rank, 3), reason)


def _alternation(names: set[str], flags: int) -> re.Pattern[str] | None:
    if not names:
        return None
    ordered = sorted(names, key=lambda n: (-len(n), n))  # longest first: leftmost-longest
    body = "|".join(_pattern(name) for name in ordered)
    return re.compile(rf"(?<![\w]){'(?:' + body + ')'}(?![\w])", flags)


def _cited(instrument: Instrument, atoms: tuple[str, ...]) -> list[int]:
    """The obligations at the most specific place cited that the instrument has: "Art. 28(1)"
    finds Art. 28(1) if tracked, else Art. 28; "16 CFR 312.5" is not all of Part 312."""
    for atom in atoms:  # most specific first
        found = [o.obligation_id for o in instrument.obligations if atom in o.atoms]
        if found:
            return found
    return []


def _nearest(spans: list[_Span], citation: Citation) -> _Span | None:
    """The name span right after the provision ("Art. 28 DSA", "s. 12 of the Act") or right
    before it ("DSA Article 28"), within NEAR characters."""
    best: tuple[int, _Span] | None = None
    for span in spans:
        if span.start >= citation.end:
            gap = span.start - citation.end
        elif span.end <= citation.start:
            gap = citation.start - span.end + 10  # prefer the name after the provision
        else:
            continue
        if gap <= NEAR and (best is None or gap < best[0]):
            best = (gap, span)
    return best[1] if best is not None else None
