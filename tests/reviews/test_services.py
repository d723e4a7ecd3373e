"""The review workflow: opening, transitions, decisions, assignment, due dates, history, audit."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select

from compliance import signals
from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor
from compliance.auth.models import User
from compliance.errors import Invalid
from compliance.extensions import db
from compliance.reviews import services
from compliance.reviews.models import ChangeReview
from compliance.reviews.services import ReviewChanges
from tests.reviews.conftest import review_of

RELEVANT = "Commission opens proceedings under Art. 16 DSA"


def _actor(user: User) -> Actor:
    return Actor(user.id, user.email)


def test_a_relevant_entry_opens_a_review_and_an_irrelevant_one_does_not(app: Flask, ingest):
    opened = []
    signals.review_opened.connect(receiver := lambda sender, **_: opened.append(sender.id))
    try:
        relevant = ingest(RELEVANT, "Notice and action under the DSA.", guid="a")
        plain = ingest("Office closed", "Back on Monday.", guid="b")
    finally:
        signals.review_opened.disconnect(receiver)

    review_id = review_of(app, relevant)
    assert review_id is not None and opened == [review_id]
    assert review_of(app, plain) is None
    with app.app_context():
        review = db.session.get(ChangeReview, review_id)
        assert review.state == "new"
        assert review.due_on is not None
        match = review.matches[0]
        assert match.regulation.slug == "test-dsa"
        assert "cites Art. 16 DSA" in match.reasons
        assert len(match.obligation_ids) == 1


def test_the_impact_panel_lists_obligations_controls_and_owner_teams(app: Flask, ingest):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))

    with app.app_context():
        impacts = services.impact(services.get_review(review_id))
        dsa = impacts[0]
        cited = [o for o in dsa.obligations if o.cited]
        assert [o.ref for o in cited] == ["Art. 16"]
        assert [(c.code, c.owner_team) for c in cited[0].controls] == [
            ("TS-NA-01", "Trust & Safety Operations")
        ]
        assert dsa.teams == ["Trust & Safety Operations"]
        assert services.affected_teams(impacts) == ["Trust & Safety Operations"]


def test_the_workflow_moves_step_by_step_and_every_step_is_audited(app: Flask, ingest, make_user):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    officer = make_user("officer")
    actor = _actor(officer)
    action_required = []
    signals.review_action_required.connect(
        receiver := lambda sender, **_: action_required.append(sender.id)
    )
    try:
        with app.app_context():
            for state in ("triaged", "assessing"):
                services.update_review(review_id, ReviewChanges(state=state), actor=actor)
            services.update_review(
                review_id,
                ReviewChanges(
                    state="action-required",
                    decision_note="Update the reporting form before the deadline.",
                    assignee_id=officer.id,
                    due_on=date(2026, 12, 31),
                ),
                actor=actor,
            )
            services.update_review(review_id, ReviewChanges(state="closed"), actor=actor)
            review = services.get_review(review_id)
            assert review.state == "closed" and review.closed_at is not None
            assert review.assignee_id == officer.id and review.due_on == date(2026, 12, 31)
            kinds = [(e.kind, e.from_state, e.to_state) for e in review.events]
            assert kinds == [
                ("opened", "", "new"),
                ("moved", "new", "triaged"),
                ("moved", "triaged", "assessing"),
                ("assigned", "", ""),
                ("due", "", ""),
                ("note", "", ""),
                ("moved", "assessing", "action-required"),
                ("moved", "action-required", "closed"),
            ]
            actions = list(
                db.session.scalars(
                    select(AuditEvent.action)
                    .where(AuditEvent.entity_type == "review")
                    .order_by(AuditEvent.id)
                )
            )
            assert actions == [
                "review.opened",
                "review.moved",
                "review.moved",
                "review.assigned",
                "review.due",
                "review.decided",
                "review.moved",
                "review.moved",
            ]
    finally:
        signals.review_action_required.disconnect(receiver)
    assert action_required == [review_id]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (ReviewChanges(state="closed"), "a review that is new can move to: triaged, no action"),
        (ReviewChanges(state="no-action"), "write a decision note before marking it no action"),
        (ReviewChanges(state="maybe"), "state must be one of"),
        (
            ReviewChanges(due_on=date(2000, 1, 1)),
            "the due date cannot be before the review was opened",
        ),
        (ReviewChanges(), "Nothing to change"),
    ],
)
def test_bad_changes_are_refused_whole(app: Flask, ingest, changes, message):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))

    with app.app_context(), pytest.raises(Invalid, match=message):
        services.update_review(review_id, changes, actor=Actor.system("test"))
    with app.app_context():
        assert services.get_review(review_id).state == "new"
        assert len(services.get_review(review_id).events) == 1


def test_only_officers_and_admins_can_be_assigned(app: Flask, ingest, make_user):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    manager = make_user("manager")

    with app.app_context(), pytest.raises(Invalid, match="cannot act on reviews"):
        services.update_review(
            review_id, ReviewChanges(assignee_id=manager.id), actor=Actor.system("test")
        )


def test_an_unmatched_entry_can_be_promoted_once(app: Flask, ingest, make_user):
    entry_id = ingest("A consultation we should read", "Nothing named.", guid="c")
    officer = make_user("officer")

    with app.app_context():
        review = services.promote_entry(entry_id, actor=_actor(officer))
        assert review.promoted and review.state == "new"
        with pytest.raises(Invalid, match="already has a review"):
            services.promote_entry(entry_id, actor=_actor(officer))


def test_queue_filters_and_counts(app: Flask, ingest, make_user):
    first = review_of(app, ingest(RELEVANT, guid="a"))
    review_of(app, ingest("Ofcom guidance on 2023 c. 50", guid="b"))
    officer = make_user("officer")
    with app.app_context():
        services.update_review(
            first, ReviewChanges(state="triaged", assignee_id=officer.id), actor=_actor(officer)
        )

        def ids(**args):
            filters = services.ReviewFilter.from_args(args)
            return [
                r.id
                for r in db.session.scalars(services.reviews_query(filters, user_id=officer.id))
            ]

        assert len(ids()) == 2
        assert ids(state="triaged") == [first]
        assert ids(assignee="me") == [first]
        assert len(ids(assignee="none")) == 1
        assert ids(regulation="test-dsa") == [first]
        counts = services.state_counts()
        assert (counts["new"], counts["triaged"], counts["open"], counts["all"]) == (1, 1, 2, 2)
        with pytest.raises(Invalid, match="state must be one of"):
            services.ReviewFilter.from_args({"state": "bogus"})
