"""Export files as HTTP downloads: the export pages and the JSON API send them alike."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import IO

from flask import Response

from compliance.exports.services import ExportRecord


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(64 * 1024):
            yield chunk
    finally:
        file.close()  # also when the client goes away half-way (the server closes the iterator)


def attachment(file: IO[bytes], exported: ExportRecord) -> Response:
    """Stream an export file as a download, its SHA-256 in RFC 9530's Repr-Digest header."""
    response = Response(_chunks(file), content_type=exported.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response.headers["Content-Length"] = str(exported.size)
    digest = base64.b64encode(bytes.fromhex(exported.sha256)).decode("ascii")
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    response.headers["Cache-Control"] = "no-store"
    return response
