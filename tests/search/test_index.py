"""The Whoosh adapter on its own: writing, rebuilding, several processes, document sets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compliance.search import docsets
from compliance.search.documents import SearchDocument
from compliance.search.index import IndexBusy, Scope, SearchIndex, _posting_ids, analyse
from compliance.search.query import Vocabulary, parse

VOCABULARY = Vocabulary.build(analyse)


def document(number: int, title: str = "", body: str = "", **fields) -> SearchDocument:
    return SearchDocument(
        id=f"obligation:{number}",
        kind="obligation",
        title=title or f"Obligation number {number}",
        names=f"Art. {number}",
        body=body or "Hosting services must act on notices about illegal content.",
        jurisdiction=fields.pop("jurisdiction", "EU"),
        jurisdictions=(fields.get("jurisdiction", "EU"),),
        **fields,
    )


def search(index: SearchIndex, text: str, scope: Scope | None = None, limit: int = 10):
    return index.search(parse(text, VOCABULARY), scope or Scope(), offset=0, limit=limit)


@pytest.fixture
def index(tmp_path: Path) -> SearchIndex:
    return SearchIndex(tmp_path / "index")


def test_an_empty_index_answers_with_nothing(index):
    found = search(index, "anything")

    assert (found.total, found.hits) == (0, [])
    assert index.stored_hashes() == {}


def test_updating_a_document_many_times_leaves_one_version(index):
    # whoosh-reloaded's Searcher.refresh() would return stale copies here (see index.py).
    index.apply([document(n) for n in range(20)], [], timeout=1)
    for version in range(12):
        index.apply([document(1, title=f"Revision {version} of the notice rules")], [], timeout=1)
        found = search(index, "notice rules revision")
        assert [hit.doc_id for hit in found.hits] == ["obligation:1"]
        assert found.total == 1

    assert len(index.stored_hashes()) == 20


def test_one_id_twice_in_a_batch_is_written_once(index):
    index.apply([document(1, title="first"), document(1, title="second")], [], timeout=1)

    assert index.doc_count() == 1
    assert search(index, "second").total == 1
    assert search(index, "first").total == 0


def test_deletes_take_effect(index):
    index.apply([document(1), document(2)], [], timeout=1)
    index.apply([], ["obligation:1"], timeout=1)

    assert set(index.stored_hashes()) == {"obligation:2"}


def test_a_held_lock_makes_a_writer_wait_then_give_up(index):
    index.apply([document(1)], [], timeout=1)
    lock = index._open_index().lock("WRITELOCK")
    assert lock.acquire()
    try:
        with pytest.raises(IndexBusy):
            index.apply([document(2)], [], timeout=0.1)
        assert search(index, "notices").total == 1  # readers are never blocked
    finally:
        lock.release()


def test_rebuild_replaces_the_live_index_atomically(index):
    index.apply([document(n) for n in range(5)], [], timeout=1)
    old = index.current_name()

    assert index.rebuild([document(n) for n in range(3)]) == 3

    assert index.current_name() != old
    assert index.doc_count() == 3
    assert not [p for p in index.directory.iterdir() if p.name.startswith((old + "_", "_" + old))]


def test_a_failed_rebuild_keeps_the_old_index(index):
    index.apply([document(1)], [], timeout=1)
    old = index.current_name()

    def broken():
        yield document(2)
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        index.rebuild(broken())
    assert index.current_name() == old
    assert index.doc_count() == 1


def test_posting_blocks_read_fast_match_whoosh(index):
    index.apply([document(n) for n in range(300)], [], timeout=1)
    state = index._current()
    for _, _, leaf in state.leaves:
        field_type = leaf.schema["body"]
        raw = leaf._terms.matcher("body", field_type.to_bytes("notic"), field_type.format)
        slow = leaf._terms.matcher("body", field_type.to_bytes("notic"), field_type.format)
        assert list(_posting_ids(raw)) == list(slow.all_ids())


def test_docsets_round_trip():
    ids = [0, 3, 8, 9, 700]

    docs = docsets.from_ids(ids, 701)

    assert list(docsets.ids(docs)) == ids
    assert docsets.count(docs) == 5
    assert docsets.below(3) == 0b111


def test_facets_and_team_scope(index):
    control = SearchDocument(
        id="control:1",
        kind="control",
        title="Notice form",
        names="TS-1",
        body="notices",
        team="Policy",
        status="implemented",
    )
    other = SearchDocument(
        id="control:2",
        kind="control",
        title="Notice queue",
        names="TS-2",
        body="notices",
        team="Ops",
        status="planned",
    )
    index.apply([document(1, jurisdiction="GB"), control, other], [], timeout=1)

    everyone = search(index, "notice")
    policy = search(index, "notice", Scope(team="Policy"))

    assert everyone.total == 3
    assert everyone.facets["kind"] == {"obligation": 1, "control": 2}
    assert policy.total == 2
    assert {hit.doc_id for hit in policy.hits} == {"obligation:1", "control:1"}
    assert policy.facets["status"] == {"implemented": 1}


def test_scripts_without_spaces_are_searchable_by_part(index):
    index.apply([document(1, title="情報流通プラットフォーム対処法")], [], timeout=1)

    assert search(index, "情報流通").total == 1
    assert search(index, "プラットフォーム").total == 1


def test_highlights_mark_stemmed_and_prefixed_words(index):
    text = "Platforms <b>moderate</b> reported content quickly."
    index.apply([document(1, body=text, display={"summary": text})], [], timeout=1)

    hit = search(index, "report moder*").hits[0]

    marked = [piece for piece, on in hit.highlights["summary"] if on]
    assert marked == ["moderate", "reported"]
    assert "".join(piece for piece, _ in hit.highlights["summary"]) == text


def test_several_processes_write_one_index_and_lose_nothing(tmp_path):
    directory = tmp_path / "shared-index"
    script = textwrap.dedent(
        f"""
        import sys
        from compliance.search.documents import SearchDocument
        from compliance.search.index import SearchIndex
        index = SearchIndex({str(directory)!r})
        worker = int(sys.argv[1])
        for n in range(8):
            doc = SearchDocument(id=f"obligation:{{worker}}-{{n}}", kind="obligation",
                                 title=f"worker {{worker}} item {{n}}", names="", body="shared")
            index.apply([doc], [], timeout=30)
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(worker)], cwd=Path.cwd())
        for worker in range(3)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]

    index = SearchIndex(directory)
    assert len(index.stored_hashes()) == 24
    assert search(index, "shared", limit=30).total == 24
