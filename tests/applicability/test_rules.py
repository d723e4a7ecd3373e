"""The pure rules: each condition against profile facts, and the explanation in plain words."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from compliance.applicability.rules import (
    Instrument,
    ProfileFacts,
    Rule,
    Territory,
    citation_label,
    enjoined_question,
    evaluate,
)

TODAY = date(2026, 12, 2)
WORLD = Territory(
    parents={
        "INT": None,
        "EU": None,
        "FR": "EU",
        "DE": "EU",
        "GB": None,
        "US": None,
        "US-TX": "US",
        "US-CA": "US",
        "AU": None,
    },
    names={
        "INT": "International",
        "EU": "European Union",
        "FR": "France",
        "DE": "Germany",
        "GB": "United Kingdom",
        "US": "United States",
        "US-TX": "Texas",
        "US-CA": "California",
        "AU": "Australia",
    },
)
SOCIAL = ProfileFacts(
    kinds=frozenset({"social-media"}),
    jurisdictions=frozenset({"EU"}),
    users={"EU": 52_000_000},
    child_access="likely",
    minimum_age=13,
    features=frozenset({"recommender", "targeted-advertising"}),
    company_size="large",
)
DSA = Instrument("eu-dsa", "DSA", "EU", "in-force", {"service": ["intermediary"]})
VLOP = Rule(
    "Art. 34", {"service": ["online-platform", "search"], "users": {"EU": {"at_least": 45_000_000}}}
)


def verdict(facts: ProfileFacts, rule: Rule = VLOP, instrument: Instrument = DSA):
    return evaluate(facts, instrument, rule, WORLD, today=TODAY)


def test_the_issue_example_reads_as_written() -> None:
    found = verdict(SOCIAL)

    assert found.outcome == "applies"
    assert found.explanation == (
        "applies: online platform (as a social network) offered in the EU with "
        "52,000,000 EU users ≥ 45,000,000 (DSA Art. 34)"
    )


@pytest.mark.parametrize(
    ("users", "outcome", "phrase"),
    [
        ({"EU": 45_000_000}, "applies", "45,000,000 EU users ≥ 45,000,000"),
        ({"EU": 44_999_999}, "does-not-apply", "44,999,999 EU users, fewer than 45,000,000"),
        ({}, "needs-judgement", "EU monthly users not stated"),
    ],
)
def test_user_thresholds_at_the_boundary_and_when_unknown(users, outcome, phrase) -> None:
    found = verdict(replace(SOCIAL, users=users))

    assert found.outcome == outcome
    assert phrase in found.explanation


def test_member_state_counts_add_up_to_the_eu() -> None:
    facts = replace(
        SOCIAL, jurisdictions=frozenset({"FR", "DE"}), users={"FR": 30_000_000, "DE": 22_000_000}
    )

    found = verdict(facts)

    assert found.outcome == "applies"
    assert "52,000,000 EU users (DE + FR) ≥ 45,000,000" in found.explanation
    assert "offered in Germany, part of the EU" in found.explanation


def test_partial_counts_are_a_lower_bound() -> None:
    # Offered in all of the EU, counted only in France: 50m there already settles it; 3m does not.
    big = replace(SOCIAL, users={"FR": 50_000_000})
    small = replace(SOCIAL, users={"FR": 3_000_000})

    assert verdict(big).outcome == "applies"
    assert "at least 50,000,000 EU users (FR)" in verdict(big).explanation
    assert verdict(small).outcome == "needs-judgement"
    assert "at least 3,000,000 from FR" in verdict(small).explanation


def test_a_count_for_a_wider_area_is_an_upper_bound() -> None:
    rule = Rule("s. 1", {"users": {"US-TX": {"at_least": 1_000_000}}})
    facts = replace(SOCIAL, jurisdictions=frozenset({"US"}), users={"US": 500_000})
    texas = Instrument("us-tx-x", "TX Act", "US-TX", "in-force", {})

    found = evaluate(facts, texas, rule, WORLD, today=TODAY)

    assert found.outcome == "does-not-apply"
    assert "at most 500,000 US-TX users (all of US), fewer than 1,000,000" in found.explanation


def test_below_thresholds() -> None:
    rule = Rule("s. 2", {"users": {"EU": {"below": 45_000_000}}})

    assert verdict(replace(SOCIAL, users={"EU": 1_000}), rule).outcome == "applies"
    assert verdict(SOCIAL, rule).outcome == "does-not-apply"


def test_an_instrument_binds_only_where_the_service_is_offered() -> None:
    uk = replace(SOCIAL, jurisdictions=frozenset({"GB"}), users={"GB": 10})

    found = verdict(uk)

    assert found.outcome == "does-not-apply"
    assert found.reasons == ["not offered in the EU (offered in the UK)"]


def test_a_state_is_in_its_country_and_a_country_covers_its_states() -> None:
    federal = Instrument("us-x", "US Act", "US", "in-force", {})
    texan = Instrument("us-tx-x", "TX Act", "US-TX", "in-force", {})
    rule = Rule("s. 1", {})
    in_texas = replace(SOCIAL, jurisdictions=frozenset({"US-TX"}), users={})
    in_us = replace(SOCIAL, jurisdictions=frozenset({"US"}), users={})
    in_california = replace(SOCIAL, jurisdictions=frozenset({"US-CA"}), users={})

    assert (
        "offered in Texas, part of the US"
        in evaluate(in_texas, federal, rule, WORLD, today=TODAY).explanation
    )
    assert (
        "offered across the US, including Texas"
        in evaluate(in_us, texan, rule, WORLD, today=TODAY).explanation
    )
    assert evaluate(in_california, texan, rule, WORLD, today=TODAY).outcome == "does-not-apply"


def test_international_instruments_apply_wherever_offered() -> None:
    treaty = Instrument("int-x", "Convention", "INT", "in-force", {})

    found = evaluate(SOCIAL, treaty, Rule("Art. 1", {}), WORLD, today=TODAY)

    assert found.outcome == "applies"
    assert "international instrument" in found.explanation


def test_kinds_imply_the_broader_kinds_they_belong_to() -> None:
    marketplace = replace(SOCIAL, kinds=frozenset({"marketplace"}))
    hosting = Rule("Art. 16", {"service": ["hosting"]})

    found = verdict(marketplace, hosting)

    assert found.outcome == "applies"
    assert "hosting service (as a marketplace)" in found.explanation
    assert set(marketplace.all_kinds()) >= {
        "marketplace",
        "online-platform",
        "hosting",
        "intermediary",
        "online-service",
    }


def test_a_kind_that_does_not_fit_is_named_with_the_service_own_kinds() -> None:
    messaging = replace(SOCIAL, kinds=frozenset({"messaging"}))

    found = verdict(messaging, Rule("Art. 16", {"service": ["hosting"]}))

    assert found.outcome == "does-not-apply"
    # The instrument's "intermediary" fails first; the obligation's own kind is then moot.
    assert found.reasons == ["not an intermediary service (it is a messaging service)"]


@pytest.mark.parametrize(
    ("have", "wanted", "outcome"),
    [
        ("likely", "likely", "applies"),
        ("known", "likely", "applies"),
        ("directed", "known", "applies"),
        ("likely", "known", "does-not-apply"),
        ("known", "directed", "does-not-apply"),
        ("unlikely", ["directed", "likely"], "does-not-apply"),
        ("likely", ["directed", "known"], "does-not-apply"),
        ("known", ["directed", "known"], "applies"),
    ],
)
def test_children_levels_nest(have, wanted, outcome) -> None:
    rule = Rule("Art. 28", {"service": ["online-platform"], "children": wanted})

    assert verdict(replace(SOCIAL, child_access=have), rule).outcome == outcome


def test_children_explanations_name_the_fact_and_the_condition() -> None:
    rule = Rule("Art. 28", {"children": "likely"})
    adult = replace(SOCIAL, child_access="unlikely", minimum_age=18)

    found = verdict(adult, rule)

    assert found.reasons == [
        "children are unlikely to use it (minimum age 18); it covers only services children "
        "are likely to use"
    ]


def test_features_any_of_and_implied_advertising() -> None:
    ads = Rule("Art. 39", {"features": ["advertising"]})
    streaming = Rule("x", {"features": ["live-streaming", "e2ee"]})

    assert "shows advertising" in verdict(SOCIAL, ads).explanation  # from targeted advertising
    assert verdict(SOCIAL, streaming).reasons == [
        "offers no live streaming and uses no end-to-end encryption"
    ]


@pytest.mark.parametrize(
    ("size", "outcome", "phrase"),
    [
        ("micro", "does-not-apply", "exempt as a micro enterprise (micro and small enterprises"),
        ("small", "does-not-apply", "exempt as a small enterprise"),
        ("medium", "applies", "a medium-sized enterprise, not exempt"),
        (None, "needs-judgement", "company size not stated"),
    ],
)
def test_company_size_exemptions(size, outcome, phrase) -> None:
    exempt = {"service": ["online-platform"], "company_size_exempt": ["micro", "small"]}
    rule = Rule("Art. 20", exempt)

    found = verdict(replace(SOCIAL, company_size=size), rule)

    assert found.outcome == outcome
    assert phrase in found.explanation


def test_judgement_questions_and_their_answers() -> None:
    question = "Has Ofcom designated the service as Category 1?"
    rule = Rule("s. 15", {"judgement": question})

    open_ = verdict(SOCIAL, rule)
    yes = verdict(replace(SOCIAL, answers={question: True}), rule)
    no = verdict(replace(SOCIAL, answers={question: False}), rule)

    assert open_.outcome == "needs-judgement"
    assert open_.questions == [question]
    assert open_.explanation.startswith(f"needs judgement: {question} — ")
    assert yes.outcome == "applies"
    assert f"answered yes to “{question}”" in yes.explanation
    assert no.outcome == "does-not-apply"
    assert no.questions == []


def test_instrument_and_obligation_conditions_combine_with_and() -> None:
    gated = Instrument("x", "X", "EU", "in-force", {"features": ["e2ee"]})

    found = verdict(SOCIAL, VLOP, gated)

    assert found.outcome == "does-not-apply"
    assert found.reasons == ["uses no end-to-end encryption"]


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        ("proposed", "only proposed, not law"),
        ("lapsed", "lapsed"),
        ("repealed", "repealed"),
        ("expired", "expired"),
    ],
)
def test_instruments_that_are_not_law_bind_nobody(status, phrase) -> None:
    found = verdict(SOCIAL, instrument=replace(DSA, status=status))

    assert found.outcome == "does-not-apply"
    assert phrase in found.explanation


def test_an_enjoined_instrument_asks_whether_the_injunction_covers_the_service() -> None:
    blocked = replace(DSA, status="enjoined")
    question = enjoined_question("DSA")

    assert verdict(SOCIAL, instrument=blocked).questions == [question]
    answered = replace(SOCIAL, answers={question: True})
    assert verdict(answered, instrument=blocked).outcome == "applies"


def test_a_future_start_date_is_said() -> None:
    rule = replace(VLOP, applies_from=date(2027, 6, 14))

    found = verdict(SOCIAL, rule)

    assert found.starts_on == date(2027, 6, 14)
    assert found.explanation.startswith("applies from 2027-06-14: ")


@pytest.mark.parametrize(
    ("short_title", "aliases", "label"),
    [
        ("Digital Services Act", ["DSA", "Regulation (EU) 2022/2065"], "DSA"),
        ("UK Online Safety Act", ["OSA"], "OSA"),
        ("Interstate Treaty on the Protection of Minors in the Media", ["KJM"], None),
        ("Louisiana Act 440 (adult-site age verification)", ["Act 440"], "Louisiana Act 440"),
    ],
)
def test_citation_labels(short_title, aliases, label) -> None:
    assert citation_label(short_title, aliases) == (label or short_title)
