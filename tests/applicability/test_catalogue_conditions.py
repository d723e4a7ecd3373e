"""Conditions in catalogue files may name only facts a profile can state (issue #8, bad input)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.catalogue.loader import CatalogueInvalid, load_catalogue
from compliance.catalogue.models import Regulation
from compliance.extensions import db
from tests.conftest import DATA

ORIGINAL = "applies_when: {service: [hosting]}"


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    return root


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("{service: [hosting], audience: teens}", "unknown key 'audience'"),
        ("{service: [spaceship]}", "'spaceship' is not one of"),
        ("{features: [telepathy]}", "'telepathy' is not one of"),
        ("{children: sometimes}", "is not valid under any of the given schemas"),
        ("{company_size_exempt: [tiny]}", "'tiny' is not one of"),
        ("{users: {EU: {more_than: 5}}}", "unknown key 'more_than'"),
        ("{users: {EU: {at_least: -1}}}", "-1 is less than the minimum of 0"),
        ("{users: {XX: {at_least: 5}}}", "unknown jurisdiction in users 'XX'"),
        ("{judgement: ''}", "should be non-empty"),
    ],
)
def test_the_loader_refuses_conditions_on_facts_that_do_not_exist(
    app_ctx, catalogue: Path, condition: str, message: str
) -> None:
    path = catalogue / "eu" / "test-dsa.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(ORIGINAL) == 1
    path.write_text(text.replace(ORIGINAL, f"applies_when: {condition}"), encoding="utf-8")

    with pytest.raises(CatalogueInvalid) as caught:
        load_catalogue(catalogue)

    assert any(message in line and "test-dsa.yaml:" in line for line in caught.value.details), (
        caught.value.details
    )
    assert db.session.scalar(select(func.count(Regulation.id))) == 0  # nothing loaded
