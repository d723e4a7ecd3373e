"""Precision and recall of entry relevance on a labelled set of 66 regulator announcements
(tests/data/feeds/relevance.yaml), matched against the shipped catalogue in regulations/."""

from __future__ import annotations

from pathlib import Path

import yaml
from flask import Flask
from sqlalchemy import select

from compliance.catalogue.loader import load_catalogue
from compliance.catalogue.models import Jurisdiction
from compliance.config import REPOSITORY_ROOT
from compliance.extensions import db
from compliance.feeds import services
from compliance.feeds.store import build_matcher

LABELLED = Path(__file__).parent.parent / "data" / "feeds" / "relevance.yaml"


def _chain(code: str, jurisdictions: dict[str, Jurisdiction]) -> tuple[str, ...]:
    codes: list[str] = []
    current = jurisdictions.get(code)
    while current is not None and current.code not in codes:
        codes.append(current.code)
        current = current.parent
    return tuple(codes) or (code,)


def test_relevance_precision_and_recall_on_the_labelled_set(app: Flask) -> None:
    entries = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["entries"]
    assert len(entries) >= 60
    assert sum(1 for e in entries if e["expect"]) >= 30
    assert sum(1 for e in entries if not e["expect"]) >= 15
    with app.app_context():
        load_catalogue(REPOSITORY_ROOT / "regulations")  # also builds the search index
        jurisdictions = {j.code: j for j in db.session.scalars(select(Jurisdiction))}
        matcher = build_matcher()
        threshold = app.config["FEEDS_MATCH_THRESHOLD"]
        tp = fp = fn = 0
        misses = []
        for entry in entries:
            found = matcher.match(
                entry["title"],
                entry["text"],
                source_jurisdictions=_chain(entry["source"], jurisdictions),
                search=services._suggestions,
            )
            got = {m.slug for m in found if m.score >= threshold}
            expected = set(entry["expect"])
            tp, fp, fn = (
                tp + len(got & expected),
                fp + len(got - expected),
                fn + len(expected - got),
            )
            if got != expected:
                misses.append((entry["title"], sorted(got), sorted(expected)))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"relevance on {len(entries)} entries: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.9, misses
    assert recall >= 0.9, misses
