"""Issue #8 in alerts and reviews: a subscription or a review's impact limited to what applies
to a service profile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from compliance.alerts import services
from compliance.alerts.models import AlertMessage
from compliance.applicability import services as applicability
from compliance.applicability.inputs import ProfileInput
from compliance.audit.services import Actor
from compliance.auth.models import User
from compliance.extensions import db
from tests.reviews.conftest import entry_maker, review_of

RELEVANT = "Commission opens proceedings under Art. 16 DSA"
OFFICER = Actor(None, "officer@example.org")


@pytest.fixture
def ingest(app: Flask, loaded_catalogue: None) -> Callable[..., int]:
    return entry_maker(app)


def _profile(app: Flask, name: str, jurisdictions: tuple[str, ...]) -> int:
    with app.app_context():
        profile = applicability.create_profile(
            ProfileInput(
                name=name,
                kinds=("hosting",),
                jurisdictions=jurisdictions,
                child_access="unlikely",
                minimum_age=18,
            ),
            actor=OFFICER,
        )
        return profile.id


def _subscribe(app: Flask, user: User, profile_id: int) -> None:
    with app.app_context():
        found = db.session.get(User, user.id)
        assert found is not None
        services.subscribe(
            found,
            services.SubscriptionInput(profile_id=profile_id),
            actor=Actor(found.id, found.email),
        )


def test_a_profile_scoped_subscription_hears_only_of_what_binds_the_service(
    app: Flask, ingest: Callable[..., int], make_user: Any
) -> None:
    eu_host = _profile(app, "EU file host", ("EU",))
    uk_forum = _profile(app, "UK forum", ("GB",))
    _subscribe(app, make_user("manager", email="eu@example.org"), eu_host)
    _subscribe(app, make_user("manager", email="uk@example.org"), uk_forum)

    ingest(RELEVANT, guid="a")  # the DSA's notice-and-action duty: binds EU hosts only

    with app.app_context():
        assert db.session.scalars(select(AlertMessage.address)).all() == ["eu@example.org"]


def test_the_review_impact_can_be_limited_to_a_profile(
    app: Flask, client: Any, login: Any, ingest: Callable[..., int]
) -> None:
    eu_host = _profile(app, "EU file host", ("EU",))
    uk_forum = _profile(app, "UK forum", ("GB",))
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    login("officer")

    everything = client.get(f"/reviews/{review_id}").get_data(as_text=True)
    eu = client.get(f"/reviews/{review_id}?profile={eu_host}").get_data(as_text=True)
    uk = client.get(f"/reviews/{review_id}?profile={uk_forum}").get_data(as_text=True)
    gone = client.get(f"/reviews/{review_id}?profile=9999")

    assert "Art. 16" in everything and "What applies to EU file host" in everything
    assert "Art. 16" in eu and "Only obligations that apply to <strong>EU file host" in eu
    assert "obligations apply to UK forum" in uk and "Art. 16</span>" not in uk
    assert gone.status_code == 200
    assert "no longer exists" in gone.get_data(as_text=True)
