"""Guards on the shipped knowledge base in regulations/: breadth, completeness, coverage.

These fail when a change to the catalogue files breaks the schema, drops a citation or URL,
uses a topic outside the vocabulary, points a mapping nowhere, or lets coverage fall below
the bar (issue #3).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from compliance.catalogue.loader import load_catalogue
from compliance.catalogue.stats import BINDING_STATUSES, catalogue_stats
from compliance.catalogue.validation import Catalogue, read_catalogue
from compliance.config import REPOSITORY_ROOT

SHIPPED = REPOSITORY_ROOT / "regulations"
COVERAGE_BAR = 0.85
LEVELS = {"international", "regional", "national", "subnational", "local"}
# Interpretive guidance of a treaty that is not itself in the catalogue.
STANDALONE_GUIDANCE = {"int-uncrc-gc25"}


@cache
def shipped() -> Catalogue:
    return read_catalogue(SHIPPED)


def _levels(catalogue: Catalogue) -> dict[str, str]:
    return {code: e.data["level"] for code, e in catalogue.jurisdictions.items()}


def test_the_shipped_catalogue_has_no_problems() -> None:
    assert [str(p) for p in shipped().problems] == []


def test_breadth_of_the_catalogue() -> None:
    catalogue = shipped()
    levels = _levels(catalogue)
    jurisdictions = {e.data["jurisdiction"] for e in catalogue.instruments.values()}
    us_states = {code for code in jurisdictions if re.fullmatch(r"US-[A-Z]{2}", code)}
    assert len(catalogue.instruments) >= 75
    assert {levels[code] for code in jurisdictions} == LEVELS
    assert len(jurisdictions) >= 25
    assert len(us_states) >= 12
    assert len(catalogue.obligation_paths()) >= 600
    assert len(catalogue.controls) >= 80


@pytest.mark.parametrize(
    "slug",
    [
        "eu-dsa",
        "eu-dsa-minors-guidelines",
        "eu-tco",
        "eu-avmsd",
        "eu-gdpr",
        "eu-ai-act",
        "eu-political-advertising",
        "eu-csam-interim-derogation",
        "eu-csa-regulation-proposal",
        "gb-osa",
        "gb-ofcom-illegal-harms-codes",
        "gb-ofcom-protection-of-children-codes",
        "gb-ico-aadc",
        "au-online-safety-act-2021",
        "au-bose-determination",
        "au-online-safety-industry-codes",
        "au-social-media-minimum-age",
        "us-coppa",
        "us-18-usc-2258a",
        "us-report-act",
        "us-take-it-down-act",
        "us-section-230",
    ],
)
def test_required_instruments_are_present(slug: str) -> None:
    assert slug in shipped().instruments


@pytest.mark.parametrize("country", ["IE", "DE", "FR", "NZ", "CA", "SG", "IN", "BR", "KR", "JP"])
def test_each_required_country_has_an_instrument(country: str) -> None:
    jurisdictions = {e.data["jurisdiction"] for e in shipped().instruments.values()}
    assert country in jurisdictions


def test_every_instrument_carries_the_facts_a_user_needs() -> None:
    missing = []
    for slug, entry in shipped().instruments.items():
        data = entry.data
        for key in ("citation", "url", "regulator", "max_penalty", "aliases", "status_note"):
            if not data.get(key):
                missing.append(f"{slug}: {key}")
        if data["status"] not in ("proposed", "lapsed") and not data.get("dates"):
            missing.append(f"{slug}: dates")
    assert missing == []


def test_every_obligation_has_ref_summary_topics_and_source() -> None:
    missing = [
        f"{slug}/{obligation['key']}: {key}"
        for slug, entry in shipped().instruments.items()
        for obligation in entry.data["obligations"]
        for key in ("ref", "summary", "duty", "topics", "source_url")
        if not obligation.get(key)
    ]
    assert missing == []


def test_codes_and_guidance_link_to_the_law_they_implement() -> None:
    unlinked = [
        slug
        for slug, entry in shipped().instruments.items()
        if entry.data["type"] in ("code-of-practice", "guidance")
        and "implements" not in entry.data
        and slug not in STANDALONE_GUIDANCE
    ]
    assert unlinked == []


def test_thresholds_are_explained_in_words_where_conditions_have_them() -> None:
    unexplained = [
        f"{slug}/{obligation['key']}"
        for slug, entry in shipped().instruments.items()
        for obligation in entry.data["obligations"]
        if {"users", "company_size_exempt"} & set(obligation.get("applies_when", {}))
        and not obligation.get("threshold")
    ]
    assert unexplained == []


def test_every_feed_names_its_regulator_and_jurisdiction() -> None:
    feeds = shipped().feeds
    assert len(feeds) >= 20
    assert {e.data["regulator"] for e in feeds.values()} >= {"ofcom", "ico", "edpb"}


def test_mapping_coverage_of_binding_instruments_meets_the_bar() -> None:
    """Measured on the files, so a catalogue change fails here before it is ever loaded."""
    catalogue = shipped()
    mapped = {obligation for obligation, _control in catalogue.mappings}
    need, covered = 0, 0
    for slug, entry in catalogue.instruments.items():
        if entry.data["status"] not in BINDING_STATUSES:
            continue
        for obligation in entry.data["obligations"]:
            if obligation.get("no_control"):
                continue
            need += 1
            covered += f"{slug}/{obligation['key']}" in mapped
    assert covered / need >= COVERAGE_BAR, f"{covered} of {need} mapped"


def test_load_and_stats_of_the_shipped_catalogue(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        report = load_catalogue(Path(SHIPPED))
        stats = catalogue_stats()
    assert report.changed
    assert stats.instruments == len(shipped().instruments)
    assert stats.obligations == len(shipped().obligation_paths())
    assert stats.coverage.ratio >= COVERAGE_BAR
    assert set(stats.by_level) == LEVELS

    result = runner.invoke(args=["catalogue", "stats"])
    assert result.exit_code == 0, result.output
    assert "By level" in result.output and "By topic" in result.output
    assert re.search(r"Coverage of binding instruments' obligations: \d+ of \d+", result.output)
