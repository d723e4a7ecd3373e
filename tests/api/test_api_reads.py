"""Reading the catalogue and the controls through the JSON API."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error, assert_matches, bearer, control_id, obligation_id


@pytest.fixture
def officer(token_for, loaded_catalogue):
    return bearer(token_for("officer"))


def test_regulations_list_every_live_instrument(client, officer):
    response = client.get("/api/v1/regulations", headers=officer)

    assert response.status_code == 200
    body = response.get_json()
    assert_matches("RegulationPage", body)
    assert [item["slug"] for item in body["items"]] == ["test-dsa", "test-osa"]  # EU, then GB
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 25, 2, 1)


def test_regulations_filter_by_jurisdiction(client, officer):
    body = client.get("/api/v1/regulations?jurisdiction=GB", headers=officer).get_json()

    assert [item["slug"] for item in body["items"]] == ["test-osa"]
    assert body["items"][0]["jurisdiction"] == "GB"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level=regional", ["test-dsa"]),
        ("topic=age-assurance", ["test-osa"]),
        ("status=in-force", ["test-dsa"]),
        ("q=digital", ["test-dsa"]),
        ("jurisdiction=gb&status=in-force", []),
    ],
)
def test_regulations_filters(client, officer, query, expected):
    body = client.get(f"/api/v1/regulations?{query}", headers=officer).get_json()

    assert [item["slug"] for item in body["items"]] == expected


def test_a_bad_level_is_a_422_naming_the_filter(client, officer):
    error = assert_error(client.get("/api/v1/regulations?level=galactic", headers=officer), 422)

    assert "level" in error["message"]
    assert error["details"] == [
        "level must be one of: international, regional, national, subnational, local"
    ]


def test_an_unknown_jurisdiction_is_a_422(client, officer):
    error = assert_error(client.get("/api/v1/regulations?jurisdiction=XX", headers=officer), 422)

    assert error["details"][0].startswith("jurisdiction:")


def test_paging_and_the_per_page_cap(client, officer):
    first = client.get("/api/v1/regulations?per_page=1", headers=officer).get_json()
    second = client.get("/api/v1/regulations?per_page=1&page=2", headers=officer).get_json()
    beyond = client.get("/api/v1/regulations?per_page=1&page=9", headers=officer).get_json()
    capped = client.get("/api/v1/regulations?per_page=5000", headers=officer).get_json()

    assert (first["pages"], first["total"]) == (2, 2)
    assert [first["items"][0]["slug"], second["items"][0]["slug"]] == ["test-dsa", "test-osa"]
    assert beyond["items"] == []
    assert capped["per_page"] == 100


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=-1", "per_page=0"])
def test_bad_paging_is_a_422_naming_the_argument(client, officer, query):
    error = assert_error(client.get(f"/api/v1/regulations?{query}", headers=officer), 422)

    assert error["message"].startswith(query.split("=")[0] + " must be")


def test_regulation_detail_has_every_field_and_its_obligations(client, officer):
    response = client.get("/api/v1/regulations/test-dsa", headers=officer)

    assert response.status_code == 200
    body = response.get_json()
    assert_matches("Regulation", body)
    assert body["adopted_on"] == "2022-10-19"
    assert body["applies_from_on"] == "2024-02-17"
    assert body["topics"] == ["notice-and-action", "transparency-reporting"]
    assert body["aliases"] == ["DSA", "Digital Services Act"]
    assert body["regulator"]["slug"] == "european-commission"
    assert (body["parent"], body["implementing"], body["retired_at"]) == (None, [], None)
    assert [o["key"] for o in body["obligations"]] == ["art-16", "art-15", "art-28"]
    art_28 = body["obligations"][2]
    assert art_28["applies_when"] == {"service": ["online-platform"], "children": "likely"}
    assert art_28["effective_on"] == "2024-02-17"
    assert art_28["threshold"] == "Online platforms accessible to minors."
    assert [o["mapped_controls"] for o in body["obligations"]] == [1, 1, 0]


def test_an_unknown_regulation_is_a_json_404(client, officer):
    assert_error(client.get("/api/v1/regulations/nope", headers=officer), 404)


def test_obligation_detail_shows_its_mapping(app, client, officer):
    with app.app_context():
        art_16 = obligation_id("test-dsa/art-16")

    body = client.get(f"/api/v1/obligations/{art_16}", headers=officer).get_json()

    assert_matches("Obligation", body)
    assert (body["path"], body["regulation"]["slug"]) == ("test-dsa/art-16", "test-dsa")
    [mapping] = body["mappings"]
    assert mapping["control"]["code"] == "TS-NA-01"
    assert (mapping["relationship"], mapping["strength"], mapping["coverage"]) == (
        "subset-of",
        8,
        "full",
    )
    assert mapping["note"] == "The form is the notice channel."


def test_an_unknown_obligation_is_a_json_404(client, officer):
    assert_error(client.get("/api/v1/obligations/99999", headers=officer), 404)


def test_controls_list_and_filters(client, officer):
    everything = client.get("/api/v1/controls", headers=officer).get_json()
    policy = client.get("/api/v1/controls?team=Policy", headers=officer).get_json()
    planned = client.get("/api/v1/controls?status=planned", headers=officer).get_json()
    by_domain = client.get("/api/v1/controls?domain=age-assurance", headers=officer).get_json()

    assert_matches("ControlPage", everything)
    assert [c["code"] for c in everything["items"]] == ["TS-AA-01", "TS-NA-01", "TS-TR-01"]
    assert [c["code"] for c in policy["items"]] == ["TS-TR-01"]
    assert [c["code"] for c in planned["items"]] == ["TS-AA-01"]
    assert [c["code"] for c in by_domain["items"]] == ["TS-AA-01"]


def test_a_bad_control_status_is_a_422(client, officer):
    error = assert_error(client.get("/api/v1/controls?status=done", headers=officer), 422)

    assert error["details"][0].startswith("status must be one of")


def test_control_detail_lists_the_obligations_it_serves(app, client, officer):
    with app.app_context():
        ts_na_01 = control_id("TS-NA-01")

    body = client.get(f"/api/v1/controls/{ts_na_01}", headers=officer).get_json()

    assert_matches("Control", body)
    assert body["owner_team"] == "Trust & Safety Operations"
    assert [m["obligation"]["path"] for m in body["mappings"]] == ["test-dsa/art-16"]


class TestManager:
    """A manager sees only the controls, and mappings, of their own team."""

    @pytest.fixture
    def manager(self, token_for, loaded_catalogue):
        return bearer(token_for("manager", team="Policy"))

    def test_the_list_holds_only_their_teams_controls(self, client, manager):
        body = client.get("/api/v1/controls", headers=manager).get_json()

        assert [c["code"] for c in body["items"]] == ["TS-TR-01"]
        assert body["total"] == 1

    def test_asking_for_another_team_is_403(self, client, manager):
        assert_error(client.get("/api/v1/controls?team=Product%20Safety", headers=manager), 403)

    def test_another_teams_control_is_403(self, app, client, manager):
        with app.app_context():
            own, other = control_id("TS-TR-01"), control_id("TS-NA-01")

        assert client.get(f"/api/v1/controls/{own}", headers=manager).status_code == 200
        assert_error(client.get(f"/api/v1/controls/{other}", headers=manager), 403)

    def test_an_obligation_shows_only_their_teams_mappings(self, app, client, manager):
        with app.app_context():
            art_16, art_15 = obligation_id("test-dsa/art-16"), obligation_id("test-dsa/art-15")

        hidden = client.get(f"/api/v1/obligations/{art_16}", headers=manager).get_json()
        shown = client.get(f"/api/v1/obligations/{art_15}", headers=manager).get_json()

        assert hidden["mappings"] == []
        assert [m["control"]["code"] for m in shown["mappings"]] == ["TS-TR-01"]

    def test_a_manager_without_a_team_sees_no_controls(self, client, token_for, loaded_catalogue):
        body = client.get("/api/v1/controls", headers=bearer(token_for("manager"))).get_json()

        assert body["items"] == []

    def test_the_catalogue_is_open_to_them(self, client, manager):
        assert client.get("/api/v1/regulations/test-osa", headers=manager).status_code == 200
