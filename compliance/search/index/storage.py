"""The index directory, with every file read through a memory map.

Whoosh's FileStorage keeps a file descriptor open for every file of every segment a searcher
reads (left to the garbage collector when a process lets go of its index), and it reads
compound segments through BytesIO copies of their parts. A read-only memory map holds no
descriptor once made and copies nothing: pages are read from the OS cache as they are used.
"""

from __future__ import annotations

import mmap
from io import BytesIO
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile


class MappedStorage(FileStorage):  # type: ignore[misc]
    def open_file(self, name: str, **kwargs: Any) -> Any:
        with open(self._fpath(name), "rb") as file:
            try:
                source: Any = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file cannot be mapped
                source = BytesIO(b"")
        return StructFile(source, name=name, **kwargs)
