"""Fixtures for applicability: the test catalogue plus instruments with thresholds, exemptions,
judgement questions and an enjoined law, and a builder for profile input."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from compliance.applicability.inputs import ProfileInput
from tests.conftest import DATA

CRISIS = "Has the Commission adopted a crisis response decision addressed to the service?"
EXTRA_FILES = {
    "jurisdictions-extra.yaml": """
jurisdictions:
  - code: FR
    name: France
    level: national
    parent: EU
  - code: US
    name: United States
    level: national
  - code: US-TX
    name: Texas
    level: subnational
    parent: US
""",
    "eu/test-vlop.yaml": f"""
slug: test-vlop
title: Test rules for very large platforms
short_title: Test VLOP rules
citation: Test 2024/1
jurisdiction: EU
type: regulation
status: in-force
url: https://example.org/test-vlop
summary: Duties that turn on user numbers, company size and a Commission decision.
topics: [transparency-reporting]
aliases: [TVR]
obligations:
  - key: art-34
    ref: Art. 34
    title: Systemic risk assessment
    summary: Very large platforms assess systemic risks.
    duty: must
    applies_when: {{service: [online-platform], users: {{EU: {{at_least: 45000000}}}}}}
    threshold: 45 million average monthly active recipients in the EU.
    topics: [transparency-reporting]
    source_url: https://example.org/test-vlop
  - key: art-20
    ref: Art. 20
    title: Internal complaints
    summary: Platforms run an internal complaint-handling system.
    duty: must
    applies_when: {{service: [online-platform], company_size_exempt: [micro, small]}}
    threshold: Not micro or small enterprises.
    topics: [notice-and-action]
    source_url: https://example.org/test-vlop
  - key: art-36
    ref: Art. 36
    title: Crisis response
    summary: Measures the Commission requires in a crisis.
    duty: must
    applies_when: {{judgement: "{CRISIS}"}}
    topics: [transparency-reporting]
    source_url: https://example.org/test-vlop
""",
    "us-tx/test-tx-av.yaml": """
slug: test-tx-av
title: Test Texas age verification
short_title: Test Texas AV
citation: Test ch. 1
jurisdiction: US-TX
type: statute
status: enjoined
url: https://example.org/test-tx-av
summary: Age verification for adult sites, blocked by a court.
topics: [age-assurance]
aliases: [TXAV]
applies_when: {service: [adult-content]}
obligations:
  - key: s-1
    ref: s. 1
    title: Verify age
    summary: Adult sites verify that users are adults.
    duty: must
    topics: [age-assurance]
    source_url: https://example.org/test-tx-av
""",
}


@pytest.fixture
def profile_catalogue(app: Flask, tmp_path: Path) -> Path:
    """tests/data/catalogue plus the instruments above, loaded through the real loader."""
    from compliance.catalogue.loader import load_catalogue

    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    for name, text in EXTRA_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.lstrip(), encoding="utf-8")
    with app.app_context():
        load_catalogue(root)
    return root


SOCIAL = ProfileInput(
    name="Chatter",
    description="A social network",
    kinds=("social-media",),
    jurisdictions=("EU", "GB"),
    child_access="likely",
    monthly_users={"EU": 1_000, "GB": 500},
    minimum_age=13,
    features=("recommender",),
    company_size="large",
)


@pytest.fixture
def profile_input() -> Callable[..., ProfileInput]:
    """profile_input(**changes): a valid EU + UK social network, with changes applied."""

    def build(**changes: Any) -> ProfileInput:
        return replace(SOCIAL, **changes)

    return build
