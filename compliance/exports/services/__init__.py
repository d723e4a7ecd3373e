"""Use cases for exports, the audit pack and imports; every export is recorded in the trail.

An export is written to its target while its SHA-256 is computed, then recorded in the audit
trail with that hash, its filters and counts: the trail names the exact file an auditor got.
Web and API exports go through a temporary file on disk, so memory holds one batch of rows
whatever the size, and a failure surfaces before any byte is sent.
"""

from __future__ import annotations

from compliance.exports.services.exporting import (
    TRAIL_FORMATS,
    ExportPreview,
    ExportRecord,
    HashingWriter,
    check_oscal,
    export_mappings_file,
    export_trail_file,
    filter_choices,
    preview,
    scope_filters,
    write_mappings,
    write_oscal_folder,
    write_trail,
)
from compliance.exports.services.importing import (
    import_oscal_catalog,
    import_table,
    read_upload,
)
from compliance.exports.services.pack import PackRecord, write_pack

__all__ = [
    "TRAIL_FORMATS",
    "ExportPreview",
    "ExportRecord",
    "HashingWriter",
    "PackRecord",
    "check_oscal",
    "export_mappings_file",
    "export_trail_file",
    "filter_choices",
    "import_oscal_catalog",
    "import_table",
    "preview",
    "read_upload",
    "scope_filters",
    "write_mappings",
    "write_oscal_folder",
    "write_pack",
    "write_trail",
]
