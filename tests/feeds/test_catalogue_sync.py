"""Feed sources from regulations/feeds: loaded with the catalogue, idempotent, edits kept."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from compliance.catalogue.loader import load_catalogue
from compliance.extensions import db
from compliance.feeds import services
from compliance.feeds.models import FeedSource
from tests.conftest import DATA
from tests.feeds.conftest import ADMIN

FEEDS_YAML = """feeds:
  - name: Test Commission news
    url: https://commission.example/rss
    regulator: european-commission
    jurisdiction: EU
    confirmed: true
    interval_minutes: 360
  - name: Test Ofcom news
    url: https://ofcom.example/feed
    regulator: ofcom
    jurisdiction: GB
    confirmed: false
"""


def _catalogue(tmp_path: Path, feeds: str = FEEDS_YAML) -> Path:
    root = tmp_path / "catalogue"
    if not root.exists():
        shutil.copytree(DATA / "catalogue", root)
    (root / "feeds").mkdir(exist_ok=True)
    (root / "feeds" / "test.yaml").write_text(feeds, encoding="utf-8")
    return root


def _sources() -> dict[str, FeedSource]:
    return {s.catalogue_url or s.url: s for s in db.session.scalars(select(FeedSource))}


def test_loading_the_catalogue_creates_its_feed_sources_once(app: Flask, tmp_path: Path):
    root = _catalogue(tmp_path)
    with app.app_context():
        report = load_catalogue(root)
        assert report.total("feed", "created") == 2
        sources = _sources()
        commission = sources["https://commission.example/rss"]
        assert (commission.origin, commission.interval_minutes, commission.confirmed) == (
            "catalogue",
            360,
            True,
        )
        assert commission.regulator.slug == "european-commission"
        assert sources["https://ofcom.example/feed"].interval_minutes == 60  # the default
        again = load_catalogue(root)
        assert not again.changed
        assert again.total("feed", "unchanged") == 2


def test_an_admins_interval_survives_reloads_and_a_removed_feed_is_retired(
    app: Flask, tmp_path: Path
):
    root = _catalogue(tmp_path)
    with app.app_context():
        load_catalogue(root)
        ofcom = _sources()["https://ofcom.example/feed"]
        services.update_source(ofcom.id, interval_minutes=30, actor=ADMIN)
        edited = FEEDS_YAML.replace("interval_minutes: 360", "interval_minutes: 720")
        edited = edited.split("  - name: Test Ofcom news")[0] + (
            "  - name: Test Ofcom news\n    url: https://ofcom.example/feed\n    regulator: ofcom\n"
            "    jurisdiction: GB\n    confirmed: true\n    interval_minutes: 240\n"
        )
        load_catalogue(_catalogue(tmp_path, edited))
        sources = _sources()
        assert sources["https://commission.example/rss"].interval_minutes == 720
        assert sources["https://ofcom.example/feed"].interval_minutes == 30  # kept local
        assert sources["https://ofcom.example/feed"].confirmed is True  # the file owns it
        only_ofcom = "feeds:\n" + edited.split("feeds:\n")[1].split("  - name: Test Ofcom news")[0]
        only_ofcom = edited.replace(only_ofcom.split("feeds:\n")[1], "")
        report = load_catalogue(_catalogue(tmp_path, only_ofcom))
        assert report.total("feed", "retired") == 1
        retired = _sources()["https://commission.example/rss"]
        assert retired.retired_at is not None and retired.enabled is False


def test_a_moved_source_keeps_its_catalogue_key(app: Flask, tmp_path: Path):
    root = _catalogue(tmp_path)
    with app.app_context():
        load_catalogue(root)
        source = _sources()["https://commission.example/rss"]
        source.url = "https://commission.example/new-rss"  # as a permanent redirect would
        db.session.commit()
        report = load_catalogue(root)
        assert report.total("feed", "created") == 0
        assert db.session.scalar(
            select(FeedSource.url).filter_by(catalogue_url="https://commission.example/rss")
        ) == ("https://commission.example/new-rss")
