"""The audit pack: the mappings in every format, the trail of a period, and a hash manifest."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import IO

from compliance.audit.services import Actor, AuditFilter, verify_chain
from compliance.clock import today
from compliance.errors import Invalid
from compliance.exports import formats, trail
from compliance.exports.formats import ExportSummary
from compliance.exports.rows import Export, ExportFilter
from compliance.exports.services.exporting import (
    HashingWriter,
    dated_filename,
    export_context,
    record_export,
)

# -- the audit pack --------------------------------------------------------------------------


@dataclass
class PackRecord:
    filename: str
    sha256: str
    files: dict[str, str] = field(default_factory=dict)  # name -> SHA-256
    notes: list[str] = field(default_factory=list)


def write_pack(
    stream: IO[bytes], *, from_on: date | None, to_on: date | None, actor: Actor
) -> PackRecord:
    """One zip: the mappings in all four formats as of the period's end, the trail of the
    period, manifest.json and SHA256SUMS (the SHA-256 of every other file)."""
    now = today()
    if to_on and to_on > now:
        raise Invalid("The period must not end after today (UTC).")
    if from_on and to_on and from_on > to_on:
        raise Invalid("The period's start must not be after its end.")
    as_of = to_on if to_on and to_on < now else None
    filters = ExportFilter(as_of=as_of)
    export = Export(filters)  # refuses a period ending before anything existed
    context = export_context(actor)
    trail_filters = AuditFilter(from_on=from_on, to_on=to_on)
    chain = verify_chain()
    files: dict[str, str] = {}
    sizes: dict[str, int] = {}
    notes: list[str] = []
    summary: ExportSummary | None = None
    hashing = HashingWriter(stream)
    with zipfile.ZipFile(hashing.as_io(), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("csv", "xlsx", "json"):
            with _pack_member(archive, f"mappings.{name}", files, sizes) as target:
                summary = formats.FORMATS[name].write(export, target, context)
        if summary is not None and summary.mappings:
            formats.write_oscal_documents(
                export, lambda name: _pack_member(archive, f"oscal/{name}", files, sizes), context
            )
        else:
            notes.append("No OSCAL documents: a mapping-collection needs at least one mapping.")
        with _pack_member(archive, "audit-trail.csv", files, sizes) as target:
            trail.write_trail_csv(trail_filters, target)
        with _pack_member(archive, "audit-trail.json", files, sizes) as target:
            trail.write_trail_json(
                trail_filters, target, generated_at=context.generated_at, chain=chain
            )
        manifest = {
            "format": "compliance-audit-pack",
            "schema_version": "1.0",
            "generated_at": context.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "generated_by": actor.label,
            "period": {
                "from": from_on.isoformat() if from_on else None,
                "to": to_on.isoformat() if to_on else None,
            },
            "mappings_as_of": as_of.isoformat() if as_of else None,
            "mappings": summary.mappings if summary else 0,
            "unmapped_obligations": summary.unmapped if summary else 0,
            "rows_sha256": summary.rows_sha256 if summary else "",
            "audit_chain": {
                "intact": chain.intact,
                "checked": chain.checked,
                "first_broken_id": chain.first_broken_id,
                "reason": chain.reason,
            },
            "audit_hash_recipe": trail.HASH_RECIPE,
            "files": [
                {"name": name, "sha256": digest, "bytes": sizes[name]}
                for name, digest in files.items()
            ],
            "notes": notes,
        }
        body = json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
        with _pack_member(archive, "manifest.json", files, sizes) as target:
            target.write(body)
        sums = "".join(f"{digest}  {name}\n" for name, digest in files.items())
        archive.writestr("SHA256SUMS", sums)  # sha256sum -c SHA256SUMS checks every file
    packed = PackRecord(
        dated_filename("audit-pack", to_on or now, "zip"), hashing.hexdigest(), files, notes
    )
    record_export(
        actor,
        "export.pack",
        "Audit pack",
        packed.sha256,
        f"period {from_on or 'start'} to {to_on or 'today'}, {len(files)} files",
        {
            "from": from_on.isoformat() if from_on else None,
            "to": to_on.isoformat() if to_on else None,
            "file_sha256": packed.sha256,
            "manifest_sha256": files["manifest.json"],
        },
    )
    return packed


@contextmanager
def _pack_member(
    archive: zipfile.ZipFile, name: str, files: dict[str, str], sizes: dict[str, int]
) -> Iterator[IO[bytes]]:
    with archive.open(name, "w") as raw:
        writer = HashingWriter(raw)
        yield writer.as_io()
    files[name], sizes[name] = writer.hexdigest(), writer.size
