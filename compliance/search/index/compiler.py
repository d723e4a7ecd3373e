"""Compiling a parsed query into a scored Whoosh query and the exact set of its documents.

The two are built side by side from the same clauses, so the count, the facets and the ranked
page always describe the same documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from whoosh import query as q
from whoosh.matching import UnionMatcher

from compliance.search import docsets
from compliance.search.index.schema import SNIPPET_CHARS, Segments, analyse, highlight
from compliance.search.query import Instrument, Phrase, Place, Query, Synonyms, Word

if TYPE_CHECKING:
    from compliance.search.index import SearchIndex, _State

# How much each text field counts (BM25F per field); the same word in a title outranks it in
# a summary, and a citation or alias outranks both.
FIELD_BOOSTS = (("title", 3.0), ("names", 2.0), ("body", 1.0))
# When a query matches many documents, the first pages are ranked among those matching it in
# these fields alone ("champions"): a word in a title outweighs it in any summary, and their
# postings are a fraction of the summaries'.
CHAMPION_FIELDS = FIELD_BOOSTS[:2]
CHAMPION_THRESHOLD = 400  # matches above which champions are tried
# The keyword fields below are not length-scored: a match adds exactly its boost. A title
# word scores about 10-20, so these are set against that scale.
CITATION_BOOST = 120.0  # a pinpoint citation "goes straight to that provision"
INSTRUMENT_BOOST = 20.0  # an instrument named by an alias ranks its documents first
PLACE_BOOST = 20.0  # so does a jurisdiction named in words
ALIAS_WORDS_SCALE = 0.2  # an alias's words also match as text, but weakly: "DSA" in a summary
SYNONYM_SCALE = 0.7  # a synonym of the typed words counts a little less than the words
MAX_SYNONYMS = 6  # other ways of saying it searched, in synonyms.yaml's order
SYNONYM_TIEBREAK = 0.1  # a second synonym in the same document adds a little
FIELD_TIEBREAK = 0.3  # a word in a second field adds a little to its best field
KIND_BOOST = 30.0  # a query naming only an instrument lists the instrument itself first
MAX_EXPANSIONS = 48  # terms a prefix or a fuzzy word may stand for


class BestOfMatcher(UnionMatcher):  # type: ignore[misc]
    """Matches any branch and scores a document by its best branch, plus a share of the other.

    Whoosh's own DisjunctionMaxMatcher compares the current postings of its two branches even
    when they sit on different documents, and drops the survivor when one branch runs out.
    The union's additive quality bounds stay valid upper bounds of this score.
    """

    def __init__(self, a: Any, b: Any, tiebreak: float = 0.0) -> None:
        super().__init__(a, b)
        self.tiebreak = tiebreak

    def copy(self) -> BestOfMatcher:
        return self.__class__(self.a.copy(), self.b.copy(), tiebreak=self.tiebreak)

    def replace(self, minquality: float = 0) -> Any:
        replaced = super().replace(minquality)
        if isinstance(replaced, UnionMatcher) and not isinstance(replaced, BestOfMatcher):
            return self.__class__(replaced.a, replaced.b, tiebreak=self.tiebreak)
        return replaced

    def score(self) -> float:
        a, b = self.a, self.b
        if not a.is_active():
            return float(b.score())
        if not b.is_active():
            return float(a.score())
        a_id, b_id = a.id(), b.id()
        if a_id == b_id:
            high, low = sorted((a.score(), b.score()), reverse=True)
            return float(high + self.tiebreak * low)
        return float(a.score() if a_id < b_id else b.score())


class BestOf(q.CompoundQuery):  # type: ignore[misc]
    JOINT = " BEST "
    intersect_merge = False

    def __init__(self, subqueries: list[Any], tiebreak: float = 0.0) -> None:
        super().__init__(subqueries)
        self.tiebreak = tiebreak

    def _matcher(self, subs: list[Any], searcher: Any, context: Any) -> Any:
        return self._tree_matcher(
            subs, BestOfMatcher, searcher, context, None, tiebreak=self.tiebreak
        )


@dataclass
class Compiled:
    query: Any
    docs: int
    stems: set[str]
    exact: set[str]

    def highlight(self, text: str, whole: bool = False) -> Segments:
        """text split into pieces, matched words marked; long text cut around the first match."""
        return highlight(text, self.stems, self.exact, None if whole else SNIPPET_CHARS)


class Compiler:
    """Turn a parsed query into a scored Whoosh query and the set of documents it matches.

    The two are built side by side from the same clauses, so the count and the facets always
    describe exactly the documents the ranked list is drawn from.
    """

    def __init__(
        self,
        owner: SearchIndex,
        state: _State,
        fields: tuple[tuple[str, float], ...] = FIELD_BOOSTS,
    ) -> None:
        self.owner = owner
        self.state = state
        self.fields = fields
        self.stems: set[str] = set()
        self.exact: set[str] = set()

    def compile(self, query: Query) -> Compiled:
        state = self.state
        parts = []
        for group in query.groups:
            compiled = [self._clause(clause) for clause in group]
            usable = [c for c in compiled if c is not None]
            if usable:
                parts.append(any_of(usable))
        core: tuple[Any, int] | None = all_of(parts) if parts else None
        if query.citations:
            cited = self._citations(query)
            core = any_of([cited, core]) if core is not None else cited
        if core is None:
            # No groups: list everything. Groups of stop words only: nothing to match.
            core = (q.NullQuery, 0) if query.groups else (q.Every(), state.live)
        scored, docs = core
        boosts = [q.Term("jurisdictions", code, boost=PLACE_BOOST) for code in query.places]
        clauses = [clause for group in query.groups for clause in group]
        if clauses and all(isinstance(clause, Instrument) for clause in clauses):
            boosts.append(q.Term("kind", "regulation", boost=KIND_BOOST))
        if boosts:
            scored = q.AndMaybe(scored, q.Or(boosts))
        # What is excluded is excluded wherever it appears, whatever fields rank.
        everywhere = self if self.fields == FIELD_BOOSTS else Compiler(self.owner, self.state)
        excluded = [c for c in (everywhere._clause(clause) for clause in query.excluded) if c]
        if excluded:
            not_wanted = any_of(excluded)
            scored = q.AndNot(scored, not_wanted[0])
            docs &= ~not_wanted[1]
        return Compiled(scored, docs, self.stems, self.exact)

    def _docs(self, fieldname: str, text: str) -> int:
        return self.owner._docs(self.state, fieldname, text)

    def _terms(self, terms: Sequence[str], scale: float = 1.0) -> tuple[Any, int] | None:
        """Every term, each in any text field."""
        if not terms:
            return None
        self.stems.update(terms)
        per_term = []
        for term in terms:
            fields = [q.Term(name, term, boost=boost * scale) for name, boost in self.fields]
            docs = 0
            for name, _ in self.fields:
                docs |= self._docs(name, term)
            # A word counts by the field it matters most in (a title beats a summary), not by
            # how many fields repeat it: a cheap stand-in for BM25F's pooled term frequency.
            per_term.append((BestOf(fields, tiebreak=FIELD_TIEBREAK), docs))
        return all_of(per_term)

    def _exact_any(self, terms: Sequence[str]) -> tuple[Any, int]:
        self.exact.update(terms)
        docs = 0
        for term in terms:
            docs |= self._docs("exact", term)
        return q.Or([q.Term("exact", term) for term in terms]), docs

    def _clause(self, clause: Any) -> tuple[Any, int] | None:
        if isinstance(clause, Word):
            return self._word(clause)
        if isinstance(clause, Phrase):
            return self._phrase(clause)
        if isinstance(clause, Synonyms):
            # The best-matching way of saying it counts, the user's own words fully and the
            # other ways a little less; several synonyms in one summary do not add up. (Phrase
            # matching for the other ways was more precise but cost 10-50x on common words.)
            typed = analyse(clause.typed)
            own = self._terms(typed)
            common = own is not None and docsets.count(own[1]) * 4 > docsets.count(self.state.live)
            if common:
                return own  # a word most documents use gains nothing from its synonyms
            others = [tuple(analyse(option)) for option in clause.options]
            others = [terms for terms in dict.fromkeys(others) if list(terms) != typed]
            options = [own] + [
                self._terms(terms, scale=SYNONYM_SCALE) for terms in others[:MAX_SYNONYMS]
            ]
            usable = [option for option in options if option is not None]
            if len(usable) <= 1:
                return usable[0] if usable else None
            docs = 0
            for _, found in usable:
                docs |= found
            return BestOf([scored for scored, _ in usable], tiebreak=SYNONYM_TIEBREAK), docs
        if isinstance(clause, Instrument):
            named = [
                (q.Term("regulation", slug, boost=INSTRUMENT_BOOST), self._docs("regulation", slug))
                for slug in clause.slugs
            ]
            words = self._terms(analyse(clause.words), scale=ALIAS_WORDS_SCALE)
            return any_of(named + ([words] if words else []))
        if isinstance(clause, Place):
            return any_of(
                [(q.Term("jurisdictions", c), self._docs("jurisdictions", c)) for c in clause.codes]
            )
        return None

    def _word(self, word: Word) -> tuple[Any, int] | None:
        reader = self.state.searcher.reader()
        text = word.text.lower()
        if word.prefix:
            candidates = list(first(reader.expand_prefix("exact", text), 400))
            terms = sorted(
                (as_text(term) for term in candidates),
                key=lambda term: -docsets.count(self._docs("exact", term)),
            )[:MAX_EXPANSIONS]
            return self._exact_any(terms) if terms else (q.NullQuery, 0)
        if word.fuzzy:
            near = list(first(reader.terms_within("exact", text, word.fuzzy, prefix=1), 400))
            near = sorted(near, key=lambda term: distance(text, term))[:MAX_EXPANSIONS]
            found = [self._exact_any(near)] if near else []
            exact = self._terms(analyse(word.text))
            if not found and not exact:
                return (q.NullQuery, 0)
            return any_of(found + ([exact] if exact else []))
        return self._terms(analyse(word.text))

    def _phrase(self, phrase: Phrase) -> tuple[Any, int] | None:
        terms = analyse(" ".join(phrase.words))
        if len(terms) < 2:
            return self._terms(terms)
        return self._phrase_terms(terms)

    def _phrase_terms(self, terms: Sequence[str], scale: float = 1.0) -> tuple[Any, int]:
        self.stems.update(terms)
        phrases = [q.Phrase(name, list(terms), boost=boost * scale) for name, boost in self.fields]
        docs = 0
        for phrase in phrases:  # per field, as the ranker asks for them (and finds them cached)
            docs |= self.owner._query_docs(self.state, phrase)
        return BestOf(phrases, tiebreak=FIELD_TIEBREAK), docs

    def _citations(self, query: Query) -> tuple[Any, int]:
        scored, docs = [], 0
        for atoms in query.citations:
            for rank, atom in enumerate(atoms):
                # The exact place first, then its parents ("art:16.1" before "art:16").
                scored.append(q.Term("cite", atom, boost=CITATION_BOOST / (1 + rank)))
                docs |= self._docs("cite", atom)
        cited: tuple[Any, int] = (q.Or(scored), docs)
        if query.instruments:
            scope = [
                (q.Term("regulation", s), self._docs("regulation", s)) for s in query.instruments
            ]
            cited = all_of([cited, any_of(scope)])
        return cited


def any_of(parts: Sequence[tuple[Any, int]]) -> tuple[Any, int]:
    if len(parts) == 1:
        return parts[0]
    docs = 0
    for _, found in parts:
        docs |= found
    return q.Or([scored for scored, _ in parts]), docs


def all_of(parts: Sequence[tuple[Any, int]]) -> tuple[Any, int]:
    if len(parts) == 1:
        return parts[0]
    docs = -1  # every bit set
    for _, found in parts:
        docs &= found
    return q.And([scored for scored, _ in parts]), docs


def first(items: Iterable[Any], limit: int) -> Iterator[Any]:
    for number, item in enumerate(items):
        if number >= limit:
            return
        yield item


def as_text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (a swap of two letters is one edit, as typists make it)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
        previous2, previous = previous, current
    return previous[-1]
