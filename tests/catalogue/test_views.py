"""The catalogue pages: instrument list, instrument, obligation list and obligation."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from compliance.catalogue.loader import load_catalogue
from compliance.catalogue.models import Obligation
from compliance.catalogue.services import Condition, describe_applicability
from compliance.extensions import db
from tests.conftest import DATA

ROLES = ["admin", "officer", "manager", "auditor"]


def _obligation_id(app, key: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Obligation.id).filter_by(key=key))


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _retire_art_28(app, tmp_path: Path) -> None:
    """Reload a copy of the test catalogue from which test-dsa's art-28 was removed."""
    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    path = root / "eu" / "test-dsa.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("  - key: art-28")])
    with app.app_context():
        load_catalogue(root)


# -- instrument list -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_browse_the_catalogue(client, login, loaded_catalogue, role):
    login(role)
    html = _page(client, "/catalogue/")
    assert "Test DSA" in html
    assert "Regulation (EU) 2022/2065" in html
    assert "Test OSA" in html
    assert "2024-02-17" in html  # applies-from


def test_instrument_rows_show_obligation_counts_and_coverage(client, login, loaded_catalogue):
    login("officer")
    html = _page(client, "/catalogue/?sort=title")
    rows = re.findall(r"<tr class=\"\">(.*?)</tr>", html, re.S)
    dsa, osa = rows
    assert "Test DSA" in dsa
    assert re.search(r'text-end">3</td>', dsa)  # three obligations
    assert "67%" in dsa  # art-16 and art-15 of three are mapped
    assert re.search(r'text-end">1</td>', osa)
    assert "0%" in osa


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("jurisdiction=GB", "Test OSA", "Test DSA"),
        ("jurisdiction=gb", "Test OSA", "Test DSA"),
        ("level=regional", "Test DSA", "Test OSA"),
        ("topic=age-assurance", "Test OSA", "Test DSA"),
        ("status=in-force", "Test DSA", "Test OSA"),
        ("q=online+safety", "Test OSA", "Test DSA"),
    ],
)
def test_filters_narrow_the_list(client, login, loaded_catalogue, query, shown, hidden):
    login("officer")
    html = _page(client, f"/catalogue/?{query}")
    assert shown in html
    assert hidden not in html
    assert "Clear filters" in html


def test_filter_menus_count_instruments_per_value(client, login, loaded_catalogue):
    login("officer")
    html = _page(client, "/catalogue/")
    assert "EU · European Union (1)" in html
    assert "Regional (1)" in html
    assert "Notice and action (1)" in html
    assert "in force (1)" in html
    assert "repealed (0)" in html


def test_an_invalid_filter_value_is_explained_and_the_full_list_shown(
    client, login, loaded_catalogue
):
    login("officer")
    html = _page(client, "/catalogue/?level=planetary&status=in-force")
    assert "level must be one of" in html
    assert "Test DSA" in html
    assert "Test OSA" in html


def test_an_unknown_jurisdiction_is_explained_and_the_full_list_shown(
    client, login, loaded_catalogue
):
    login("officer")
    html = _page(client, "/catalogue/?jurisdiction=XX")
    assert "Unknown jurisdiction &#39;XX&#39;" in html
    assert "Test DSA" in html
    assert "Test OSA" in html


def test_no_match_offers_to_clear_the_filters(client, login, loaded_catalogue):
    login("officer")
    html = _page(client, "/catalogue/?q=nothing+like+this")
    assert "No instrument matches these filters" in html
    assert 'href="/catalogue/">clear filters</a>' in html


def test_sorting_and_paging(app, client, login, loaded_catalogue):
    login("officer")
    html = _page(client, "/catalogue/?sort=title&dir=desc")
    assert html.index("Test OSA") < html.index("Test DSA")
    assert 'aria-sort="descending"' in html
    html = _page(client, "/catalogue/?sort=title&dir=asc")
    assert html.index("Test DSA") < html.index("Test OSA")

    app.config["PAGE_SIZE"] = 1
    first = _page(client, "/catalogue/?sort=title")
    second = _page(client, "/catalogue/?sort=title&page=2")
    assert "Test DSA" in first
    assert "Test OSA" not in first
    assert "Test OSA" in second
    assert "Test DSA" not in second
    assert "2–2 of 2" in second
    assert _page(client, "/catalogue/?sort=nonsense&dir=sideways&page=-3")


def test_an_empty_catalogue_says_how_to_load_it(client, login):
    login("admin")
    html = _page(client, "/catalogue/")
    assert "The catalogue is empty" in html
    assert "flask catalogue load" in html


def test_pages_need_a_login(client, make_user, loaded_catalogue):
    make_user("admin")  # past first-run set-up
    for path in ("/catalogue/", "/catalogue/test-dsa", "/catalogue/obligations"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


# -- one instrument --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_instrument_page_shows_its_facts_and_obligations(client, login, loaded_catalogue, role):
    login(role)
    html = _page(client, "/catalogue/test-dsa")
    for text in (
        "Test Digital Services Regulation",
        "Regulation (EU) 2022/2065",
        "European Union",
        "regional",
        "2022-10-19",
        "2022-11-16",
        "2024-02-17",
        'href="https://commission.europa.eu/"',
        "European Commission",
        "https://eur-lex.europa.eu/eli/reg/2022/2065/oj",
        "6% of worldwide turnover",
        "Digital Services Act",
        "A test instrument shaped like the DSA.",
        "Notice and action mechanism",
        "Art. 28(1)",
        "in force",
    ):
        assert text in html, text
    # art-16 and art-15 have one control each; art-28 has none.
    assert html.count('title="Mapped controls">1</span>') == 2
    assert ">gap</span>" in html


def test_an_unknown_instrument_is_a_404(client, login, loaded_catalogue):
    login("officer")
    response = client.get("/catalogue/no-such-law")
    assert response.status_code == 404
    assert "No instrument &#39;no-such-law&#39;" in response.get_data(as_text=True)


# -- obligation list -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_obligation_list_shows_every_obligation(client, login, loaded_catalogue, role):
    login(role)
    html = _page(client, "/catalogue/obligations")
    for title in (
        "Notice and action mechanism",
        "Transparency reports",
        "Protection of minors",
        "Children&#39;s safety duties",
    ):
        assert title in html
    assert 'fs-6">4</span>' in html  # the total


def test_obligation_list_filters_like_the_instrument_list(client, login, loaded_catalogue):
    login("officer")
    html = _page(client, "/catalogue/obligations?jurisdiction=GB")
    assert "Children&#39;s safety duties" in html
    assert "Notice and action mechanism" not in html
    html = _page(client, "/catalogue/obligations?topic=minors&sort=title&dir=desc")
    assert "Protection of minors" in html
    assert "Children&#39;s safety duties" in html
    assert html.index("Protection of minors") < html.index("Children&#39;s safety duties")
    assert "Transparency reports" not in html


def test_the_navbar_search_lands_on_the_obligation_list(client, login, loaded_catalogue):
    login("manager")
    html = _page(client, "/catalogue/obligations?q=yearly+reports")
    assert "Transparency reports" in html
    assert "Notice and action mechanism" not in html
    assert 'value="yearly reports"' in html  # kept in the search boxes


def test_obligation_list_explains_a_bad_filter(client, login, loaded_catalogue):
    login("officer")
    html = _page(client, "/catalogue/obligations?status=maybe")
    assert "status must be one of" in html
    assert "Transparency reports" in html


# -- one obligation --------------------------------------------------------------------------


def test_obligation_page_lists_its_mapped_control(app, client, login, loaded_catalogue):
    login("officer")
    html = _page(client, f"/catalogue/obligations/{_obligation_id(app, 'art-16')}")
    assert 'href="/catalogue/">Catalogue</a>' in html
    assert 'href="/catalogue/test-dsa">Test DSA</a>' in html
    assert "Art. 16" in html
    assert "Hosting services run an electronic channel" in html
    assert "TS-NA-01" in html
    assert "Notice intake form" in html
    assert "Trust &amp; Safety Operations" in html
    assert "subset of" in html
    assert "functional" in html
    assert ">full</span>" in html
    assert "The form is the notice channel." in html
    assert ">proposed</span>" in html
    assert "Add mapping" in html
    assert "2024-02-17" in html
    assert "the instrument's date" in html


def test_obligation_page_says_when_it_applies_in_plain_words(app, client, login, loaded_catalogue):
    login("auditor")
    html = _page(client, f"/catalogue/obligations/{_obligation_id(app, 'art-28')}")
    assert "Online platforms accessible to minors." in html
    assert "online platform" in html
    assert "children are likely to use the service" in html
    assert "Gap: no control serves this obligation" in html
    assert "Add mapping" not in html  # auditors change nothing


def test_a_manager_sees_other_teams_controls_by_code_and_title_only(
    app, client, login, loaded_catalogue
):
    login("manager", team="Policy")
    html = _page(client, f"/catalogue/obligations/{_obligation_id(app, 'art-16')}")
    assert "TS-NA-01" in html
    assert "Notice intake form" in html
    assert "Another team's control" in html
    assert "The form is the notice channel." not in html
    assert 'href="/controls/' not in html
    assert "Add mapping" not in html

    html = _page(client, f"/catalogue/obligations/{_obligation_id(app, 'art-15')}")
    assert "TS-TR-01" in html
    assert "Another team's control" not in html
    assert "equivalent to" in html


def test_an_unknown_obligation_is_a_404(client, login, loaded_catalogue):
    login("officer")
    assert client.get("/catalogue/obligations/999999").status_code == 404


def test_a_retired_obligation_is_flagged_everywhere(app, client, login, loaded_catalogue, tmp_path):
    art_28 = _obligation_id(app, "art-28")
    _retire_art_28(app, tmp_path)
    login("officer")

    html = _page(client, f"/catalogue/obligations/{art_28}")
    assert ">retired</span>" in html
    assert "This obligation left the catalogue files" in html

    html = _page(client, "/catalogue/test-dsa")
    assert "Protection of minors" in html
    assert ">retired</span>" in html

    assert "Protection of minors" not in _page(client, "/catalogue/obligations")
    assert "Protection of minors" in _page(client, "/catalogue/obligations?retired=1")


# -- conditions in plain words ---------------------------------------------------------------


def test_conditions_read_as_plain_words():
    conditions = {
        "service": ["online-platform", "search"],
        "users": {"EU": {"at_least": 45_000_000}, "GB": {"below": 700_000}},
        "children": "directed",
        "features": ["recommender"],
        "company_size_exempt": ["micro", "small"],
        "judgement": "Is it designated?",
    }
    assert describe_applicability(conditions) == [
        Condition("Service kind", "online platform or search engine"),
        Condition("Users", "EU ≥ 45,000,000 monthly users"),
        Condition("Users", "GB < 700,000 monthly users"),
        Condition("Children", "the service is directed at children"),
        Condition("Features", "recommender"),
        Condition("Exempt", "micro and small companies"),
        Condition("Needs judgement", "Is it designated?"),
    ]
    assert describe_applicability({}) == []
    assert describe_applicability(None) == []


def test_a_retired_instrument_is_flagged_and_hidden_unless_asked_for(
    app, client, login, loaded_catalogue, tmp_path
):
    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    (root / "gb" / "test-osa.yaml").unlink()
    with app.app_context():
        load_catalogue(root)
    login("auditor")

    html = _page(client, "/catalogue/test-osa")
    assert "This instrument left the catalogue files" in html
    assert ">retired</span>" in html

    assert "Test OSA" not in _page(client, "/catalogue/")
    assert "Test OSA" in _page(client, "/catalogue/?retired=1")
