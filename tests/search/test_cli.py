"""`flask search rebuild|check|query`."""

from __future__ import annotations

import json

from compliance.search import services


def test_rebuild_reports_what_it_indexed(runner, loaded_catalogue):
    result = runner.invoke(args=["search", "rebuild"])

    assert result.exit_code == 0, result.output
    assert "Indexed 9 documents." in result.output


def test_check_says_in_step_and_exits_0(runner, loaded_catalogue):
    result = runner.invoke(args=["search", "check"])

    assert result.exit_code == 0, result.output
    assert "in step" in result.output


def test_check_reports_differences_and_repair_fixes_them(runner, app, loaded_catalogue):
    with app.app_context():
        services.search_index().apply([], ["obligation:1"], timeout=1)

    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 1
    assert "1 missing: obligation:1" in result.output

    result = runner.invoke(args=["search", "check", "--repair"])
    assert result.exit_code == 0
    assert "Repaired" in result.output
    assert "in step" in runner.invoke(args=["search", "check"]).output


def test_query_prints_ranked_hits(runner, loaded_catalogue):
    result = runner.invoke(args=["search", "query", "Art. 16 DSA"])

    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[1]
    assert "Notice and action mechanism" in first


def test_query_json(runner, loaded_catalogue):
    result = runner.invoke(args=["search", "query", "--json", "notice"])

    body = json.loads(result.output)
    assert body["total"] >= 1
    assert body["hits"][0]["kind"] in ("obligation", "regulation", "control")
    assert "kind" in body["facets"]


def test_query_with_a_bad_filter_fails_cleanly(runner, loaded_catalogue):
    result = runner.invoke(args=["search", "query", "--kind", "spaceship", "x"])

    assert result.exit_code == 1
    assert "kind must be one of" in result.output
