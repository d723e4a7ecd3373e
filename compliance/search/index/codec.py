"""The codec indexes are written with: Whoosh's W3, looking up field lengths in memory.

While a segment is written, Whoosh asks for the field length of every posting's document,
and W3 answers each time with a seek and a read in the lengths file (plus, for fields that
keep no lengths, a stat() of the missing file). Reading a field's lengths once makes a
rebuild about a sixth cheaper. Segments name the plain W3 codec, so what is on disk is
exactly what Whoosh itself writes and reads (whoosh-reloaded 2.7.5 internals, with the
plain reader as the fallback).
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3PerDocReader, W3Segment
from whoosh.util.numeric import byte_to_length


class WritingCodec(W3Codec):  # type: ignore[misc]
    def per_document_reader(self, storage: Any, segment: Any) -> Any:
        return _LengthsInMemory(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> Any:
        return W3Segment(W3Codec(), indexname)


class _LengthsInMemory(W3PerDocReader):  # type: ignore[misc]
    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._lengths: dict[str, bytes] = {}
        self._without: set[str] = set()  # fields that keep no lengths (ids, keywords)
        self._unknown: set[str] = set()  # lengths kept in a way this does not read

    def doc_field_length(self, docnum: int, fieldname: str, default: Any = 0) -> Any:
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            if fieldname in self._without:
                return default
            if fieldname in self._unknown or not self._load(fieldname):
                return super().doc_field_length(docnum, fieldname, default)
            lengths = self._lengths[fieldname]
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum} of {self._doccount}")
        byte = lengths[docnum] if docnum < len(lengths) else 0
        return byte_to_length(byte) if byte else None  # as W3PerDocReader answers a zero byte

    def _load(self, fieldname: str) -> bool:
        if not self.has_column(f"_{fieldname}_len"):
            self._without.add(fieldname)
            return False
        lengths = stored_lengths(self, fieldname)
        if lengths is None:
            self._unknown.add(fieldname)
            return False
        self._lengths[fieldname] = lengths
        return True


def stored_lengths(perdoc: Any, fieldname: str) -> bytes | None:
    """A field's length byte for every document (b"" if it keeps none), read whole.

    None when the reader is not the W3 one this knows: ask doc_field_length() instead.
    """
    cached_reader = getattr(perdoc, "_cached_reader", None)
    if cached_reader is None:
        return None
    reader = cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN)  # whoosh3._lenfield
    if reader is None:
        return b""
    needed = ("_dbfile", "_basepos", "_count", "_fixedlen")
    if not all(hasattr(reader, name) for name in needed) or reader._fixedlen != 1:
        return None
    return bytes(reader._dbfile.get(reader._basepos, reader._count))
