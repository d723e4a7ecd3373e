"""Ranking one page of hits: BM25F scores for the documents already known to match.

The compiler has already worked out exactly which documents match (as document sets), so
ranking only has to score those. Whoosh's collector would walk its matcher tree document by
document, several Python calls per posting and per tree level; this scores the same query
tree term at a time instead, over each term's postings (read a block at a time and kept per
segment), which is an order of magnitude less work on queries with many terms or matches.
Scores equal Whoosh's own (BM25F per field, boosts, sums for AND and OR, the best-of rule of
compiler._BestOf); query types this does not know are scored by Whoosh itself.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, Protocol

from whoosh import query as q

from compliance.search import docsets
from compliance.search.index.compiler import BestOf
from compliance.search.index.postings import Postings

# The BM25F parameters of whoosh.scoring.BM25F(), with which searchers are opened.
B = 0.75
K1 = 1.2

Scores = dict[int, float]


class Source(Protocol):
    """Where the ranker reads the index: the searcher, and postings and norms it caches."""

    @property
    def searcher(self) -> Any: ...

    def postings(self, fieldname: str, text: str) -> list[tuple[int, Postings]]:
        """(document number offset, postings) of the term in each segment."""

    def lengths(self, fieldname: str) -> list[Sequence[int]]:
        """Each segment's field length of each of its documents (segments in postings' order)."""

    def query_docs(self, query: Any) -> int:
        """The documents a query matches (deleted ones too), as a document set."""


class Ranker:
    def __init__(self, source: Source, candidates: int) -> None:
        self.source = source
        self.candidates = candidates
        self.allowed = _bitmap(candidates)
        self.handlers: dict[type, Callable[[Any], Scores]] = {
            q.Term: self._term,
            q.And: self._and,
            q.Or: self._or,
            q.AndMaybe: self._and_maybe,
            q.AndNot: self._and_not,
            q.ConstantScoreQuery: self._constant,
            q.Phrase: self._phrase,
            BestOf: self._best_of,
        }

    def top(self, query: Any, count: int) -> list[tuple[int, float]]:
        """The count best (document number, score) among the candidates, best first.

        Equal scores keep document order, as Whoosh's collector does.
        """
        if isinstance(query, q.Every):  # nothing to rank by: every document scores the same
            return [(docnum, 1.0) for docnum in islice(docsets.ids(self.candidates), count)]
        scores = self.scores(query)
        return heapq.nsmallest(count, scores.items(), key=lambda item: (-item[1], item[0]))

    def scores(self, query: Any) -> Scores:
        """Each candidate the query matches, with its score."""
        if query is q.NullQuery:
            return {}
        handler = self.handlers.get(type(query))
        return handler(query) if handler is not None else self._whoosh(query)

    def _allowed(self, docnum: int) -> bool:
        allowed = self.allowed
        index = docnum >> 3
        return index < len(allowed) and bool(allowed[index] >> (docnum & 7) & 1)

    def _term(self, term: q.Term) -> Scores:
        return self._term_scores(term.fieldname, term.text, term.boost, self.allowed)

    def _term_scores(self, fieldname: str, text: str, boost: float, allowed: bytes) -> Scores:
        """BM25F scores of the term in the field, for the documents in allowed (a bitmap)."""
        searcher = self.source.searcher
        if fieldname not in searcher.schema:
            return {}
        size = len(allowed) * 8
        found: Scores = {}
        if not searcher.schema[fieldname].scorable:
            # Keyword fields keep no lengths: Whoosh scores them by their weight alone.
            for offset, (ids, weights) in self.source.postings(fieldname, text):
                for docnum, weight in zip(ids, weights, strict=True):
                    docnum += offset
                    if docnum < size and allowed[docnum >> 3] >> (docnum & 7) & 1:
                        found[docnum] = weight * boost
            return found
        # whoosh.scoring.bm25(idf, tf, fl, avgfl, B, K1), with K1 * (1 - B + B * fl / avgfl)
        # split into a fixed part and a part per term of the document's length.
        factor = boost * searcher.idf(fieldname, text) * (K1 + 1)
        fixed, per_term = K1 * (1 - B), K1 * B / (searcher.avg_field_length(fieldname) or 1)
        postings = self.source.postings(fieldname, text)
        for (offset, (ids, weights)), lengths in zip(
            postings, self.source.lengths(fieldname), strict=True
        ):
            for docnum, weight in zip(ids, weights, strict=True):
                number = docnum + offset
                if number < size and allowed[number >> 3] >> (number & 7) & 1:
                    found[number] = factor * weight / (weight + fixed + per_term * lengths[docnum])
        return found

    def _phrase(self, phrase: q.Phrase) -> Scores:
        # Whoosh scores a phrase as the sum of its words' scores (an intersection under the
        # span check); which documents pass the check is a document set, worked out once.
        searcher = self.source.searcher
        if phrase.fieldname not in searcher.schema:
            return {}
        matching = self.source.query_docs(phrase) & self.candidates
        if not matching:
            return {}
        allowed = _bitmap(matching)
        found: Scores = {}
        for word in phrase.words:
            for docnum, score in self._term_scores(phrase.fieldname, word, 1.0, allowed).items():
                found[docnum] = found.get(docnum, 0.0) + score
        return _boosted(found, phrase.boost)

    def _and(self, query: q.And) -> Scores:
        parts = sorted((self.scores(sub) for sub in query.subqueries), key=len)
        if not parts:
            return {}
        first, rest = parts[0], parts[1:]
        found: Scores = {}
        for docnum, score in first.items():
            for part in rest:
                other = part.get(docnum)
                if other is None:
                    break
                score += other
            else:
                found[docnum] = score
        return _boosted(found, query.boost)

    def _or(self, query: q.Or) -> Scores:
        found: Scores = {}
        for sub in query.subqueries:
            for docnum, score in self.scores(sub).items():
                found[docnum] = found.get(docnum, 0.0) + score
        return _boosted(found, query.boost)

    def _and_maybe(self, query: q.AndMaybe) -> Scores:
        found = self.scores(query.a)
        if found:
            for docnum, score in self.scores(query.b).items():
                if docnum in found:
                    found[docnum] += score
        return found

    def _and_not(self, query: q.AndNot) -> Scores:
        found = self.scores(query.a)
        if found:
            for docnum in self.scores(query.b):
                found.pop(docnum, None)
        return found

    def _constant(self, query: q.ConstantScoreQuery) -> Scores:
        return dict.fromkeys(self.scores(query.child), float(query.score))

    def _best_of(self, query: BestOf) -> Scores:
        # The binary tree Whoosh's make_binary_tree builds, each node best + tiebreak * other.
        def tree(subs: list[Any]) -> Scores:
            if len(subs) == 1:
                return self.scores(subs[0])
            half = len(subs) // 2
            found, other = tree(subs[:half]), tree(subs[half:])
            for docnum, score in other.items():
                mine = found.get(docnum)
                if mine is None:
                    found[docnum] = score
                else:
                    high, low = (mine, score) if mine >= score else (score, mine)
                    found[docnum] = high + query.tiebreak * low
            return found

        subs = list(query.subqueries)
        if not subs:
            return {}
        return _boosted(tree(subs), query.boost) if len(subs) > 1 else tree(subs)

    def _whoosh(self, query: Any) -> Scores:
        """Any other query (phrases): Whoosh's own matcher, over each segment."""
        searcher = self.source.searcher
        context = searcher.context()
        found: Scores = {}
        for subsearcher, offset in searcher.leaf_searchers():
            matcher = query.matcher(subsearcher, context)
            while matcher.is_active():
                docnum = matcher.id() + offset
                if self._allowed(docnum):
                    found[docnum] = float(matcher.score())
                matcher.next()
        return found


def _bitmap(docs: int) -> bytes:
    """A document set as bytes, bit n of byte n // 8 for document n: cheap to test one by one."""
    return docs.to_bytes((docs.bit_length() + 7) // 8 or 1, "little")


def _boosted(found: Scores, boost: float) -> Scores:
    if boost != 1.0:
        for docnum in found:
            found[docnum] *= boost
    return found
