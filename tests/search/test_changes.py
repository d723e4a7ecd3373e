"""Feed entries and change reviews in search: indexed, kept in step, and only for those who may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from compliance import signals
from compliance.audit.services import Actor
from compliance.extensions import db
from compliance.feeds.models import FeedEntry
from compliance.reviews import services as reviews
from compliance.reviews.models import ChangeReview
from compliance.reviews.services import ReviewChanges
from compliance.search import services
from compliance.search.services import SearchRequest
from tests.api.conftest import assert_matches, bearer, token_for  # noqa: F401
from tests.reviews.conftest import entry_maker, review_of

ACTOR = Actor.system("test")
RELEVANT = "Commission opens proceedings under Art. 16 DSA"  # matched to test-dsa: a review
PLAIN = "Regulator office closed for the holidays"  # matched to nothing: no review


@pytest.fixture
def changes(app, loaded_catalogue):
    """A relevant entry with its review, and an unmatched entry: (entry, review, plain) ids."""
    make = entry_maker(app)
    relevant = make(RELEVANT, "The Commission looks at the notice and action channel.", guid="a")
    plain = make(PLAIN, "Back on Monday with the quarterly zebrafish newsletter.", guid="b")
    review = review_of(app, relevant)
    assert review is not None
    return relevant, review, plain


def find(text="", hidden=(), **filters):
    request = SearchRequest(text=text, filters={k: tuple(v) for k, v in filters.items()})
    return services.search(request, team=None, hidden=hidden)


def kinds(results):
    return {value.value: value.count for value in results.facets["kind"]}


def test_polled_entries_and_their_reviews_are_searchable(app, changes):
    entry_id, review_id, plain_id = changes
    with app.app_context():
        found = find("proceedings")

        assert {hit.doc_id for hit in found.hits} == {
            f"feed-entry:{entry_id}",
            f"review:{review_id}",
        }
        assert "<mark>proceedings</mark>" in found.hits[0].title_html
        assert [hit.doc_id for hit in find("zebrafish").hits] == [f"feed-entry:{plain_id}"]
        assert kinds(find()) == {
            "regulation": 2,
            "obligation": 4,
            "control": 3,
            "feed-entry": 2,
            "review": 1,
        }
        assert services.check_index().in_step


def test_places_and_topics_come_from_the_matched_instruments(app, changes):
    entry_id, review_id, plain_id = changes
    with app.app_context():
        eu = find(kind=["feed-entry", "review"], jurisdiction=["EU"])
        topic = find(kind=["review"], topic=["notice-and-action"])
        by_name = find("Test DSA", kind=["review"])

        # The unmatched entry has no place: its feed names none and it concerns no instrument.
        assert {hit.doc_id for hit in eu.hits} == {f"feed-entry:{entry_id}", f"review:{review_id}"}
        assert [hit.doc_id for hit in topic.hits] == [f"review:{review_id}"]
        assert [hit.doc_id for hit in by_name.hits] == [f"review:{review_id}"]
        review_hit = by_name.hits[0]
        assert review_hit.stored["state"] == "new"
        assert review_hit.context == "Test DSA"
        assert review_hit.link() == ("reviews.detail", {"review_id": review_id})
        assert review_hit.link(api=True) == ("api.review", {"review_id": review_id})
        entry_hit = find("zebrafish").hits[0]
        assert entry_hit.link() == ("feeds.entry", {"entry_id": plain_id})
        assert entry_hit.context == "Test regulator"


def test_a_review_update_is_searchable_at_once(app, changes):
    _, review_id, _ = changes
    sent = []
    signals.review_changed.connect(receiver := lambda sender, **kw: sent.append(sender.id))
    try:
        with app.app_context():
            reviews.update_review(
                review_id,
                ReviewChanges(state="triaged", note="Looked at it"),
                actor=ACTOR,
            )
            reviews.update_review(
                review_id,
                ReviewChanges(state="assessing"),
                actor=ACTOR,
            )
            reviews.update_review(
                review_id,
                ReviewChanges(state="no-action", decision_note="Our heliograph channel is out"),
                actor=ACTOR,
            )

            assert sent == [review_id] * 3
            found = find("heliograph")
            assert [hit.doc_id for hit in found.hits] == [f"review:{review_id}"]
            assert found.hits[0].stored["state"] == "no-action"
            assert find(status=["no-action"]).total == 1
            assert find(status=["new"]).total == 0
            assert services.check_index().in_step
    finally:
        signals.review_changed.disconnect(receiver)


def test_a_revised_entry_updates_its_review_too(app, changes):
    entry_id, review_id, _ = changes
    make = entry_maker(app)
    make(RELEVANT, "Now the Commission also cites the kumquat clause.", guid="a")

    with app.app_context():
        found = find("kumquat")
        assert {hit.doc_id for hit in found.hits} == {
            f"feed-entry:{entry_id}",
            f"review:{review_id}",
        }
        assert find("notice and action channel", kind=["feed-entry"]).total == 0
        assert services.check_index().in_step


def test_a_promoted_entry_becomes_a_searchable_review(app, changes):
    _, _, plain_id = changes
    with app.app_context():
        promoted = reviews.promote_entry(plain_id, actor=ACTOR)

        found = find("zebrafish")
        assert {hit.doc_id for hit in found.hits} == {
            f"feed-entry:{plain_id}",
            f"review:{promoted.id}",
        }


def test_check_and_rebuild_cover_entries_and_reviews(app, changes, runner):
    entry_id, review_id, _ = changes
    with app.app_context():
        gone = [f"feed-entry:{entry_id}", f"review:{review_id}"]
        services.search_index().apply([], gone, timeout=1)

    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 1
    assert f"2 missing: feed-entry:{entry_id}, review:{review_id}" in result.output
    assert runner.invoke(args=["search", "check", "--repair"]).exit_code == 0

    result = runner.invoke(args=["search", "rebuild"])
    assert "Indexed 12 documents." in result.output  # 9 catalogue documents, 2 entries, 1 review
    with app.app_context():
        assert services.check_index().in_step


def test_a_changed_instrument_restales_its_reviews_and_the_check_repairs_them(app, changes):
    _, review_id, _ = changes
    with app.app_context():
        review = db.session.get(ChangeReview, review_id)
        review.matches[0].regulation.short_title = "Renamed DSA"
        db.session.commit()

        report = services.check_index()
        assert f"review:{review_id}" in report.stale
        services.check_index(repair=True)
        assert [hit.doc_id for hit in find("Renamed", kind=["review"]).hits] == [
            f"review:{review_id}"
        ]


def test_roles_see_only_the_kinds_their_pages_allow():
    assert services.hidden_kinds("officer") == ()
    assert services.hidden_kinds("auditor") == ()
    assert services.hidden_kinds("admin") == ()
    assert services.hidden_kinds("manager") == ("feed-entry",)  # reviews yes, feeds no
    assert services.hidden_kinds("nobody") == ("review", "feed-entry")


def test_hidden_kinds_give_no_hit_no_count_and_no_suggestion(app, changes):
    with app.app_context():
        hidden = ("review", "feed-entry")
        everything = find(hidden=hidden)
        assert set(kinds(everything)) == {"regulation", "obligation", "control"}
        assert find("proceedings", hidden=hidden).total == 0
        assert find("zebrafish", hidden=hidden).total == 0
        # A misspelt word that only a hidden document holds is not corrected towards it.
        assert find("zebrafsh", hidden=hidden).suggestion is None
        assert find("zebrafsh").suggestion == "zebrafish"
        # Asking for the kind by name does not open it either, in a filter or in the query.
        assert find(hidden=hidden, kind=["review"]).total == 0
        assert find("kind:review", hidden=hidden).total == 0


def test_a_manager_finds_reviews_but_no_feed_entry_in_the_api(client, token_for, changes):  # noqa: F811
    entry_id, review_id, plain_id = changes
    manager = bearer(token_for("manager", team="Policy"))
    officer = bearer(token_for("officer", email="officer@example.org"))

    mine = client.get("/api/v1/search?q=proceedings", headers=manager).get_json()
    assert_matches("SearchResults", mine)
    assert [item["id"] for item in mine["items"]] == [f"review:{review_id}"]
    assert mine["items"][0]["url"] == f"/api/v1/reviews/{review_id}"
    assert "feed-entry" not in {facet["value"] for facet in mine["facets"]["kind"]}
    assert client.get("/api/v1/search?q=zebrafish", headers=manager).get_json()["total"] == 0

    theirs = client.get("/api/v1/search?q=zebrafish", headers=officer).get_json()
    assert_matches("SearchResults", theirs)
    assert [item["url"] for item in theirs["items"]] == [f"/feeds/entries/{plain_id}"]


def test_the_results_page_links_entries_and_reviews(client, login, app, changes):
    entry_id, review_id, _ = changes
    login("officer")

    html = client.get("/search/?q=proceedings").get_data(as_text=True)

    assert f'href="/feeds/entries/{entry_id}"' in html
    assert f'href="/reviews/{review_id}"' in html
    assert "Feed entries" in html and "Change reviews" in html  # the kind facet
    assert client.get(f"/reviews/{review_id}").status_code == 200
    assert client.get(f"/feeds/entries/{entry_id}").status_code == 200


def test_a_managers_results_page_has_no_feed_entries(client, login, app, changes):
    entry_id, review_id, _ = changes
    login("manager", team="Policy")

    html = client.get("/search/?q=proceedings").get_data(as_text=True)

    assert f'href="/reviews/{review_id}"' in html
    assert f'href="/feeds/entries/{entry_id}"' not in html
    assert "Feed entries" not in html


def test_the_cli_finds_reviews_by_kind(runner, changes):
    _, review_id, _ = changes
    result = runner.invoke(args=["search", "query", "--kind", "review", "proceedings"])

    assert result.exit_code == 0, result.output
    assert "[review]" in result.output and RELEVANT in result.output


def test_entries_stored_without_a_signal_are_found_by_the_check(app, changes):
    entry_id, review_id, _ = changes
    with app.app_context():
        entry = db.session.scalar(select(FeedEntry).filter_by(id=entry_id))
        entry.title = "Quietly edited title"
        db.session.commit()  # no signal: as if the index write had been lost

        # The review carries its entry's words, so it is stale too.
        assert services.check_index().stale == [f"feed-entry:{entry_id}", f"review:{review_id}"]
        assert services.check_index(repair=True).repaired
        assert find("quietly").total == 2


def test_one_fetch_is_indexed_in_one_write(app, loaded_catalogue, monkeypatch):
    """A fetch's entries and the reviews they open reach the index in a single write (each
    write is a commit and a new searcher), not one per row."""
    from datetime import UTC, datetime

    from compliance.feeds.parser import FeedItem
    from compliance.search.index import SearchIndex
    from tests.reviews.conftest import ingest_items

    writes = []
    original = SearchIndex.apply

    def counting(self, upserts, deletes, *, timeout):
        upserts = list(upserts)
        writes.append(sorted(document.kind for document in upserts))
        return original(self, upserts, deletes, timeout=timeout)

    monkeypatch.setattr(SearchIndex, "apply", counting)
    when = datetime(2026, 11, 3, tzinfo=UTC)
    items = [
        FeedItem("g1", "https://regulator.example/1", RELEVANT, "Notice and action.", when),
        FeedItem("g2", "https://regulator.example/2", PLAIN, "Back on Monday.", when),
        FeedItem("g3", "https://regulator.example/3", "Art. 15 DSA reports due", "", when),
    ]

    ingest_items(app, items)

    assert len(writes) == 1
    assert writes[0].count("feed-entry") == 3 and writes[0].count("review") >= 1
    with app.app_context():
        assert len(find("notice").hits) >= 1
