"""Entries made through the real storing code (no HTTP): what a poll would have stored."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from compliance.audit.services import Actor
from compliance.extensions import db
from compliance.feeds import services as feeds
from compliance.feeds.fetcher import FetchResult, Validators
from compliance.feeds.models import FeedEntry, FeedSource
from compliance.feeds.parser import FeedItem, ParsedFeed
from compliance.feeds.store import Fetched, PollJob, Relevance
from compliance.reviews.models import ChangeReview

URL = "https://regulator.example/feed"


def ingest_items(app: Flask, items: list[FeedItem], url: str = URL) -> None:
    with app.app_context():
        source = db.session.scalar(select(FeedSource).filter_by(url=url))
        if source is None:
            source = feeds.add_source(url, name="Test regulator", actor=Actor.system("test"))
        job = PollJob(source.id, url, Validators(), "", 100)
        result = FetchResult("ok", url, url, 200, b"x", "application/rss+xml")
        fetched = Fetched(
            job, result, str(len(items)) + items[0].guid, ParsedFeed("T", "rss20", items, "")
        )
        outcome = feeds.store_fetched(fetched, Relevance(None), random.Random(1))
        assert outcome.status == "ok", outcome.error


def entry_maker(app: Flask) -> Callable[..., int]:
    """make(title, text, guid=...) stores one entry and returns its id."""

    def make(title: str, text: str = "", guid: str = "g-1") -> int:
        item = FeedItem(guid, f"https://regulator.example/{guid}", title, text,
                        datetime(2026, 11, 3, tzinfo=UTC))  # fmt: skip
        ingest_items(app, [item])
        with app.app_context():
            entry = db.session.scalar(select(FeedEntry).where(FeedEntry.guid == guid))
            assert entry is not None
            return entry.id

    return make


@pytest.fixture
def ingest(app: Flask, loaded_catalogue: None) -> Callable[..., int]:
    """ingest(title, text, guid=...) stores one entry and returns its id."""
    return entry_maker(app)


def review_of(app: Flask, entry_id: int) -> int | None:
    with app.app_context():
        return db.session.scalar(select(ChangeReview.id).filter_by(entry_id=entry_id))
