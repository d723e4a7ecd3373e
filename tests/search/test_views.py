"""The results page and the search box on every page."""

from __future__ import annotations

import pytest


@pytest.fixture
def officer(login, loaded_catalogue):
    return login("officer")


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_the_navbar_search_box_leads_to_the_results_page(client, officer):
    html = page(client, "/catalogue/")

    assert 'action="/search/"' in html


def test_results_show_highlights_facets_and_links(client, officer):
    html = page(client, "/search/?q=notice+and+action")

    assert "<mark>Notice</mark>" in html
    assert 'href="/catalogue/obligations/' in html
    assert "Jurisdiction" in html and "EU · European Union" in html
    assert "result" in html


def test_an_empty_query_invites_a_search_and_lists_everything(client, officer):
    html = page(client, "/search/")

    assert "Search the catalogue" in html
    assert "age verification UK" in html  # an example to click


def test_a_facet_link_narrows_the_results(client, officer):
    html = page(client, "/search/?q=&kind=control")

    assert "TS-NA-01" in html
    assert "Notice and action mechanism" not in html
    assert 'aria-current="true"' in html  # the chosen facet value is marked


def test_did_you_mean(client, officer):
    html = page(client, "/search/?q=notice+mechanizm")

    assert "notice mechanism" in html


def test_nothing_found_says_what_to_try(client, officer):
    html = page(client, "/search/?q=zzzzqqq")

    assert "Nothing matches" in html


def test_a_bad_filter_is_explained_not_a_500(client, officer):
    html = page(client, "/search/?q=notice&status=bogus")

    assert "status must be one of" in html


def test_html_in_the_query_is_escaped(client, officer):
    html = page(client, "/search/?q=%3Cscript%3Ealert(1)%3C/script%3E")

    assert "<script>alert(1)</script>" not in html


def test_a_manager_sees_only_their_teams_controls(client, login, loaded_catalogue):
    login("manager", team="Policy")

    html = page(client, "/search/?kind=control")

    assert "TS-TR-01" in html
    assert "TS-NA-01" not in html and "TS-AA-01" not in html


@pytest.mark.parametrize(
    "text", ['"open quote', "(" * 5000, "x" * 100_000, "\x00\x1b[0m", "年齢確認", "*", "foo:bar"]
)
def test_bad_input_renders_a_page(client, officer, text):
    response = client.get("/search/", query_string={"q": text})

    assert response.status_code == 200


def test_search_needs_a_login(client, make_user):
    make_user("officer")

    assert client.get("/search/?q=x").status_code == 302
