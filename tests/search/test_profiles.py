"""Search limited to a service profile (issue #8): service, API, results page and CLI."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from compliance.applicability import services as applicability
from compliance.audit.services import Actor
from compliance.catalogue.models import Obligation
from compliance.errors import NotFound
from compliance.extensions import db
from compliance.search import services
from compliance.search.services import SearchRequest
from tests.api.conftest import assert_error, assert_matches, bearer, token_for  # noqa: F401
from tests.applicability.conftest import (  # noqa: F401
    CRISIS,
    profile_catalogue,
    profile_input,
)

OFFICER = Actor.system("test")


@pytest.fixture
def chatter(app, profile_catalogue, profile_input):  # noqa: F811
    """An EU + UK social network; the catalogue has an obligation that needs judgement for it."""
    with app.app_context():
        return applicability.create_profile(profile_input(), actor=OFFICER).id


def find(text="", profile=None, **filters):
    request = SearchRequest(
        text=text,
        filters={k: tuple(v) for k, v in filters.items()},
        per_page=100,
        profile=profile,
    )
    return services.search(request, team=None)


def obligation_ids(results):
    return {int(hit.stored["obligation_id"]) for hit in results.hits if hit.kind == "obligation"}


def path_of(obligation_id):
    obligation = db.session.get(Obligation, obligation_id)
    return f"{obligation.regulation.slug}/{obligation.key}"


def test_obligations_are_limited_to_those_that_concern_the_profile(app, chatter):
    with app.app_context():
        applies = applicability.applicable_obligation_ids(chatter)
        concerned = applicability.applicable_obligation_ids(chatter, include_judgement=True)
        everything = find()
        limited = find(profile=chatter)

        assert applies and concerned - applies  # the catalogue has both kinds
        assert obligation_ids(limited) == concerned
        assert obligation_ids(everything) - concerned  # something was left out
        kinds = {value.value: value.count for value in limited.facets["kind"]}
        assert kinds["obligation"] == len(concerned)
        # Other kinds are not limited by a profile.
        others = {value.value: value.count for value in everything.facets["kind"]}
        assert kinds["regulation"] == others["regulation"]
        assert kinds["control"] == others["control"]
        assert limited.profile is not None and limited.profile.name == "Chatter"


def test_an_obligation_needing_judgement_is_marked(app, chatter):
    with app.app_context():
        hits = [hit for hit in find(profile=chatter).hits if hit.kind == "obligation"]
        found = {path_of(int(hit.stored["obligation_id"])): hit for hit in hits}

        assert found["test-vlop/art-36"].applicability == "needs-judgement"
        assert found["test-vlop/art-20"].applicability == "applies"
        assert "test-vlop/art-34" not in found  # 45 million users: not Chatter
        assert all(hit.applicability == "" for hit in find().hits)


def test_answering_the_question_changes_what_is_found(app, chatter):
    with app.app_context():
        assert "test-vlop/art-36" in {path_of(n) for n in obligation_ids(find(profile=chatter))}

        applicability.answer_questions(chatter, {CRISIS: False}, actor=OFFICER)

        assert "test-vlop/art-36" not in {path_of(n) for n in obligation_ids(find(profile=chatter))}
        applicability.answer_questions(chatter, {CRISIS: True}, actor=OFFICER)
        hits = [h for h in find("crisis", profile=chatter).hits if h.kind == "obligation"]
        assert [(path_of(int(h.stored["obligation_id"])), h.applicability) for h in hits] == [
            ("test-vlop/art-36", "applies")
        ]


def test_a_retired_obligation_stays_out(app, chatter):
    with app.app_context():
        obligation = db.session.scalar(select(Obligation).filter_by(key="art-20"))
        assert obligation.id in obligation_ids(find(profile=chatter))
        # Read by the evaluation, which the search keeps until the catalogue changes.
        obligation.retired_at = obligation.updated_at
        db.session.commit()

        assert obligation.id not in obligation_ids(find(profile=chatter))


def test_an_unknown_profile_is_not_found(app, chatter):
    with app.app_context(), pytest.raises(NotFound):
        find(profile=chatter + 100)


def test_the_api_takes_a_profile(client, token_for, chatter):  # noqa: F811
    officer = bearer(token_for("officer", email="api@example.org"))

    body = client.get(f"/api/v1/search?profile={chatter}&kind=obligation", headers=officer)
    assert body.status_code == 200
    body = body.get_json()
    assert_matches("SearchResults", body)
    assert body["profile"] == {"id": chatter, "name": "Chatter"}
    marks = {item["ref"]: item["applicability"] for item in body["items"]}
    assert marks["Art. 36"] == "needs-judgement"
    assert marks["Art. 20"] == "applies"
    assert "Art. 34" not in marks
    plain = client.get("/api/v1/search?kind=obligation", headers=officer).get_json()
    assert plain["profile"] is None
    assert all(item["applicability"] is None for item in plain["items"])


def test_the_api_refuses_an_unknown_or_malformed_profile(client, token_for, chatter):  # noqa: F811
    officer = bearer(token_for("officer", email="api@example.org"))

    missing = assert_error(
        client.get(f"/api/v1/search?profile={chatter + 100}", headers=officer), 404
    )
    assert "service profile" in missing["message"]
    bad = assert_error(client.get("/api/v1/search?profile=abc", headers=officer), 422)
    assert "profile must be" in bad["details"][0]


def test_the_results_page_has_a_profile_choice_and_marks_judgement(client, login, chatter):
    login("officer")

    html = client.get("/search/").get_data(as_text=True)
    assert 'name="profile"' in html and "What concerns Chatter" in html

    html = client.get(f"/search/?q=crisis&profile={chatter}").get_data(as_text=True)
    assert 'id="profile-scope"' in html
    assert "needs judgement" in html
    assert f'<option value="{chatter}" selected>' in html
    # Facet links and "clear filters" keep the profile.
    assert f"profile={chatter}" in html.split('aria-label="Facets"')[1]


def test_the_results_page_404s_on_an_unknown_profile(client, login, chatter):
    login("officer")

    response = client.get(f"/search/?profile={chatter + 100}")

    assert response.status_code == 404
    assert "No such service profile" in response.get_data(as_text=True)


def test_the_cli_takes_a_profile_by_id_or_name(runner, chatter):
    by_id = runner.invoke(args=["search", "query", "--json", "--profile", str(chatter), "crisis"])
    assert by_id.exit_code == 0, by_id.output
    body = json.loads(by_id.output)
    assert body["profile"] == chatter
    assert [hit["applicability"] for hit in body["hits"] if hit["kind"] == "obligation"] == [
        "needs-judgement"
    ]

    by_name = runner.invoke(args=["search", "query", "--profile", "chatter", "crisis"])
    assert by_name.exit_code == 0, by_name.output
    assert "[needs judgement]" in by_name.output
    assert "limited to what concerns the profile Chatter" in by_name.output

    unknown = runner.invoke(args=["search", "query", "--profile", "999", "crisis"])
    assert unknown.exit_code == 1
    assert "No service profile" in unknown.output
