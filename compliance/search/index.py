"""The Whoosh adapter: schema, analysers, writing, searching, facets, highlights, spelling.

The only module that imports whoosh, so the engine can be swapped in one place.

Distribution: whoosh-reloaded 2.7.5, pinned. Upstream Whoosh 2.7.4 (2016) fails to import
under `-W error` on Python 3.11 (invalid escape sequences become SyntaxErrors), and our pytest
runs with filterwarnings = error; the fork imports cleanly, keeps the same API and index format,
and updates batches faster. It has one known bug: Searcher.refresh() keeps merged-away
segments and returns stale duplicates, so this module never calls refresh(); it opens a new
searcher when the index generation changes (shared/reference/search-and-feed-performance.md).

Layout on disk: SEARCH_INDEX_DIR holds one or more named Whoosh indexes and a CURRENT file
naming the live one. A rebuild writes a new index beside the live one and swaps CURRENT
atomically, so searches never see a half-built index.

Concurrency: one writer at a time through Whoosh's file lock, waited for up to a timeout (the
lock is per open file, so it also separates threads). Readers never take the lock. Within a
process one lock serialises searches, because a Whoosh searcher's files are read with
seek() + read() and are not safe to share between threads.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query as q
from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.matching import UnionMatcher
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F

from compliance.search import docsets
from compliance.search.documents import SearchDocument
from compliance.search.query import Instrument, Phrase, Place, Query, Synonyms, Word

log = logging.getLogger(__name__)

SCHEMA_VERSION = "v1"  # part of each index's name; bump when the schema changes
# How much each text field counts (BM25F per field); the same word in a title outranks it in
# a summary, and a citation or alias outranks both.
FIELD_BOOSTS = (("title", 3.0), ("names", 2.0), ("body", 1.0))
# When a query matches many documents, the first pages are ranked among those matching it in
# these fields alone ("champions"): a word in a title outweighs it in any summary, and their
# postings are a fraction of the summaries', which is what Whoosh spends its time walking.
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
SNIPPET_CHARS = 280
_CACHE_ENTRIES = 4000  # document sets kept per segment (about 12 KB each at 100k documents)
_OPEN_ATTEMPTS = 20  # tries to open while other processes commit (see _open_index)
# Facet name -> index field. "jurisdiction" counts and filters on the jurisdiction and every
# jurisdiction above it, as the catalogue's own filter does (US covers US-CA).
FACET_FIELDS = {
    "kind": "kind",
    "jurisdiction": "jurisdictions",
    "level": "level",
    "topic": "topic",
    "status": "status",
    "type": "type",
}

_WORD_PATTERN = r"\w+(?:\.?\w+)*"  # keeps "312.5" and "u.s.c" whole
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


class IndexUnavailable(Exception):
    """The index cannot be opened or read; `flask search check --repair` rebuilds it."""


class IndexBusy(Exception):
    """Another writer held the index lock for longer than the timeout."""


class _CjkBigrams(Filter):  # type: ignore[misc]
    """Split runs of Chinese, Japanese or Korean characters into overlapping pairs.

    Those scripts do not separate words with spaces, so "情報流通プラットフォーム" would
    otherwise be one token that only the whole string matches.
    """

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        for token in tokens:
            text = token.text
            if len(text) <= 2 or not _CJK.search(text):
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
        | StemFilter()
    )


def _exact_analyzer() -> Any:
    return RegexTokenizer(_WORD_PATTERN) | LowercaseFilter() | _CjkBigrams()


TEXT_ANALYZER = _text_analyzer()
EXACT_ANALYZER = _exact_analyzer()


def _schema() -> Schema:
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


def _fields(document: SearchDocument) -> dict[str, Any]:
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


# -- results ------------------------------------------------------------------------------------

Segments = list[tuple[str, bool]]  # text pieces, True where a query word matched


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float
    stored: dict[str, Any]
    highlights: dict[str, Segments]


@dataclass(frozen=True)
class Found:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Scope:
    """What the asker may see and has asked to narrow to."""

    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)  # facet -> values (OR)
    team: str | None = None  # None: every control; else only controls owned by this team
    include_retired: bool = False


# -- the per-process searcher and its caches ---------------------------------------------------


class _LRU(OrderedDict[Any, int]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: Any, value: int) -> int:
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)
        return value

    def recall(self, key: Any) -> int | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


@dataclass
class _State:
    """One open searcher and what was worked out from it."""

    name: str
    generation: int
    index: Any
    searcher: Any
    size: int  # document numbers run from 0 to size - 1 (deleted ones included)
    leaves: list[tuple[str, int, Any]]  # (segment id, docnum offset, segment reader)
    live: int = 0
    docsets: _LRU = field(default_factory=lambda: _LRU(_CACHE_ENTRIES))
    extras: dict[str, Any] = field(default_factory=dict)


class SearchIndex:
    """One index directory, as seen by this process."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.RLock()
        self._state: _State | None = None
        # Document sets per segment survive new searchers: after a write only the new small
        # segment has to be read again, not the whole index.
        self._segment_docsets: dict[str, _LRU] = {}

    # -- opening ------------------------------------------------------------------------------

    def _storage(self) -> Any:
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileStorage(str(self.directory))

    def current_name(self) -> str:
        # Names never prefix one another ("v1-0", "v1-18f3..."), so removing one index's
        # files by prefix cannot touch another's.
        try:
            name = (self.directory / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return f"{SCHEMA_VERSION}-0"
        return name or f"{SCHEMA_VERSION}-0"

    def is_current_schema(self) -> bool:
        return self.current_name().startswith(SCHEMA_VERSION + "-")

    def _open_index(self) -> Any:
        storage = self._storage()
        for attempt in range(_OPEN_ATTEMPTS):
            name = self.current_name()
            try:
                if storage.index_exists(name):
                    return storage.open_index(indexname=name)
                return self._create_index(storage, name)
            except FileNotFoundError as error:
                # Whoosh finds the newest TOC, then reads it; a commit in another process
                # can delete that TOC in between. The next look finds the newer one.
                time.sleep(0.01 * (attempt + 1))
                if attempt < _OPEN_ATTEMPTS - 1:
                    continue
                raise IndexUnavailable(
                    f"The search index at {self.directory} cannot be opened."
                ) from error
            except Exception as error:  # a damaged TOC, a full disk ...
                raise IndexUnavailable(
                    f"The search index at {self.directory} cannot be opened."
                ) from error
        raise AssertionError("unreachable: the last attempt raises")

    @staticmethod
    def _create_index(storage: Any, name: str) -> Any:
        # Creating writes generation 0 and wipes the name's files, so two processes that
        # both saw no index must not both create it: the second would erase the first's
        # commits. Whoosh's own write lock serialises them; the loser opens instead.
        lock = storage.lock(f"{name}_WRITELOCK")
        if not lock.acquire(blocking=True):
            raise IndexBusy("The search index is being created by another process.")
        try:
            if storage.index_exists(name):
                return storage.open_index(indexname=name)
            return storage.create_index(_schema(), indexname=name)
        finally:
            lock.release()

    def _current(self) -> _State:
        state = self._state
        name = self.current_name()
        if state is not None and state.name == name:
            try:
                if state.index.latest_generation() == state.generation:
                    return state
            except OSError:
                pass
        for attempt in range(_OPEN_ATTEMPTS):
            index = self._open_index()
            try:
                generation = index.latest_generation()  # read first: a later commit reopens
                searcher = index.searcher(weighting=BM25F())
                break
            except FileNotFoundError as error:
                # A commit elsewhere merged away a segment between the TOC and its files.
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise IndexUnavailable("The search index cannot be read.") from error
                time.sleep(0.01 * (attempt + 1))
            except Exception as error:
                raise IndexUnavailable("The search index cannot be read.") from error
        reader = searcher.reader()
        leaves = [
            (leaf.segment().segment_id() if leaf.segment() is not None else "", offset, leaf)
            for leaf, offset in reader.leaf_readers()
        ]
        fresh = _State(name, generation, index, searcher, reader.doc_count_all(), leaves)
        fresh.live = self._live(fresh)
        known = {segment_id for segment_id, _, _ in leaves}
        for segment_id in list(self._segment_docsets):
            if segment_id not in known:
                del self._segment_docsets[segment_id]
        if state is not None:
            state.searcher.close()
        self._state = fresh
        return fresh

    @staticmethod
    def _live(state: _State) -> int:
        live = 0
        for _, offset, leaf in state.leaves:
            count = leaf.doc_count_all()
            deleted = docsets.from_ids(leaf.deleted_docs_set, count) if leaf.has_deletions() else 0
            live |= (docsets.below(count) & ~deleted) << offset
        return live

    def close(self) -> None:
        with self._lock:
            if self._state is not None:
                self._state.searcher.close()
                self._state = None

    # -- document sets ------------------------------------------------------------------------

    def _docs(self, state: _State, fieldname: str, text: str) -> int:
        """Documents whose field holds the term (deleted ones too: mask with state.live)."""
        key = (fieldname, text)
        cached = state.docsets.recall(key)
        if cached is not None:
            return cached
        docs = 0
        for segment_id, offset, leaf in state.leaves:
            per_segment = self._segment_docsets.setdefault(segment_id, _LRU(_CACHE_ENTRIES))
            found = per_segment.recall(key)
            if found is None:
                found = per_segment.remember(key, _segment_docs(leaf, fieldname, text))
            if found:
                docs |= found << offset
        return state.docsets.remember(key, docs)

    def _query_docs(self, state: _State, query: Any) -> int:
        key = ("query", repr(query))
        cached = state.docsets.recall(key)
        if cached is None:
            found = state.searcher.docs_for_query(query)
            cached = state.docsets.remember(key, docsets.from_ids(found, state.size))
        return cached

    def _values(self, state: _State, fieldname: str) -> list[str]:
        key = f"values:{fieldname}"
        if key not in state.extras:
            state.extras[key] = list(state.searcher.reader().field_terms(fieldname))
        return list(state.extras[key])

    def _visible(self, state: _State, scope: Scope) -> int:
        visible = state.live
        if not scope.include_retired:
            visible &= ~self._docs(state, "retired", "yes")
        if scope.team is not None:
            others = self._docs(state, "kind", "control") & ~self._docs(state, "team", scope.team)
            visible &= ~others
        return visible

    # -- searching ----------------------------------------------------------------------------

    def search(self, query: Query, scope: Scope, *, offset: int, limit: int) -> Found:
        """One page of hits, the total and the facet counts, all within the scope."""
        with self._lock:
            try:
                return self._search(self._current(), query, scope, offset, limit)
            except IndexUnavailable:
                raise
            except (OSError, ValueError, KeyError, EOFError) as error:
                self._state = None  # open afresh next time
                raise IndexUnavailable("The search index could not be read.") from error

    def _search(self, state: _State, query: Query, scope: Scope, offset: int, limit: int) -> Found:
        compiled = _Compiler(self, state).compile(query)
        visible = self._visible(state, scope)
        matched = compiled.docs & visible
        filters = {
            name: self._any(state, FACET_FIELDS[name], values)
            for name, values in scope.filters.items()
            if values and name in FACET_FIELDS
        }
        selected = matched
        for docs in filters.values():
            selected &= docs
        total = docsets.count(selected)
        hits: list[Hit] = []
        if total and limit > 0 and offset < total:
            ranked = compiled
            if total > CHAMPION_THRESHOLD and query.groups:
                champions = _Compiler(self, state, CHAMPION_FIELDS).compile(query)
                if docsets.count(champions.docs & selected) >= offset + limit:
                    ranked = champions  # enough title and name matches to fill this page
            hits = self._page(state, ranked.query, compiled, scope, visible, offset, limit)
        facets = {}
        for name, fieldname in FACET_FIELDS.items():
            base = matched
            for other, docs in filters.items():
                if other != name:
                    base &= docs  # each facet counts as if its own filter were not set
            counts = {}
            for value in self._values(state, fieldname):
                n = docsets.count(base & self._docs(state, fieldname, value))
                if n:
                    counts[value] = n
            facets[name] = counts
        return Found(hits, total, facets)

    def _any(self, state: _State, fieldname: str, values: Sequence[str]) -> int:
        docs = 0
        for value in values:
            docs |= self._docs(state, fieldname, value)
        return docs

    def _page(
        self,
        state: _State,
        scored: Any,
        compiled: _Compiled,
        scope: Scope,
        visible: int,
        offset: int,
        limit: int,
    ) -> list[Hit]:
        parts = [scored]
        for name, values in scope.filters.items():
            if values and name in FACET_FIELDS:
                terms = [q.Term(FACET_FIELDS[name], value) for value in values]
                parts.append(q.ConstantScoreQuery(q.Or(terms), 0.0))
        scored = q.And(parts) if len(parts) > 1 else parts[0]
        hidden = state.live & ~visible
        mask = set(docsets.ids(hidden)) if hidden else None
        results = state.searcher.search(scored, limit=offset + limit, mask=mask, terms=False)
        hits = []
        for docnum, score in list(results.items())[offset : offset + limit]:
            stored = dict(state.searcher.stored_fields(docnum).get("stored") or {})
            highlights = {
                "title": compiled.highlight(stored.get("title", ""), whole=True),
                "summary": compiled.highlight(stored.get("summary", "")),
            }
            hits.append(Hit(str(stored.get("id", "")), float(score), stored, highlights))
        return hits

    # -- spelling -------------------------------------------------------------------------

    def corrections(self, words: Sequence[Word], scope: Scope) -> dict[int, str]:
        """For each word that no visible document contains, the likeliest word that one does."""
        with self._lock:
            try:
                state = self._current()
            except IndexUnavailable:
                return {}
            visible = self._visible(state, scope)
            found: dict[int, str] = {}
            for word in words:
                if word.prefix or word.fuzzy or _has_hits(self, state, word.text, visible):
                    continue
                best = self._closest(state, word.text.lower(), visible)
                if best is not None:
                    found[word.start] = best
            return found

    def _closest(self, state: _State, text: str, visible: int) -> str | None:
        if len(text) < 3 or len(text) > 40 or not text.isalpha():
            return None
        maxdist = 1 if len(text) <= 4 else 2
        reader = state.searcher.reader()
        scored = []
        for candidate in list(reader.terms_within("exact", text, maxdist, prefix=1))[:200]:
            if candidate == text:
                continue
            docs = docsets.count(self._docs(state, "exact", candidate) & visible)
            if docs:
                scored.append((_distance(text, candidate), -docs, candidate))
        return min(scored)[2] if scored else None

    # -- reading the whole index ----------------------------------------------------------

    def stored_hashes(self) -> dict[str, str]:
        """Document id -> content hash of every live document."""
        with self._lock:
            state = self._current()
            if not state.size:
                return {}  # an empty index has no columns to read
            reader = state.searcher.reader()
            ids = reader.column_reader("id")
            hashes = reader.column_reader("hash")
            return {_text(ids[docnum]): _text(hashes[docnum]) for docnum in docsets.ids(state.live)}

    def instrument_names(self) -> dict[str, list[str]]:
        """Instrument slug -> its short title and aliases, as indexed."""
        with self._lock:
            state = self._current()
            if "names" not in state.extras:
                names: dict[str, list[str]] = {}
                for docnum in docsets.ids(self._docs(state, "kind", "regulation") & state.live):
                    stored = state.searcher.stored_fields(docnum).get("stored") or {}
                    slug = str(stored.get("slug", ""))
                    title = str(stored.get("title", "")).split("\n")[0]
                    names[slug] = [title, *[str(alias) for alias in stored.get("aliases", [])]]
                state.extras["names"] = names
            return dict(state.extras["names"])

    def generation_key(self) -> tuple[str, int]:
        """Changes whenever the index does: for caches built from its contents."""
        with self._lock:
            state = self._current()
            return (state.name, state.generation)

    def doc_count(self) -> int:
        with self._lock:
            return docsets.count(self._current().live)

    # -- writing --------------------------------------------------------------------------

    def apply(
        self, upserts: Iterable[SearchDocument], deletes: Iterable[str], *, timeout: float
    ) -> int:
        """Add or replace documents and delete others, in one commit; the number written.

        Waits up to timeout seconds for another writer to finish, then raises IndexBusy.
        """
        latest: dict[str, SearchDocument] = {}
        for document in upserts:
            latest[document.id] = document  # one id twice in a writer keeps both versions
        gone = [doc_id for doc_id in dict.fromkeys(deletes) if doc_id not in latest]
        if not latest and not gone:
            return 0
        index = self._open_index()
        try:
            writer = index.writer(timeout=timeout, delay=0.02)
        except whoosh_index.LockError as error:
            raise IndexBusy(f"The search index stayed locked for {timeout:g} s.") from error
        try:
            for doc_id in gone:
                writer.delete_by_term("id", doc_id)
            for document in latest.values():
                writer.update_document(**_fields(document))
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        return len(latest) + len(gone)

    def rebuild(
        self,
        documents: Iterable[SearchDocument],
        *,
        limitmb: int = 256,
        procs: int = 1,
        on_document: Callable[[SearchDocument], None] | None = None,
    ) -> int:
        """Write every document into a new index, then make it the live one; the count."""
        storage = self._storage()
        old = self.current_name()
        name = f"{SCHEMA_VERSION}-{time.time_ns():x}"
        index = storage.create_index(_schema(), indexname=name)
        if procs > 1:
            # Whoosh's MpWriter indexes in worker processes, each writing its own segment
            # (multisegment: the final single-threaded merge would undo the gain): about
            # twice as fast on two cores (search-and-feed-performance.md, section 2).
            writer = index.writer(procs=procs, multisegment=True, limitmb=limitmb // procs)
        else:
            writer = index.writer(limitmb=limitmb)
        written = 0
        try:
            for document in documents:
                writer.add_document(**_fields(document))
                written += 1
                if on_document is not None:
                    on_document(document)
            writer.commit()
        except BaseException:
            writer.cancel()
            _remove_index_files(self.directory, name)
            raise
        pointer = self.directory / f"CURRENT.{name}"
        pointer.write_text(name, encoding="utf-8")
        os.replace(pointer, self.directory / "CURRENT")  # atomic: readers see old or new
        if old != name:
            _remove_index_files(self.directory, old)
        with self._lock:
            self._state = None
        return written


# -- compiling a parsed query ----------------------------------------------------------------


class _BestOfMatcher(UnionMatcher):  # type: ignore[misc]
    """Matches any branch and scores a document by its best branch, plus a share of the other.

    Whoosh's own DisjunctionMaxMatcher compares the current postings of its two branches even
    when they sit on different documents, and drops the survivor when one branch runs out.
    The union's additive quality bounds stay valid upper bounds of this score.
    """

    def __init__(self, a: Any, b: Any, tiebreak: float = 0.0) -> None:
        super().__init__(a, b)
        self.tiebreak = tiebreak

    def copy(self) -> _BestOfMatcher:
        return self.__class__(self.a.copy(), self.b.copy(), tiebreak=self.tiebreak)

    def replace(self, minquality: float = 0) -> Any:
        replaced = super().replace(minquality)
        if isinstance(replaced, UnionMatcher) and not isinstance(replaced, _BestOfMatcher):
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


class _BestOf(q.CompoundQuery):  # type: ignore[misc]
    JOINT = " BEST "
    intersect_merge = False

    def __init__(self, subqueries: list[Any], tiebreak: float = 0.0) -> None:
        super().__init__(subqueries)
        self.tiebreak = tiebreak

    def _matcher(self, subs: list[Any], searcher: Any, context: Any) -> Any:
        return self._tree_matcher(
            subs, _BestOfMatcher, searcher, context, None, tiebreak=self.tiebreak
        )


@dataclass
class _Compiled:
    query: Any
    docs: int
    stems: set[str]
    exact: set[str]

    def highlight(self, text: str, whole: bool = False) -> Segments:
        """text split into pieces, matched words marked; long text cut around the first match."""
        if not text:
            return []
        marks: list[tuple[int, int]] = []
        for token in TEXT_ANALYZER(text, chars=True, mode="query"):
            if token.text in self.stems:
                marks.append((token.startchar, token.endchar))
        if self.exact:
            for token in EXACT_ANALYZER(text, chars=True, mode="query"):
                if token.text in self.exact:
                    marks.append((token.startchar, token.endchar))
        return _segments(text, sorted(set(marks)), None if whole else SNIPPET_CHARS)


class _Compiler:
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

    def compile(self, query: Query) -> _Compiled:
        state = self.state
        parts = []
        for group in query.groups:
            compiled = [self._clause(clause) for clause in group]
            usable = [c for c in compiled if c is not None]
            if usable:
                parts.append(_any(usable))
        core: tuple[Any, int] | None = _all(parts) if parts else None
        if query.citations:
            cited = self._citations(query)
            core = _any([cited, core]) if core is not None else cited
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
        everywhere = self if self.fields == FIELD_BOOSTS else _Compiler(self.owner, self.state)
        excluded = [c for c in (everywhere._clause(clause) for clause in query.excluded) if c]
        if excluded:
            not_wanted = _any(excluded)
            scored = q.AndNot(scored, not_wanted[0])
            docs &= ~not_wanted[1]
        return _Compiled(scored, docs, self.stems, self.exact)

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
            per_term.append((_BestOf(fields, tiebreak=FIELD_TIEBREAK), docs))
        return _all(per_term)

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
            return _BestOf([scored for scored, _ in usable], tiebreak=SYNONYM_TIEBREAK), docs
        if isinstance(clause, Instrument):
            named = [
                (q.Term("regulation", slug, boost=INSTRUMENT_BOOST), self._docs("regulation", slug))
                for slug in clause.slugs
            ]
            words = self._terms(analyse(clause.words), scale=ALIAS_WORDS_SCALE)
            return _any(named + ([words] if words else []))
        if isinstance(clause, Place):
            return _any(
                [(q.Term("jurisdictions", c), self._docs("jurisdictions", c)) for c in clause.codes]
            )
        return None

    def _word(self, word: Word) -> tuple[Any, int] | None:
        reader = self.state.searcher.reader()
        text = word.text.lower()
        if word.prefix:
            candidates = list(_first(reader.expand_prefix("exact", text), 400))
            terms = sorted(
                (_text(term) for term in candidates),
                key=lambda term: -docsets.count(self._docs("exact", term)),
            )[:MAX_EXPANSIONS]
            return self._exact_any(terms) if terms else (q.NullQuery, 0)
        if word.fuzzy:
            near = list(_first(reader.terms_within("exact", text, word.fuzzy, prefix=1), 400))
            near = sorted(near, key=lambda term: _distance(text, term))[:MAX_EXPANSIONS]
            found = [self._exact_any(near)] if near else []
            exact = self._terms(analyse(word.text))
            return _any(found + ([exact] if exact else [])) if found or exact else (q.NullQuery, 0)
        return self._terms(analyse(word.text))

    def _phrase(self, phrase: Phrase) -> tuple[Any, int] | None:
        terms = analyse(" ".join(phrase.words))
        if len(terms) < 2:
            return self._terms(terms)
        return self._phrase_terms(terms)

    def _phrase_terms(self, terms: Sequence[str], scale: float = 1.0) -> tuple[Any, int]:
        self.stems.update(terms)
        phrases = [q.Phrase(name, list(terms), boost=boost * scale) for name, boost in self.fields]
        docs = self.owner._query_docs(self.state, q.Or(phrases))
        return _BestOf(phrases, tiebreak=FIELD_TIEBREAK), docs

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
            cited = _all([cited, _any(scope)])
        return cited


def _any(parts: Sequence[tuple[Any, int]]) -> tuple[Any, int]:
    if len(parts) == 1:
        return parts[0]
    docs = 0
    for _, found in parts:
        docs |= found
    return q.Or([scored for scored, _ in parts]), docs


def _all(parts: Sequence[tuple[Any, int]]) -> tuple[Any, int]:
    if len(parts) == 1:
        return parts[0]
    docs = -1  # every bit set
    for _, found in parts:
        docs &= found
    return q.And([scored for scored, _ in parts]), docs


# -- small pieces ------------------------------------------------------------------------------


def _segment_docs(leaf: Any, fieldname: str, text: str) -> int:
    """The segment's documents holding the term, read block by block from the postings."""
    size = leaf.doc_count_all()
    field_type = leaf.schema[fieldname]
    try:
        terms_reader = getattr(leaf, "_terms", None)
        if terms_reader is None:  # not a plain segment: take the public, slower way
            return docsets.from_ids(leaf.postings(fieldname, text).all_ids(), size)
        matcher = terms_reader.matcher(fieldname, field_type.to_bytes(text), field_type.format)
    except (TermNotFound, KeyError):
        return 0
    return docsets.from_ids(_posting_ids(matcher), size)


def _posting_ids(matcher: Any) -> Iterator[int]:
    # Whoosh's all_ids() yields one id per Python call; its W3 posting blocks already hold the
    # decoded ids as a tuple, so take them a block at a time (whoosh-reloaded 2.7.5 internals,
    # covered by tests/search/test_index.py).
    if not all(hasattr(matcher, name) for name in ("_read_ids", "_next_block", "_ids")):
        yield from matcher.all_ids()
        return
    while matcher.is_active():
        if matcher._ids is None:
            matcher._read_ids()
        yield from matcher._ids
        matcher._next_block()


def _has_hits(owner: SearchIndex, state: _State, text: str, visible: int) -> bool:
    for term in analyse(text) or [text.lower()]:
        for name, _ in FIELD_BOOSTS:
            if owner._docs(state, name, term) & visible:
                return True
    return False


def _first(items: Iterable[Any], limit: int) -> Iterator[Any]:
    for number, item in enumerate(items):
        if number >= limit:
            return
        yield item


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _distance(a: str, b: str) -> int:
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


def _segments(text: str, marks: list[tuple[int, int]], window: int | None) -> Segments:
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


def _remove_index_files(directory: Path, name: str) -> None:
    """Delete one named index's files (open readers elsewhere keep theirs until they close)."""
    for path in directory.iterdir():
        if path.name.startswith((f"{name}_", f"_{name}_")) and path.is_file():
            try:
                path.unlink()
            except OSError as error:  # another process may be deleting it too
                log.debug("could not remove %s: %s", path, error)
