"""The relevance set (relevance.yaml) over the shipped catalogue: each must be in the top five.

Runs on SQLite only: ranking does not depend on the database, and loading the whole
catalogue once per backend would double the time for nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from compliance import create_app
from compliance.catalogue.loader import load_catalogue
from compliance.config import REPOSITORY_ROOT
from compliance.extensions import db
from compliance.search import services

CASES = yaml.safe_load((Path(__file__).with_name("relevance.yaml")).read_text(encoding="utf-8"))
TOP = 5


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp("relevance")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / 'shipped.db'}",
            "SEARCH_INDEX_DIR": str(directory / "index"),
            "CATALOGUE_DIR": str(REPOSITORY_ROOT / "regulations"),
        }
    )
    with app.app_context():
        db.create_all()
        load_catalogue(REPOSITORY_ROOT / "regulations")  # indexes it through the handler
        yield app
        db.session.remove()
        db.engine.dispose()


def _name(hit: services.SearchHit) -> str:
    if hit.kind == "obligation":
        return str(hit.stored["path"])
    return str(hit.stored.get("slug") or hit.ref)


def _matches(expected: str, names: list[str]) -> bool:
    if expected.endswith("/*"):  # any document of that instrument
        return any(name.startswith(expected[:-1]) for name in names)
    return expected in names


def test_the_set_is_big_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[case["query"] for case in CASES])
def test_the_expected_document_is_in_the_top_five(shipped: Flask, case: dict[str, Any]) -> None:
    results = services.search(services.SearchRequest(text=case["query"], per_page=TOP), team=None)
    names = [_name(hit) for hit in results.hits]

    assert any(_matches(expected, names) for expected in case["expect"]), names
