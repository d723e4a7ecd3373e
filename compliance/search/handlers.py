"""Keep the index in step with the database: receivers of the domain signals."""

from __future__ import annotations

from typing import Any

from compliance import signals
from compliance.search import services


def on_catalogue_loaded(report: Any, **_: Any) -> None:
    # A load may touch thousands of rows; comparing content hashes finds exactly which.
    services.sync_index()


def on_control_changed(control: Any, **_: Any) -> None:
    services.index_rows([control])


def connect() -> None:
    """Connect the receivers (weakly held by blinker, so they are module functions)."""
    signals.catalogue_loaded.connect(on_catalogue_loaded)
    signals.control_changed.connect(on_control_changed)
