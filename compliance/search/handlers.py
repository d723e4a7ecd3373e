"""Keep the index in step with the database: receivers of the domain signals."""

from __future__ import annotations

from typing import Any

from flask import g

from compliance import signals
from compliance.search import services


def on_catalogue_loaded(report: Any, **_: Any) -> None:
    # A load may touch thousands of rows; comparing content hashes finds exactly which. That
    # includes feed entries and reviews, which carry their instruments' places and topics.
    services.sync_index()


def on_control_changed(control: Any, **_: Any) -> None:
    services.index_rows([control])


_BATCH = "compliance.search.batch"


def _index(rows: list[Any]) -> None:
    """Index now, or, inside a batch (signals.batch), when the batch ends: one write for a
    fetch's entries and reviews instead of one each (a commit and a new searcher apiece)."""
    pending = g.get(_BATCH)
    if pending is not None:
        pending.extend(rows)
    else:
        services.index_rows(rows)


def on_batch_started(sender: Any, **_: Any) -> None:
    g.setdefault(_BATCH, [])


def on_batch_finished(sender: Any, **_: Any) -> None:
    pending = g.pop(_BATCH, None)
    if pending:
        services.index_rows(list({id(row): row for row in pending}.values()))


def on_feed_entry_added(entry: Any, action: str = "added", **_: Any) -> None:
    # A revised entry changes its review's words too; a new entry's review, if the poll
    # opened one, is indexed on review_opened.
    reviews = services.reviews_of([entry]) if action == "revised" else []
    _index([entry, *reviews])


def on_review_changed(review: Any, **_: Any) -> None:
    _index([review])


def connect() -> None:
    """Connect the receivers (weakly held by blinker, so they are module functions)."""
    signals.batch_started.connect(on_batch_started)
    signals.batch_finished.connect(on_batch_finished)
    signals.catalogue_loaded.connect(on_catalogue_loaded)
    signals.control_changed.connect(on_control_changed)
    signals.feed_entry_added.connect(on_feed_entry_added)
    signals.review_opened.connect(on_review_changed)
    signals.review_changed.connect(on_review_changed)
