"""Sets of document numbers as Python integers (bit n set = document n), for counting facets.

Counting a facet value is then one AND and one popcount in C, instead of a Python loop over
every matching document; that is what keeps facet counts cheap at 100k documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def from_ids(ids: Iterable[int], size: int) -> int:
    """The set of ids (each below size)."""
    buffer = bytearray((size + 7) // 8)
    for docnum in ids:
        buffer[docnum >> 3] |= 1 << (docnum & 7)
    return int.from_bytes(buffer, "little")


def below(size: int) -> int:
    """Every document number from 0 to size - 1."""
    return (1 << size) - 1


def count(docs: int) -> int:
    return docs.bit_count()


def ids(docs: int) -> Iterator[int]:
    """The document numbers in docs, in increasing order."""
    data = docs.to_bytes((docs.bit_length() + 7) // 8, "little")
    for position, byte in enumerate(data):
        if byte:
            base = position << 3
            for bit in range(8):
                if byte >> bit & 1:
                    yield base + bit
