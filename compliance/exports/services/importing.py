"""Imports of controls and mappings (CSV, XLSX) and of OSCAL catalogs: all or nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from typing import IO

from flask import current_app

from compliance import signals
from compliance.audit.services import Actor, record
from compliance.database import begin_write
from compliance.errors import Invalid
from compliance.exports import importer
from compliance.exports.importer import ImportLimits, ImportPlan
from compliance.extensions import db
from compliance.mapping.models import Control, ControlMapping
from compliance.mapping.services import control_snapshot, mapping_snapshot

# -- imports ---------------------------------------------------------------------------------


def _limits() -> ImportLimits:
    config = current_app.config
    return ImportLimits(config["IMPORT_MAX_ROWS"], config["IMPORT_MAX_UNPACKED_BYTES"])


def _check_size(data: bytes) -> None:
    limit = int(current_app.config["IMPORT_MAX_BYTES"])
    if len(data) > limit:
        raise Invalid(f"The file is larger than {limit:,} bytes, the most an import takes.")
    if not data:
        raise Invalid("The file is empty.")


def import_table(filename: str, data: bytes, *, actor: Actor, dry_run: bool) -> ImportPlan:
    """Import controls and mappings from a CSV or XLSX file with a mapping export's columns.

    All or nothing: any problem refuses the whole file. New and changed mappings are
    proposed (an import never approves). A dry run reports the plan and changes nothing.
    """
    _check_size(data)
    rows, controls, mappings = importer.parse_table(filename, data, _limits())
    return _run(
        lambda: importer.plan_import(filename, rows, controls, mappings),
        actor=actor,
        dry_run=dry_run,
        action="import.mappings",
        data=data,
    )


def import_oscal_catalog(
    filename: str,
    data: bytes,
    *,
    prefix: str,
    domain: str,
    owner_team: str,
    status: str = "not-implemented",
    actor: Actor,
    dry_run: bool,
) -> ImportPlan:
    """Import an OSCAL catalog (NIST SP 800-53, say) as controls coded prefix + control id."""
    _check_size(data)
    count, controls = importer.parse_oscal_catalog(
        data,
        prefix=prefix,
        domain=domain,
        owner_team=owner_team,
        status=status,
        max_controls=current_app.config["IMPORT_MAX_ROWS"],
    )
    return _run(
        lambda: importer.plan_import(filename, count, controls, []),
        actor=actor,
        dry_run=dry_run,
        action="import.catalog",
        data=data,
    )


def _run(
    plan: Callable[[], ImportPlan], *, actor: Actor, dry_run: bool, action: str, data: bytes
) -> ImportPlan:
    if dry_run:
        try:
            return plan()
        finally:
            db.session.rollback()  # only reads, but leave no transaction open
    begin_write()  # plan inside the write transaction: what is applied is what was planned
    try:
        planned = plan()
        if not planned.changed:
            db.session.rollback()
            return planned
        sent = _apply(planned, actor)
        record(
            actor,
            action,
            "import",
            planned.source[:300] or "upload",
            summary=f"Imported {planned.source}: {planned.summary()}",
            after={
                "file_sha256": hashlib.sha256(data).hexdigest(),
                "rows": planned.rows,
                "changes": [change.describe() for change in planned.changes[:500]],
            },
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    for send in sent:
        send()
    return planned


def _apply(plan: ImportPlan, actor: Actor) -> list[Callable[[], object]]:
    """Write the plan's changes with an audit event each; return the signals to send after."""
    sent: list[Callable[[], object]] = []
    codes = {c.key for c in plan.changes if c.kind == "control"}
    codes |= {c.subject["control_code"] for c in plan.changes if c.kind == "mapping"}
    controls = importer.controls_by_code(sorted(codes))
    for change in plan.changes:
        if change.kind != "control" or change.action == "unchanged":
            continue
        control = controls.get(change.key)
        before = control_snapshot(control) if control is not None else None
        if control is None:
            control = Control(**change.values)
            db.session.add(control)
            controls[control.code] = control
        else:
            for name, value in change.values.items():
                setattr(control, name, value)
        db.session.flush()
        verb = "created" if before is None else "updated"
        record(
            actor,
            f"control.{verb}",
            "control",
            control.code,
            summary=f"{control.title} (imported from {plan.source})",
            before=before,
            after=control_snapshot(control),
        )
        sent.append(partial(signals.control_changed.send, control, action=verb))
    for change in plan.changes:
        if change.kind != "mapping" or change.action == "unchanged":
            continue
        mapping = _apply_mapping(change, controls[change.subject["control_code"]], actor)
        verb = "created" if change.action == "create" else "updated"
        sent.append(partial(signals.mapping_changed.send, mapping, action=verb))
    return sent


def _apply_mapping(change: importer.Change, control: Control, actor: Actor) -> ControlMapping:
    if change.action == "create":
        mapping = ControlMapping(
            obligation_id=change.subject["obligation_id"],
            control=control,
            created_by_id=actor.user_id,
            state="proposed",
            **change.values,
        )
        db.session.add(mapping)
        db.session.flush()
        before = None
    else:
        mapping = db.session.get_one(ControlMapping, change.subject["mapping_id"])
        before = mapping_snapshot(mapping)
        for name, value in change.values.items():
            setattr(mapping, name, value)
        if mapping.state == "approved":
            # As in the mapping services: an approval vouches for what was approved.
            mapping.state, mapping.approved_by_id, mapping.approved_at = "proposed", None, None
        db.session.flush()
    record(
        actor,
        f"mapping.{'created' if before is None else 'updated'}",
        "mapping",
        mapping.id,
        summary=f"{control.code} ↔ {mapping.obligation.path} (imported)",
        before=before,
        after=mapping_snapshot(mapping),
    )
    return mapping


def read_upload(stream: IO[bytes]) -> bytes:
    """An uploaded file's bytes, refused unread past IMPORT_MAX_BYTES."""
    limit = int(current_app.config["IMPORT_MAX_BYTES"])
    data = stream.read(limit + 1)
    _check_size(data)
    return data
