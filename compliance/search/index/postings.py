"""Reading one segment's postings and field lengths in bulk, a block at a time.

Whoosh's public readers hand out one posting per Python call; its W3 codec already holds each
block's ids and weights as tuples, and a field's lengths as one byte per document. These
readers take them whole (whoosh-reloaded 2.7.5 internals, each with a fallback to the public
API, covered by tests/search/test_index.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from compliance.search import docsets
from compliance.search.index.codec import stored_lengths

Postings = tuple["array[int]", "array[float]"]  # document numbers, and each one's weight
_EMPTY: Postings = (array("I"), array("f"))


def _matcher(leaf: Any, fieldname: str, text: str) -> Any:
    """A raw posting matcher for the term, or None when the segment does not hold it."""
    field_type = leaf.schema[fieldname]
    try:
        terms_reader = getattr(leaf, "_terms", None)
        if terms_reader is None:  # not a plain segment: take the public, slower way
            return leaf.postings(fieldname, text)
        return terms_reader.matcher(fieldname, field_type.to_bytes(text), field_type.format)
    except (TermNotFound, KeyError, ValueError):  # ValueError: text the field cannot hold
        return None


def segment_docs(leaf: Any, fieldname: str, text: str) -> int:
    """The segment's documents holding the term, as a document set."""
    matcher = _matcher(leaf, fieldname, text)
    if matcher is None:
        return 0
    return docsets.from_ids(posting_ids(matcher), leaf.doc_count_all())


def posting_ids(matcher: Any) -> Iterator[int]:
    # Whoosh's all_ids() yields one id per Python call; its W3 posting blocks already hold the
    # decoded ids as a tuple, so take them a block at a time.
    if not _reads_blocks(matcher):
        yield from matcher.all_ids()
        return
    while matcher.is_active():
        if matcher._ids is None:
            matcher._read_ids()
        yield from matcher._ids
        matcher._next_block()


def segment_postings(leaf: Any, fieldname: str, text: str) -> Postings:
    """The segment's documents holding the term, with the term's weight (frequency) in each."""
    matcher = _matcher(leaf, fieldname, text)
    if matcher is None:
        return _EMPTY
    ids: array[int] = array("I")
    weights: array[float] = array("f")
    if not _reads_blocks(matcher):
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return ids, weights
    while matcher.is_active():
        if matcher._ids is None:
            matcher._read_ids()
        if matcher._weights is None:
            matcher._read_weights()
        ids.extend(matcher._ids)
        weights.extend(matcher._weights)
        matcher._next_block()
    return ids, weights


def _reads_blocks(matcher: Any) -> bool:
    names = ("_read_ids", "_read_weights", "_next_block", "_ids", "_weights")
    return all(hasattr(matcher, name) for name in names)


def field_lengths(leaf: Any, fieldname: str) -> list[int]:
    """Each document's length in the field (in terms, as Whoosh quantises it to one byte)."""
    size = leaf.doc_count_all()
    stored = stored_lengths(getattr(leaf, "_perdoc", None), fieldname)
    if stored is None:
        return [leaf.doc_field_length(docnum, fieldname, 0) or 0 for docnum in range(size)]
    lengths = [byte_to_length(byte) for byte in stored[:size]]
    return lengths + [0] * (size - len(lengths))
