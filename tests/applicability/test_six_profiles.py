"""Six realistic services against the shipped catalogue, with answers taken from the laws' own
thresholds (issue #8): what applies, what does not, what needs judgement, and why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from compliance import create_app
from compliance.applicability import services
from compliance.applicability.evaluation import Evaluation, ObligationVerdict
from compliance.applicability.inputs import ProfileInput
from compliance.audit.services import Actor
from compliance.catalogue.loader import load_catalogue
from compliance.config import REPOSITORY_ROOT
from compliance.extensions import db
from tests.conftest import _backends, _config, _pg_url

SHIPPED = REPOSITORY_ROOT / "regulations"
OFFICER = Actor(None, "officer@example.org")

COPPA = (
    "Is the service directed to children under 13 (in whole or as a mixed-audience service), or "
    "does the operator have actual knowledge that it collects personal information from a child "
    "under 13?"
)
LOUISIANA = (
    "Does the commercial entity knowingly and intentionally publish or distribute material "
    "harmful to minors on a website where more than 33 1/3 percent of the material is harmful "
    "to minors?"
)
TEXAS = (
    "Does the commercial entity knowingly and intentionally publish or distribute material on a "
    "website of which more than one-third is sexual material harmful to minors?"
)
SREN = (
    "Does the service make pornographic content available in France, and is it established "
    "outside the EU or listed by ministerial order if established in another EU State?"
)
CATEGORY_1 = (
    "Has Ofcom designated the service as Category 1 in its register of categorised services "
    "(s. 95)?"
)

PROFILES = {
    # Well above the DSA's 45 million (Art. 33(1)): a very large online platform.
    "social": ProfileInput(
        name="Chatter",
        kinds=("social-media",),
        jurisdictions=("EU",),
        monthly_users={"EU": 52_000_000},
        child_access="likely",
        minimum_age=13,
        features=(
            "recommender",
            "targeted-advertising",
            "user-generated-content",
            "direct-messages",
            "live-streaming",
            "personal-data",
        ),
        company_size="large",
    ),
    # Fewer than 10 staff and EUR 2m turnover: DSA Art. 19 and 29 lift most platform duties.
    "marketplace": ProfileInput(
        name="Crafty",
        kinds=("marketplace",),
        jurisdictions=("FR", "DE"),
        monthly_users={"FR": 12_000, "DE": 8_000},
        child_access="unlikely",
        minimum_age=18,
        features=("payments", "user-generated-content", "personal-data"),
        company_size="micro",
    ),
    # Far below Ofcom's 7 million UK users for the large-service measures.
    "forum": ProfileInput(
        name="Parish Pump forum",
        kinds=("user-to-user",),
        jurisdictions=("GB",),
        monthly_users={"GB": 40_000},
        child_access="likely",
        minimum_age=13,
        features=("user-generated-content", "direct-messages", "personal-data"),
        company_size="small",
    ),
    # Aimed at under-13s: COPPA (16 CFR 312) binds; the officer answers its question yes.
    "game": ProfileInput(
        name="Puzzle Pals",
        kinds=("gaming", "user-to-user"),
        jurisdictions=("US",),
        monthly_users={"US": 2_000_000},
        child_access="directed",
        minimum_age=6,
        features=("direct-messages", "personal-data", "payments", "advertising"),
        company_size="medium",
        answers={COPPA: True},
    ),
    # Pornography publisher: well over a third of its material is harmful to minors.
    "adult": ProfileInput(
        name="Velvet",
        kinds=("adult-content",),
        jurisdictions=("US-LA", "US-TX", "GB", "FR"),
        monthly_users={"US-LA": 300_000, "US-TX": 1_500_000, "GB": 4_000_000, "FR": 3_000_000},
        child_access="likely",
        minimum_age=18,
        features=("personal-data", "payments", "advertising"),
        company_size="medium",
        answers={LOUISIANA: True, TEXAS: True, SREN: True},
    ),
    # Private messaging: outside the social media minimum age (the Rules exclude messaging).
    "messaging": ProfileInput(
        name="Yarn",
        kinds=("messaging",),
        jurisdictions=("AU",),
        monthly_users={"AU": 3_000_000},
        child_access="likely",
        minimum_age=13,
        features=("e2ee", "direct-messages", "personal-data"),
        company_size="medium",
    ),
}


@pytest.fixture(scope="module", params=_backends())
def shipped(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[dict[str, int]]:
    """The shipped catalogue loaded once per backend, with the six profiles: name -> id."""
    tmp_path: Path = tmp_path_factory.mktemp("shipped")
    if request.param == "postgresql":
        request.getfixturevalue("pg_schema_ready")
        url = _pg_url()
    else:
        url = f"sqlite:///{tmp_path / 'shipped.db'}"
    app: Flask = create_app(_config(url, tmp_path))
    with app.app_context():
        if request.param == "postgresql":
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            db.create_all()
        load_catalogue(SHIPPED)
        ids = {key: services.create_profile(d, actor=OFFICER).id for key, d in PROFILES.items()}
    with app.app_context():
        yield ids
        db.session.remove()
        db.engine.dispose()


def evaluation(shipped: dict[str, int], key: str) -> Evaluation:
    return services.evaluate_profile(shipped[key])


def verdicts(shipped: dict[str, int], key: str) -> dict[str, ObligationVerdict]:
    return {item.path: item for item in evaluation(shipped, key).items}


def outcomes(found: dict[str, ObligationVerdict], *paths: str) -> dict[str, str]:
    return {path: found[path].outcome for path in paths}


def test_very_large_eu_social_network(shipped) -> None:
    found = verdicts(shipped, "social")

    vlop = ("eu-dsa/art-34", "eu-dsa/art-35", "eu-dsa/art-37", "eu-dsa/art-38", "eu-dsa/art-40")
    assert set(outcomes(found, *vlop).values()) == {"applies"}
    assert found["eu-dsa/art-34"].verdict.explanation == (
        "applies: online platform (as a social network) offered in the EU with 52,000,000 EU "
        "users ≥ 45,000,000 (DSA Art. 34)"
    )
    assert "shows advertising" in found["eu-dsa/art-39"].verdict.explanation
    # Platform duties bind a large company; minors' protection because children are likely.
    platform = ("eu-dsa/art-16", "eu-dsa/art-20", "eu-dsa/art-27", "eu-dsa/art-28-1")
    assert set(outcomes(found, *platform).values()) == {"applies"}
    assert "children are likely to use it" in found["eu-dsa/art-28-1"].verdict.explanation
    # Crisis response turns on a Commission decision: a question, not a number.
    assert found["eu-dsa/art-36"].outcome == "needs-judgement"
    assert "crisis response decision" in found["eu-dsa/art-36"].verdict.questions[0]
    assert outcomes(found, "eu-dsa/art-30", "eu-dsa/art-14-3", "gb-osa/s-9") == {
        "eu-dsa/art-30": "does-not-apply",  # not a marketplace
        "eu-dsa/art-14-3": "does-not-apply",  # not aimed at children
        "gb-osa/s-9": "does-not-apply",  # not offered in the UK
    }
    assert found["gb-osa/s-9"].verdict.reasons == ["not offered in the UK (offered in the EU)"]
    assert found["eu-csa-regulation-proposal/art-3"].verdict.reasons == [
        "the instrument is only proposed, not law"
    ]


def test_micro_enterprise_eu_marketplace(shipped) -> None:
    found = verdicts(shipped, "marketplace")

    # DSA Art. 19(1) and 29(1): micro and small enterprises are spared Arts. 20-28 and 30-32 ...
    exempt = (
        "eu-dsa/art-20",
        "eu-dsa/art-21",
        "eu-dsa/art-22",
        "eu-dsa/art-23",
        "eu-dsa/art-24-1",
        "eu-dsa/art-25",
        "eu-dsa/art-26-2",
        "eu-dsa/art-30",
        "eu-dsa/art-31",
        "eu-dsa/art-32",
        "eu-dsa/art-15",
    )
    assert set(outcomes(found, *exempt).values()) == {"does-not-apply"}
    assert found["eu-dsa/art-20"].verdict.explanation == (
        "does not apply: exempt as a micro enterprise (micro and small enterprises are exempt) "
        "(DSA Art. 20)"
    )
    # ... except what the law keeps: Art. 24(3) user numbers, and the hosting duties.
    kept = ("eu-dsa/art-24-3", "eu-dsa/art-16", "eu-dsa/art-17", "eu-dsa/art-11")
    assert set(outcomes(found, *kept).values()) == {"applies"}
    assert found["eu-dsa/art-24-3"].verdict.explanation == (
        "applies: online platform (as a marketplace) offered in Germany, part of the EU "
        "(DSA Art. 24(3))"
    )
    # The member-state counts add up to the EU figure the VLOP threshold reads.
    assert found["eu-dsa/art-34"].verdict.reasons == [
        "20,000 EU users (DE + FR), fewer than 45,000,000"
    ]


def test_small_uk_forum(shipped) -> None:
    found = verdicts(shipped, "forum")

    illegal_content = ("gb-osa/s-9", "gb-osa/s-10", "gb-osa/s-20", "gb-osa/s-21", "gb-osa/s-23")
    assert set(outcomes(found, *illegal_content).values()) == {"applies"}
    assert found["gb-osa/s-9"].verdict.explanation == (
        "applies: user-to-user service offered in the UK (OSA s. 9; s. 26)"
    )
    # Children are likely to access it, so the children's safety duties bind too.
    assert set(outcomes(found, "gb-osa/s-11", "gb-osa/s-12-ppc").values()) == {"applies"}
    # Category 1 is a designation in Ofcom's register: a question for judgement.
    category_1 = ("gb-osa/s-15", "gb-osa/s-17-19", "gb-osa/s-64", "gb-osa/s-71-72")
    assert set(outcomes(found, *category_1).values()) == {"needs-judgement"}
    assert found["gb-osa/s-15"].verdict.questions == [CATEGORY_1]
    # Ofcom's large-service measures start at 7 million UK users.
    assert found["gb-ofcom-illegal-harms-codes/user-controls"].verdict.reasons == [
        "40,000 UK users, fewer than 7,000,000"
    ]
    assert found["gb-osa/s-81"].outcome == "does-not-apply"
    assert found["eu-dsa/art-16"].outcome == "does-not-apply"


def test_us_childrens_game(shipped) -> None:
    found = verdicts(shipped, "game")

    coppa = ("us-coppa/usc-6502", "us-coppa/cfr-312-5-a-1", "us-coppa/cfr-312-8")
    assert set(outcomes(found, *coppa).values()) == {"applies"}
    assert f"answered yes to “{COPPA}”" in found["us-coppa/cfr-312-5-a-1"].verdict.explanation
    # Aimed at children and offered across the US: New York's child data law binds too.
    assert found["us-ny-child-data-protection-act/gbl-45a-under-13"].outcome == "applies"
    assert "offered across the US, including New York" in (
        found["us-ny-child-data-protection-act/gbl-45a-under-13"].verdict.explanation
    )
    assert found["us-take-it-down-act/s3-48-hour-removal"].outcome == "applies"
    assert found["us-kosa/sec-102-duty-of-care"].outcome == "does-not-apply"  # a bill
    assert found["us-tx-hb-1181/cprc-129b-002-a"].outcome == "does-not-apply"


def test_without_its_answer_coppa_needs_judgement(shipped) -> None:
    facts = services.get_profile(shipped["game"]).facts()
    unanswered = services.evaluate_facts(replace(facts, answers={}))
    found = {item.path: item for item in unanswered.items}

    assert found["us-coppa/cfr-312-5-a-1"].outcome == "needs-judgement"
    assert found["us-coppa/cfr-312-5-a-1"].verdict.questions == [COPPA]


def test_adult_site_in_louisiana_texas_uk_and_france(shipped) -> None:
    found = verdicts(shipped, "adult")

    age_verification = (
        "us-la-act-440/rs-9-2800-29-b",
        "us-tx-hb-1181/cprc-129b-002-a",
        "gb-osa/s-81",
        "fr-sren/art-1-age-verification",
        "fr-arcom-age-verification-referentiel/reliability",
    )
    assert set(outcomes(found, *age_verification).values()) == {"applies"}
    assert found["gb-osa/s-81"].verdict.explanation == (
        "applies: adult-content service offered in the UK (OSA s. 81(2)-(3))"
    )
    assert "adult-content service offered in Louisiana" in (
        found["us-la-act-440/rs-9-2800-29-b"].verdict.explanation
    )
    # Not a user-to-user service: the OSA's Part 3 duties do not reach a publisher.
    assert found["gb-osa/s-9"].outcome == "does-not-apply"
    assert found["us-ut-minor-protection-social-media/sb194-age-assurance"].outcome == (
        "does-not-apply"
    )


def test_australian_messaging_app(shipped) -> None:
    found = verdicts(shipped, "messaging")

    assert outcomes(
        found,
        "au-bose-determination/s-6-safe-use",
        "au-bose-determination/s-8-encrypted",
        "au-bose-determination/recommender-systems",
        "au-online-safety-act-2021/part-9-codes-standards",
        "au-online-safety-act-2021/s-65-cyberbullying",
        "au-online-safety-industry-codes/p1-terms-and-design",
        "au-online-safety-industry-codes/p2-search-engines",
        "au-social-media-minimum-age/s-63d-reasonable-steps",
    ) == {
        "au-bose-determination/s-6-safe-use": "applies",
        "au-bose-determination/s-8-encrypted": "applies",
        "au-bose-determination/recommender-systems": "does-not-apply",
        "au-online-safety-act-2021/part-9-codes-standards": "applies",
        "au-online-safety-act-2021/s-65-cyberbullying": "needs-judgement",
        "au-online-safety-industry-codes/p1-terms-and-design": "applies",
        "au-online-safety-industry-codes/p2-search-engines": "does-not-apply",
        "au-social-media-minimum-age/s-63d-reasonable-steps": "does-not-apply",
    }
    assert found["au-bose-determination/s-8-encrypted"].verdict.explanation == (
        "applies: messaging service offered in Australia, uses end-to-end encryption (BOSE s. 8)"
    )
    assert found["au-social-media-minimum-age/s-63d-reasonable-steps"].verdict.reasons == [
        "not a social network (it is a messaging service)"
    ]


@pytest.mark.parametrize("key", list(PROFILES))
def test_every_live_obligation_gets_one_outcome_and_an_explanation(shipped, key) -> None:
    result = evaluation(shipped, key)
    tally = result.tally()

    assert tally.total == len(result.items) >= 600
    assert tally.applies and tally.does_not_apply
    for item in result.items:
        explanation = item.verdict.explanation
        assert explanation.endswith(")") and item.ref in explanation, explanation
        assert item.verdict.reasons, item.path
