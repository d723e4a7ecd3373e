"""Profile input: JSON and form parsing, and every bad input refused with a message naming it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from compliance.applicability.inputs import (
    MAX_USERS,
    ProfileInput,
    from_json,
    parse_users,
    profile_problems,
)
from compliance.errors import Invalid
from tests.applicability.test_rules import WORLD

GOOD = ProfileInput(
    name="Main app",
    kinds=("social-media",),
    jurisdictions=("EU", "GB"),
    child_access="likely",
    monthly_users={"EU": 52_000_000, "GB": 7_000_000},
    minimum_age=13,
    features=("recommender",),
    company_size="large",
)
QUESTION = "Has Ofcom designated the service as Category 1?"


def problems(data: ProfileInput, questions=(QUESTION,), kept=None) -> list[str]:
    return profile_problems(data.normalised(), WORLD, questions=questions, kept_answers=kept)


def test_a_good_profile_has_no_problems() -> None:
    assert problems(GOOD) == []
    assert problems(replace(GOOD, answers={QUESTION: True})) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"monthly_users": {"EU": -5}}, "a count must be from 0 to"),
        ({"monthly_users": {"EU": MAX_USERS + 1}}, "more than everyone alive"),
        ({"jurisdictions": ("EU", "XX")}, "unknown code XX"),
        ({"jurisdictions": ("EU", "gb-zzz")}, "unknown code GB-ZZZ"),
        ({"jurisdictions": ()}, "name at least one place"),
        ({"monthly_users": {"AU": 10}}, "AU has users but the service is not offered there"),
        ({"monthly_users": {"ZZ": 10}}, "unknown jurisdiction code ZZ"),
        ({"monthly_users": {"EU": 10, "FR": 20}}, "FR (20) cannot exceed EU (10)"),
        ({"minimum_age": 18, "child_access": "known"}, "contradicts itself"),
        ({"minimum_age": 21, "child_access": "directed"}, "is aimed at children"),
        ({"minimum_age": 150}, "minimum_age must be from 0 to 21"),
        ({"minimum_age": -1}, "minimum_age must be from 0 to 21"),
        ({"kinds": ()}, "choose at least one kind"),
        ({"kinds": ("social-media", "spaceship")}, "unknown spaceship"),
        ({"features": ("telepathy",)}, "features: unknown telepathy"),
        ({"child_access": "sometimes"}, "child_access must be one of"),
        ({"company_size": "huge"}, "company_size must be one of"),
        ({"name": ""}, "name is required"),
        ({"name": "x" * 121}, "at most 120 characters"),
        ({"answers": {"Is the moon made of cheese?": True}}, "asks no question"),
    ],
)
def test_bad_input_is_named(change, expected) -> None:
    found = problems(replace(GOOD, **change))

    assert any(expected in problem for problem in found), found


def test_minimum_age_18_is_fine_when_children_are_only_likely_to_get_in() -> None:
    # An adult site: the law assumes children are likely to try (OSA Part 5); no contradiction.
    assert problems(replace(GOOD, minimum_age=18, child_access="likely")) == []


def test_an_answer_already_stored_survives_a_reworded_catalogue_question() -> None:
    old = {"An old wording?": True}

    assert problems(replace(GOOD, answers=old), kept=old) == []


def test_normalised_trims_sorts_and_upper_cases() -> None:
    messy = replace(
        GOOD,
        name="  Main app ",
        kinds=("social-media", "Social-Media", " user-to-user"),
        jurisdictions=("gb", "eu", "GB"),
        monthly_users={"eu": 5},
        company_size="",
    )

    clean = messy.normalised()

    assert clean.name == "Main app"
    assert clean.kinds == ("social-media", "user-to-user")
    assert clean.jurisdictions == ("EU", "GB")
    assert clean.monthly_users == {"EU": 5}
    assert clean.company_size is None


def test_from_json_checks_types_and_required_fields() -> None:
    with pytest.raises(Invalid) as caught:
        from_json({"name": 5, "monthly_users": {"EU": True}, "colour": "red"})

    details = caught.value.details
    assert "name must be a string, not 5" in details
    assert any(d.startswith("monthly_users must be an object") for d in details)
    assert any(d.startswith("colour: unknown field") for d in details)
    assert "kinds is required" in details
    assert "jurisdictions is required" in details


def test_from_json_patches_the_current_profile_and_merges_answers() -> None:
    current = replace(GOOD, answers={QUESTION: True, "Other?": False})

    patched = from_json({"company_size": "small", "answers": {"Other?": None}}, current)

    assert patched.company_size == "small"
    assert patched.kinds == GOOD.kinds
    assert patched.answers == {QUESTION: True}


def test_parse_users_reads_grouped_digits() -> None:
    assert parse_users(["EU: 52,000,000", "gb=7_000_000", "", "US: 1 000"]) == {
        "EU": 52_000_000,
        "GB": 7_000_000,
        "US": 1_000,
    }


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["EU: -5"], "a count cannot be negative"),
        (["EU: lots"], "is not 'CODE: number'"),
        (["EU: 1", "EU: 2"], "EU is given twice"),
    ],
)
def test_parse_users_refuses_bad_lines(lines, expected) -> None:
    with pytest.raises(Invalid) as caught:
        parse_users(lines)

    assert expected in caught.value.message
