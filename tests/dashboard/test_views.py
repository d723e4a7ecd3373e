"""The dashboard page: stat cards, coverage charts, dates, recent changes, a team's controls."""

from __future__ import annotations

import re

import pytest

ROLES = ["admin", "officer", "manager", "auditor"]


def _stat(html: str, label: str) -> str:
    match = re.search(rf'data-stat="{label}">([^<]*)<', html)
    assert match, label
    return match.group(1)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_coverage_figures(client, login, loaded_catalogue, role):
    login(role)
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _stat(html, "Instruments") == "2"
    assert _stat(html, "Obligations") == "4"
    assert _stat(html, "Controls") == "3"
    assert _stat(html, "Mapping coverage") == "50%"
    assert _stat(html, "Gaps") == "2"
    assert _stat(html, "Awaiting approval") == "2"
    assert "2 of 4 obligations" in html
    assert "fully covered (1)" in html
    assert "partly covered (1)" in html
    assert "unmapped (2)" in html


def test_coverage_charts_per_jurisdiction_and_topic(client, login, loaded_catalogue):
    login("officer")
    html = client.get("/").get_data(as_text=True)
    rows = dict(
        re.findall(r'coverage-row" data-key="([^"]+)".*?coverage-percent">([^<]+)<', html, re.S)
    )
    assert rows == {
        "EU": "67%",
        "GB": "0%",
        "age-assurance": "0%",
        "minors": "0%",
        "notice-and-action": "100%",
        "transparency-reporting": "100%",
    }
    # EU: one of three fully covered, one partly: two bars of a third of the track each.
    assert 'class="chart-bar" style="width: 33.3%"' in html
    assert 'class="chart-bar chart-bar-partial" style="width: 33.3%"' in html
    assert 'href="/catalogue/obligations?jurisdiction=EU"' in html
    assert 'href="/catalogue/obligations?topic=minors"' in html
    assert "<script" not in html.split("</main>")[0]  # charts are drawn without JavaScript


def test_recent_catalogue_changes_are_listed(client, login, loaded_catalogue):
    login("officer")
    html = client.get("/").get_data(as_text=True)
    assert "Test DSA (Regulation (EU) 2022/2065)" in html
    assert "regulation.created" in html
    assert "catalogue loader" in html
    assert " UTC</time>" in html
    assert 'href="/audit/?action=catalogue."' in html


def test_past_dates_leave_the_upcoming_list_empty(client, login, loaded_catalogue):
    login("officer")
    html = client.get("/").get_data(as_text=True)
    assert "No instrument or obligation starts to apply from today on" in html


def test_a_manager_sees_their_teams_controls(client, login, loaded_catalogue):
    login("manager", team="Trust & Safety Operations")
    html = client.get("/").get_data(as_text=True)
    panel = html.split('id="team-controls"', 1)[1].split("</table>", 1)[0]
    assert "Your team's controls" in panel
    assert "Trust &amp; Safety Operations" in panel
    assert "TS-NA-01" in panel
    assert "Notice intake form" in panel
    assert "implemented" in panel
    assert "TS-TR-01" not in panel


def test_a_manager_without_a_team_is_told_to_get_one(client, login, loaded_catalogue):
    login("manager")
    html = client.get("/").get_data(as_text=True)
    assert "Your account has no team yet" in html


def test_officers_get_no_team_panel(client, login, loaded_catalogue):
    login("officer", team="Policy")
    html = client.get("/").get_data(as_text=True)
    assert 'id="team-controls"' not in html


def test_an_empty_catalogue_tells_an_admin_how_to_load_it(client, login):
    login("admin")
    html = client.get("/").get_data(as_text=True)
    assert "The catalogue is empty" in html
    assert "flask catalogue load" in html
    assert "make run" in html
    assert 'data-stat="' not in html


def test_the_dashboard_needs_a_login(client, make_user):
    make_user("admin")
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
