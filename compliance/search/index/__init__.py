"""The Whoosh adapter: schema, analysers, writing, searching, facets, highlights, spelling.

The only package that imports whoosh, so the engine can be swapped in one place: schema.py
(fields, analysers, highlighting), compiler.py (queries into Whoosh queries and document sets),
ranking.py (scoring a page), postings.py (reading segments in bulk), codec.py and storage.py
(how segments are written and read); this module opens, searches and writes the index.

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
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.scoring import BM25F

from compliance.search import docsets
from compliance.search.documents import SearchDocument
from compliance.search.index.codec import WritingCodec
from compliance.search.index.compiler import (
    CHAMPION_FIELDS,
    CHAMPION_THRESHOLD,
    FIELD_BOOSTS,
    Compiled,
    Compiler,
    as_text,
    distance,
)
from compliance.search.index.postings import (
    Postings,
    field_lengths,
    posting_ids,
    segment_docs,
    segment_postings,
)
from compliance.search.index.ranking import Ranker
from compliance.search.index.schema import (
    SCHEMA_VERSION,
    Segments,
    _CjkBigrams,
    analyse,
    build_schema,
    fields,
)
from compliance.search.index.storage import MappedStorage
from compliance.search.query import Query, Word

__all__ = [
    "FACET_FIELDS",
    "SCHEMA_VERSION",
    "Found",
    "Hit",
    "IndexBusy",
    "IndexUnavailable",
    "Scope",
    "SearchIndex",
    "Segments",
    "_CjkBigrams",
    "_posting_ids",
    "analyse",
]

log = logging.getLogger(__name__)

# _CjkBigrams is imported above for indexes written before this module became a package:
# they pickled their analyser as compliance.search.index._CjkBigrams, and must still open.
_posting_ids = posting_ids  # tests/search/test_index.py reads postings through it

_CACHE_ENTRIES = 4000  # document sets kept per segment (about 12 KB each at 100k documents)
_POSTINGS_BUDGET = 4_000_000  # postings kept decoded across segments (8 bytes each)
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


# Every writer: lengths looked up in memory (codec.py), and segments left as separate files.
# Whoosh reads a compound segment's parts through BytesIO(mmap view), which copies each part
# whole, so every new searcher (one after every write) copied the entire index into memory:
# about 120 ms and 150 MB at 100k documents. Separate files are mapped where they lie
# (storage.py); compound segments written before are still read, without the copies.
_WRITER_OPTIONS: dict[str, Any] = {"codec": WritingCodec(), "compound": False}


class IndexUnavailable(Exception):
    """The index cannot be opened or read; `flask search check --repair` rebuilds it."""


class IndexBusy(Exception):
    """Another writer held the index lock for longer than the timeout."""


# -- results ------------------------------------------------------------------------------------


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
    hidden_kinds: Sequence[str] = ()  # kinds of document the asker may not find at all
    # kind -> the only document ids of that kind to find (other kinds are not limited)
    limits: Mapping[str, frozenset[str]] = field(default_factory=dict)


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


class _PostingsCache:
    """Decoded postings of recently searched terms, per segment, within a budget of postings.

    Segments never change once written (deletions are kept apart), so what is read from one
    stays true until a merge removes the segment.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self.entries: OrderedDict[tuple[str, str, str], Postings] = OrderedDict()

    def get(self, segment_id: str, leaf: Any, fieldname: str, text: str) -> Postings:
        key = (segment_id, fieldname, text)
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
            return found
        found = segment_postings(leaf, fieldname, text)
        if segment_id:  # a segment without an id cannot be told from the next one
            self.entries[key] = found
            self.size += len(found[0])
            while self.size > self.budget and len(self.entries) > 1:
                _, dropped = self.entries.popitem(last=False)
                self.size -= len(dropped[0])
        return found

    def keep_only(self, segment_ids: set[str]) -> None:
        for key in [key for key in self.entries if key[0] not in segment_ids]:
            self.size -= len(self.entries.pop(key)[0])


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


class _Reading:
    """The ranker's view of one open searcher, read through the index's per-segment caches."""

    def __init__(self, owner: SearchIndex, state: _State) -> None:
        self.owner = owner
        self.state = state

    @property
    def searcher(self) -> Any:
        return self.state.searcher

    def postings(self, fieldname: str, text: str) -> list[tuple[int, Postings]]:
        cache = self.owner._postings
        return [
            (offset, cache.get(segment_id, leaf, fieldname, text))
            for segment_id, offset, leaf in self.state.leaves
        ]

    def lengths(self, fieldname: str) -> list[Sequence[int]]:
        return [
            self.owner._segment_field_lengths(segment_id, leaf, fieldname)
            for segment_id, _, leaf in self.state.leaves
        ]

    def query_docs(self, query: Any) -> int:
        return self.owner._query_docs(self.state, query)


class SearchIndex:
    """One index directory, as seen by this process."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.RLock()
        self._state: _State | None = None
        # Document sets per segment survive new searchers: after a write only the new small
        # segment has to be read again, not the whole index.
        self._segment_docsets: dict[str, _LRU] = {}
        self._segment_lengths: dict[tuple[str, str], list[int]] = {}
        self._segment_id_maps: dict[str, dict[str, list[int]]] = {}
        self._postings = _PostingsCache(_POSTINGS_BUDGET)
        self._names: tuple[int, dict[str, list[str]]] = (0, {})
        self._names_where: tuple[tuple[str, int], ...] | None = None

    # -- opening ------------------------------------------------------------------------------

    def _storage(self) -> Any:
        self.directory.mkdir(parents=True, exist_ok=True)
        return MappedStorage(str(self.directory))

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
            return storage.create_index(build_schema(), indexname=name)
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
        self._forget_segments_except({segment_id for segment_id, _, _ in leaves})
        if state is not None:
            state.searcher.close()
        self._state = fresh
        return fresh

    def _forget_segments_except(self, known: set[str]) -> None:
        """Drop what was read from segments a merge or a rebuild has removed."""
        for segment_id in list(self._segment_docsets):
            if segment_id not in known:
                del self._segment_docsets[segment_id]
        for key in list(self._segment_lengths):
            if key[0] not in known:
                del self._segment_lengths[key]
        for segment_id in list(self._segment_id_maps):
            if segment_id not in known:
                del self._segment_id_maps[segment_id]
        self._postings.keep_only(known)

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
                found = per_segment.remember(key, segment_docs(leaf, fieldname, text))
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
        for kind in scope.hidden_kinds:
            visible &= ~self._docs(state, "kind", kind)
        for kind, ids in scope.limits.items():
            visible &= ~(self._docs(state, "kind", kind) & ~self._docs_with_ids(state, ids))
        return visible

    def _docs_with_ids(self, state: _State, ids: frozenset[str]) -> int:
        """The documents whose id is one of ids (deleted versions too: mask with state.live)."""
        key = ("ids", ids)
        cached = state.docsets.recall(key)
        if cached is not None:
            return cached
        docs = 0
        for segment_id, offset, leaf in state.leaves:
            numbers = self._segment_ids(segment_id, leaf)
            found = [docnum for doc_id in ids for docnum in numbers.get(doc_id, ())]
            docs |= docsets.from_ids(found, leaf.doc_count_all()) << offset
        return state.docsets.remember(key, docs)

    def _segment_ids(self, segment_id: str, leaf: Any) -> dict[str, list[int]]:
        """Document id -> its document numbers in the segment, read once per segment."""
        numbers = self._segment_id_maps.get(segment_id)
        if numbers is None:
            numbers = {}
            if leaf.doc_count_all():
                column = leaf.column_reader("id")
                for docnum in range(leaf.doc_count_all()):
                    numbers.setdefault(as_text(column[docnum]), []).append(docnum)
            if segment_id:
                self._segment_id_maps[segment_id] = numbers
        return numbers

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
        compiled = Compiler(self, state).compile(query)
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
                champions = Compiler(self, state, CHAMPION_FIELDS).compile(query)
                if docsets.count(champions.docs & selected) >= offset + limit:
                    ranked = champions  # enough title and name matches to fill this page
            hits = self._page(state, ranked, compiled, selected, offset, limit)
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
        ranked: Compiled,
        shown: Compiled,
        selected: int,
        offset: int,
        limit: int,
    ) -> list[Hit]:
        """One page of the selected documents, ranked by ranked's query, highlighted by shown's."""
        ranker = Ranker(_Reading(self, state), ranked.docs & selected)
        hits = []
        for docnum, score in ranker.top(ranked.query, offset + limit)[offset:]:
            stored = dict(state.searcher.stored_fields(docnum).get("stored") or {})
            highlights = {
                "title": shown.highlight(stored.get("title", ""), whole=True),
                "summary": shown.highlight(stored.get("summary", "")),
            }
            hits.append(Hit(str(stored.get("id", "")), float(score), stored, highlights))
        return hits

    def _segment_field_lengths(self, segment_id: str, leaf: Any, fieldname: str) -> list[int]:
        key = (segment_id, fieldname)
        lengths = self._segment_lengths.get(key)
        if lengths is None:
            lengths = field_lengths(leaf, fieldname)
            if segment_id:
                self._segment_lengths[key] = lengths
        return lengths

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
                scored.append((distance(text, candidate), -docs, candidate))
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
            return {
                as_text(ids[docnum]): as_text(hashes[docnum]) for docnum in docsets.ids(state.live)
            }

    def instrument_names(self) -> tuple[int, dict[str, list[str]]]:
        """A version, and instrument slug -> its short title and aliases, as indexed.

        The version changes only when an instrument's document is written (or moved by a
        merge), so what is built from the names (the parser's vocabulary) survives writes of
        everything else.
        """
        with self._lock:
            state = self._current()
            if "names" not in state.extras:
                regulations = self._docs(state, "kind", "regulation") & state.live
                where = tuple(
                    (segment_id, docnum - offset)
                    for docnum in docsets.ids(regulations)
                    for segment_id, offset, leaf in state.leaves
                    if offset <= docnum < offset + leaf.doc_count_all()
                )
                if where != self._names_where:
                    names: dict[str, list[str]] = {}
                    for docnum in docsets.ids(regulations):
                        stored = state.searcher.stored_fields(docnum).get("stored") or {}
                        slug = str(stored.get("slug", ""))
                        title = str(stored.get("title", "")).split("\n")[0]
                        names[slug] = [title, *[str(alias) for alias in stored.get("aliases", [])]]
                    self._names_where = where
                    self._names = (self._names[0] + 1, names)
                state.extras["names"] = self._names
            version, names = state.extras["names"]
            return version, dict(names)

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
            writer = index.writer(timeout=timeout, delay=0.02, **_WRITER_OPTIONS)
        except whoosh_index.LockError as error:
            raise IndexBusy(f"The search index stayed locked for {timeout:g} s.") from error
        try:
            for doc_id in gone:
                writer.delete_by_term("id", doc_id)
            for document in latest.values():
                writer.update_document(**fields(document))
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
        index = storage.create_index(build_schema(), indexname=name)
        if procs > 1:
            # Whoosh's MpWriter indexes in worker processes, each writing its own segment
            # (multisegment: the final single-threaded merge would undo the gain): about
            # twice as fast on two cores (search-and-feed-performance.md, section 2).
            writer = index.writer(
                procs=procs, multisegment=True, limitmb=limitmb // procs, **_WRITER_OPTIONS
            )
        else:
            writer = index.writer(limitmb=limitmb, **_WRITER_OPTIONS)
        written = 0
        try:
            for document in documents:
                writer.add_document(**fields(document))
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


def _has_hits(owner: SearchIndex, state: _State, text: str, visible: int) -> bool:
    for term in analyse(text) or [text.lower()]:
        for name, _ in FIELD_BOOSTS:
            if owner._docs(state, name, term) & visible:
                return True
    return False


def _remove_index_files(directory: Path, name: str) -> None:
    """Delete one named index's files (open readers elsewhere keep theirs until they close)."""
    for path in directory.iterdir():
        if path.name.startswith((f"{name}_", f"_{name}_")) and path.is_file():
            try:
                path.unlink()
            except OSError as error:  # another process may be deleting it too
                log.debug("could not remove %s: %s", path, error)
