"""Time and peak memory to export 100k control mappings in each format; prints JSON figures.

    .venv/bin/python bench/exports.py [--mappings 100000] [--database-url URL]

Builds a synthetic catalogue (1,000 obligations in 20 instruments, 100 controls, every pair
mapped) in a fresh SQLite file (or an empty PostgreSQL database given by URL), then exports it
once per format, each in its own process so one run's memory cannot flatter the next:

- a timed run reports wall time, the resident memory before the export and its peak during the
  export (Linux's VmHWM, reset just before; ru_maxrss elsewhere), and the file's size;
- a second run under tracemalloc reports the peak of Python allocations during the export.

A streamed export keeps both flat as the number of mappings grows; compare --mappings 20000.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = ("csv", "xlsx", "json", "oscal")
CONTROLS = 100
INSTRUMENTS = 20


def _app(url: str) -> Any:
    from compliance import create_app

    return create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "TESTING": False})


def build(url: str, mappings: int) -> dict[str, int]:
    """Fill an empty database with a synthetic catalogue and `mappings` mappings."""
    from sqlalchemy import insert

    from compliance.catalogue.models import Jurisdiction, Obligation, Regulation
    from compliance.extensions import db
    from compliance.mapping.models import Control, ControlMapping

    obligations = max(mappings // CONTROLS, 1)
    per_instrument = max(obligations // INSTRUMENTS, 1)
    now = datetime.now(UTC)
    app = _app(url)
    with app.app_context():
        db.create_all()
        db.session.execute(
            insert(Jurisdiction), [{"id": 1, "code": "EU", "name": "EU", "level": "regional"}]
        )
        db.session.execute(
            insert(Regulation),
            [
                {
                    "id": r,
                    "slug": f"bench-act-{r}",
                    "title": f"Bench Act {r}",
                    "short_title": f"Bench Act {r}",
                    "citation": f"Act {r}/2026",
                    "jurisdiction_id": 1,
                    "instrument_type": "regulation",
                    "status": "in-force",
                    "url": "https://example.org/act",
                    "summary": "A synthetic instrument.",
                    "aliases": [],
                    "applies_when": {},
                    "content_hash": f"{r:064x}",
                    "created_at": now,
                    "updated_at": now,
                }
                for r in range(1, INSTRUMENTS + 1)
            ],
        )
        db.session.execute(
            insert(Obligation),
            [
                {
                    "id": o,
                    "regulation_id": min((o - 1) // per_instrument + 1, INSTRUMENTS),
                    "key": f"art-{o}",
                    "ref": f"Art. {o}",
                    "title": f"Obligation {o}",
                    "summary": f"Providers must do duty number {o}, with care and in time. " * 3,
                    "duty": "must",
                    "applies_when": {},
                    "source_url": "https://example.org/act",
                    "position": o,
                    "created_at": now,
                    "updated_at": now,
                }
                for o in range(1, obligations + 1)
            ],
        )
        db.session.execute(
            insert(Control),
            [
                {
                    "id": c,
                    "code": f"BN-CT-{c:03d}",
                    "title": f"Control {c}",
                    "description": "A synthetic control that does what it says.",
                    "domain": "governance",
                    "owner_team": f"Team {c % 7}",
                    "status": "implemented",
                    "evidence_links": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for c in range(1, CONTROLS + 1)
            ],
        )
        batch: list[dict[str, Any]] = []
        for number in range(mappings):
            batch.append(
                {
                    "obligation_id": number // CONTROLS + 1,
                    "control_id": number % CONTROLS + 1,
                    "relationship_type": "intersects-with",
                    "strength": 5,
                    "rationale_type": "semantic",
                    "coverage": "partial",
                    "note": "=a note that needs neutralising" if number % 10 == 0 else "",
                    "state": "proposed",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 10_000:
                db.session.execute(insert(ControlMapping), batch)
                batch = []
        if batch:
            db.session.execute(insert(ControlMapping), batch)
        db.session.commit()
    return {"obligations": obligations, "controls": CONTROLS, "mappings": mappings}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark (Linux: clear_refs 5) and return the current RSS, KiB.

    The app's imports peak higher than an export needs, so without the reset ru_maxrss would
    report the imports, not the export.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss() -> int:
    try:
        return _status_kib("VmHWM")
    except (OSError, KeyError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker(url: str, fmt: str, traced: bool) -> dict[str, Any]:
    """Run one export in this process and measure it."""
    from compliance.audit.services import Actor
    from compliance.exports import services
    from compliance.exports.rows import ExportFilter

    app = _app(url)
    with app.app_context(), tempfile.TemporaryDirectory() as folder:
        baseline = _reset_peak_rss()
        target = Path(folder) / f"export.{fmt}"
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        with target.open("wb") as file:
            exported = services.write_mappings(
                ExportFilter(), fmt, file, actor=Actor.system("bench")
            )
        seconds = time.perf_counter() - started
        figures: dict[str, Any] = {"format": fmt, "mappings": exported.summary.mappings}
        if traced:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            figures["python_peak_mib"] = round(peak / 2**20, 1)
        else:
            figures["seconds"] = round(seconds, 2)
            figures["rss_before_mib"] = round(baseline / 1024, 1)
            figures["rss_peak_mib"] = round(_peak_rss() / 1024, 1)
            figures["file_mib"] = round(target.stat().st_size / 2**20, 1)
    return figures


def _run_worker(url: str, fmt: str, traced: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", fmt, "--database-url", url]
    if traced:
        command.append("--traced")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mappings", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--worker", choices=FORMATS)
    parser.add_argument("--traced", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.database_url, args.worker, args.traced)))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        dataset = build(url, args.mappings)
        build_seconds = time.perf_counter() - started
        results = []
        for fmt in FORMATS:
            figures = _run_worker(url, fmt, traced=False)
            figures.update(_run_worker(url, fmt, traced=True))
            results.append(figures)
        report = {
            "database": url.split(":", 1)[0],
            "dataset": dataset,
            "build_seconds": round(build_seconds, 1),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "exports": results,
        }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
