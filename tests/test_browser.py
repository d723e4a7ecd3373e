"""End to end in Debian's Chromium: log in, browse, open a regulation, add a mapping, see it
on the control page. The app runs in a real HTTP server on 127.0.0.1 with a SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from compliance.audit.services import Actor
from compliance.auth import services as auth_services
from compliance.catalogue.loader import load_catalogue
from compliance.extensions import db
from tests.conftest import DATA, PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
# Chromium's own background traffic would try to leave the machine; keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app: Flask, backend: str) -> Iterator[str]:
    if backend != "sqlite":
        pytest.skip("the browser journey runs once, on the SQLite file database")
    with app.app_context():
        load_catalogue(DATA / "catalogue")
        auth_services.create_user(
            "officer@example.org",
            role="officer",
            password=PASSWORD,
            name="Olivia Officer",
            actor=Actor.system("test"),
        )
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_officer_maps_a_control_and_sees_it_on_the_control_page(
    live_server: str, tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "install Debian's chromium package (.ci/run does)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Wide enough for the full navigation bar (it collapses into a menu below 1400 px).
        page = browser.new_page(viewport={"width": 1500, "height": 900})
        try:
            _journey(page, live_server)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _journey(page, base: str) -> None:  # type: ignore[no-untyped-def]
    expect = playwright_api.expect

    page.goto(base + "/")
    expect(page).to_have_url(base + "/login?next=%2F")
    page.get_by_label("E-mail").fill("officer@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Welcome, Olivia Officer.")).to_be_visible()

    # Browse the catalogue, filtered to the EU, and open the regulation.
    page.get_by_role("link", name="Catalogue", exact=True).click()
    page.goto(base + "/catalogue/?jurisdiction=EU")
    expect(page.get_by_role("link", name="Test DSA")).to_be_visible()
    expect(page.get_by_role("link", name="Test OSA")).to_have_count(0)
    page.get_by_role("link", name="Test DSA").click()
    expect(page.get_by_role("heading", name="Test DSA")).to_be_visible()

    # Open the minors obligation, which no control serves yet, and map the age control.
    page.get_by_role("link", name="Protection of minors").click()
    expect(page.get_by_role("heading", name="Protection of minors")).to_be_visible()
    page.get_by_role("link", name="Add mapping").first.click()
    page.get_by_label("Control").select_option(label="TS-AA-01 — Age estimation at sign-up")
    page.get_by_label("Relationship").select_option("intersects-with")
    page.get_by_label("Strength").fill("6")
    page.get_by_label("Rationale").select_option("functional")
    page.get_by_label("Coverage").select_option("partial")
    page.get_by_label("Note").fill("Age estimation is one of the measures for minors.")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.locator(".alert-success")).to_be_visible()

    # The control page lists the obligation it now serves.
    page.get_by_role("link", name="TS-AA-01").first.click()
    expect(page.get_by_role("heading", name="Age estimation at sign-up")).to_be_visible()
    expect(page.get_by_role("link", name="Protection of minors")).to_be_visible()
    expect(page.get_by_text("Age estimation is one of the measures for minors.")).to_be_visible()

    # Subscribe to daily EU alerts from the account menu, and see the subscription listed.
    page.locator(".navbar .dropdown-toggle").click()
    page.get_by_role("link", name="My alerts").click()
    expect(page.get_by_role("heading", name="My alerts")).to_be_visible()
    page.get_by_label("How often").select_option("daily")
    page.get_by_label("Jurisdictions").select_option(["EU"])
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator(".alert-success")).to_contain_text("Subscribed: My alerts, daily digest.")
    expect(page.get_by_role("cell", name="in EU")).to_be_visible()
