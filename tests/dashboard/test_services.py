"""Dashboard figures, checked against counts worked out by hand for tests/data/catalogue.

The fixture: test-dsa has art-16 (TS-NA-01, coverage full), art-15 (TS-TR-01, partial) and
art-28 (no mapping); test-osa has s-12 (no mapping). Both library mappings load as proposed.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from compliance.audit.services import Actor
from compliance.catalogue.loader import load_catalogue
from compliance.dashboard import services
from compliance.extensions import db
from compliance.mapping import services as mapping_services
from compliance.mapping.models import ControlMapping
from tests.conftest import DATA


def _load_edited_copy(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> None:
    """Load a copy of the test catalogue with text replacements applied to some files."""
    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    for name, replacements in edits.items():
        path = root / name
        text = path.read_text()
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new)
        path.write_text(text)
    load_catalogue(root)


def _figures(coverage):
    return {
        row.key: (row.total, row.full, row.partial, row.unmapped, row.percent) for row in coverage
    }


def test_headline_figures(app_ctx, loaded_catalogue):
    headline = services.headline()
    assert (headline.instruments, headline.obligations, headline.controls) == (2, 4, 3)
    assert headline.proposed_mappings == 2
    assert headline.no_control_needed == 0
    coverage = headline.coverage
    assert (coverage.total, coverage.full, coverage.partial, coverage.unmapped) == (4, 1, 1, 2)
    assert coverage.percent == 50
    assert headline.gaps == 2


def test_coverage_by_jurisdiction_and_topic(app_ctx, loaded_catalogue):
    assert _figures(services.coverage_by_jurisdiction()) == {
        "EU": (3, 1, 1, 1, 67),
        "GB": (1, 0, 0, 1, 0),
    }
    # s-12 has two topics, so it counts under both.
    assert _figures(services.coverage_by_topic()) == {
        "age-assurance": (1, 0, 0, 1, 0),
        "minors": (2, 0, 0, 2, 0),
        "notice-and-action": (1, 1, 0, 0, 100),
        "transparency-reporting": (1, 0, 1, 0, 100),
    }
    eu = services.coverage_by_jurisdiction()[0]
    assert (eu.label, eu.full_share, eu.partial_share) == ("European Union", 33.3, 33.3)


def test_obligations_needing_no_control_leave_the_denominator(app_ctx, loaded_catalogue, tmp_path):
    _load_edited_copy(
        tmp_path,
        {
            "eu/test-dsa.yaml": [
                ("    threshold: Online", "    no_control: Not us.\n    threshold: Online")
            ]
        },
    )
    headline = services.headline()
    assert headline.no_control_needed == 1
    assert (headline.coverage.total, headline.coverage.unmapped) == (3, 1)
    assert headline.coverage.percent == 67
    assert _figures(services.coverage_by_jurisdiction())["EU"] == (2, 1, 1, 0, 100)
    assert "minors" in _figures(services.coverage_by_topic())  # s-12 still counts there


def test_a_mapping_covers_fully_if_any_of_its_mappings_does(app_ctx, loaded_catalogue, tmp_path):
    # A second, full mapping onto art-15 (already partly covered by TS-TR-01).
    _load_edited_copy(
        tmp_path,
        {
            "mappings/test-dsa.yaml": [
                (
                    "mappings:\n",
                    "mappings:\n  - obligation: test-dsa/art-15\n    control: TS-NA-01\n"
                    "    relationship: intersects-with\n    strength: 5\n"
                    "    rationale: functional\n    coverage: full\n",
                )
            ]
        },
    )
    assert _figures(services.coverage_by_jurisdiction())["EU"] == (3, 2, 0, 1, 67)
    assert services.headline().proposed_mappings == 3


def test_approving_leaves_coverage_and_shrinks_the_approval_queue(app_ctx, loaded_catalogue):
    mapping_id = db.session.scalar(db.select(ControlMapping.id).order_by(ControlMapping.id))
    mapping_services.set_mapping_state(mapping_id, "approved", actor=Actor.system("test"))
    headline = services.headline()
    assert headline.proposed_mappings == 1
    assert headline.coverage.percent == 50


def test_retired_obligations_leave_coverage(app_ctx, loaded_catalogue, tmp_path):
    _load_edited_copy(tmp_path, {"gb/test-osa.yaml": [("  - key: s-12", "  - key: s-13")]})
    # s-12 retired, s-13 new: still four live obligations, none of them in GB mapped.
    assert services.headline().coverage.total == 4
    assert _figures(services.coverage_by_jurisdiction())["GB"] == (1, 0, 0, 1, 0)


def test_upcoming_dates_soonest_first(app_ctx, loaded_catalogue, tmp_path):
    assert services.upcoming_dates() == []  # every date in the fixture has passed
    _load_edited_copy(
        tmp_path,
        {
            "eu/test-dsa.yaml": [("effective_on: 2024-02-17", "effective_on: 2999-03-01")],
            "gb/test-osa.yaml": [
                ("dates: {adopted: 2023-10-26}", "dates: {applies_from: 2999-01-01}")
            ],
        },
    )
    upcoming = services.upcoming_dates()
    assert [(u.on, u.regulation_slug, u.ref) for u in upcoming] == [
        (date(2999, 1, 1), "test-osa", ""),
        (date(2999, 3, 1), "test-dsa", "Art. 28(1)"),
    ]
    assert upcoming[0].obligation_id is None
    assert upcoming[1].obligation_id is not None
    assert upcoming[0].days_away > 0
    assert len(services.upcoming_dates(limit=1)) == 1


def test_recent_catalogue_changes_newest_first(app_ctx, loaded_catalogue):
    changes = services.recent_catalogue_changes()
    assert 0 < len(changes) <= 10
    assert all(event.action.startswith("catalogue.") for event in changes)
    assert [event.id for event in changes] == sorted((event.id for event in changes), reverse=True)
    assert len(services.recent_catalogue_changes(limit=3)) == 3


def test_team_controls_count_the_obligations_each_serves(app_ctx, loaded_catalogue):
    rows = services.team_controls("Trust & Safety Operations")
    assert [(r.code, r.status, r.obligations) for r in rows] == [("TS-NA-01", "implemented", 1)]
    assert [(r.code, r.obligations) for r in services.team_controls("Product Safety")] == [
        ("TS-AA-01", 0)
    ]
    assert services.team_controls("Nobody") == []


def test_an_empty_catalogue(app_ctx):
    board = services.build_dashboard()
    assert board.is_empty
    assert board.headline.coverage.percent is None
    assert board.by_jurisdiction == []
    assert board.upcoming == []
    assert board.team_controls is None
