"""Signals keep the index in step; the nightly job heals what they missed."""

from __future__ import annotations

import logging

from compliance.catalogue.loader import load_catalogue
from compliance.scheduler import jobs
from compliance.search import services
from tests.conftest import DATA


def test_a_reload_that_changes_nothing_keeps_the_index(app, loaded_catalogue):
    with app.app_context():
        before = services.search_index().generation_key()
        load_catalogue(DATA / "catalogue")

        assert services.search_index().generation_key() == before


def test_a_catalogue_load_fills_an_empty_index(app):
    with app.app_context():
        load_catalogue(DATA / "catalogue")

        assert services.check_index().in_step
        assert services.search_index().doc_count() == 9


def test_the_nightly_job_is_in_the_table(app):
    table = {job.id: job for job in jobs.job_table(app.config)}

    assert table["search-check"].func is jobs.repair_search_index


def test_the_nightly_job_repairs_the_index(app, loaded_catalogue, caplog):
    with app.app_context():
        services.search_index().apply([], ["obligation:2", "regulation:1"], timeout=1)
        with caplog.at_level(logging.INFO, logger=jobs.log.name):
            jobs.repair_search_index()
            assert "2 missing" in caplog.text
            jobs.repair_search_index()
        assert "search index in step: 9 documents" in caplog.text
        assert services.check_index().in_step
