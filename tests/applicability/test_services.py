"""Profile use cases: checked and audited writes, evaluations, changes, answers, the register."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from compliance.applicability import register, services
from compliance.applicability.models import ServiceProfile
from compliance.applicability.rules import enjoined_question
from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor, verify_chain
from compliance.errors import Conflict, Invalid, NotFound
from compliance.exports.tabular import read_sheet
from compliance.extensions import db
from tests.applicability.conftest import CRISIS, SOCIAL

pytestmark = pytest.mark.usefixtures("app_ctx", "profile_catalogue")
OFFICER = Actor(None, "officer@example.org")


def profile_events() -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.entity_type == "service_profile")
    query = query.order_by(AuditEvent.id)
    return list(db.session.scalars(query))


def outcome_of(profile_id: int, path: str) -> str:
    found = [i for i in services.evaluate_profile(profile_id).items if i.path == path]
    assert len(found) == 1, path
    return found[0].outcome


def test_create_saves_every_fact_and_records_it(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)

    saved = db.session.get(ServiceProfile, profile.id)
    assert saved.snapshot()["monthly_users"] == {"EU": 1_000, "GB": 500}
    (event,) = profile_events()
    assert (event.action, event.actor_label, event.summary) == (
        "profile.created",
        "officer@example.org",
        "Chatter",
    )
    assert event.after["kinds"] == ["social-media"]
    assert verify_chain().intact


@pytest.mark.parametrize(
    "change",
    [
        {"monthly_users": {"EU": -1}},
        {"monthly_users": {"EU": 10**12}},
        {"jurisdictions": ("EU", "NARNIA")},
        {"minimum_age": 18, "child_access": "known"},
        {"kinds": ("spaceship",)},
        {"answers": {"Is this a question the catalogue asks?": True}},
    ],
)
def test_bad_input_saves_nothing(profile_input, change) -> None:
    with pytest.raises(Invalid) as caught:
        services.create_profile(profile_input(**change), actor=OFFICER)

    assert caught.value.details
    assert db.session.scalar(select(func.count(ServiceProfile.id))) == 0
    assert profile_events() == []


def test_a_bad_edit_changes_nothing(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)

    with pytest.raises(Invalid, match="contradicts itself"):
        services.update_profile(
            profile.id, profile_input(minimum_age=18, child_access="directed"), actor=OFFICER
        )

    db.session.rollback()
    assert db.session.get(ServiceProfile, profile.id).child_access == "likely"
    assert [e.action for e in profile_events()] == ["profile.created"]


def test_names_are_unique_in_any_case(profile_input) -> None:
    services.create_profile(profile_input(), actor=OFFICER)

    with pytest.raises(Conflict, match="already exists"):
        services.create_profile(profile_input(name="  CHATTER "), actor=OFFICER)


def test_an_edit_says_which_obligations_changed(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)
    assert outcome_of(profile.id, "test-vlop/art-34") == "does-not-apply"

    update = services.update_profile(
        profile.id, profile_input(monthly_users={"EU": 52_000_000, "GB": 500}), actor=OFFICER
    )

    assert update.changes.summary() == ["1 obligation now applies"]
    (change,) = update.changes.changes
    assert (change.item.path, change.before, change.item.outcome) == (
        "test-vlop/art-34",
        "does-not-apply",
        "applies",
    )
    assert "52,000,000 EU users ≥ 45,000,000" in change.item.verdict.explanation
    event = profile_events()[-1]
    assert event.id == update.event_id
    assert event.before["monthly_users"]["EU"] == 1_000
    assert event.after["monthly_users"]["EU"] == 52_000_000
    # The same changes, read back later from the audit trail.
    _, again = services.changes_of_event(profile.id, event.id)
    assert [c.item.path for c in again.changes] == ["test-vlop/art-34"]


def test_an_edit_that_changes_nothing_records_nothing(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)

    update = services.update_profile(profile.id, profile_input(), actor=OFFICER)

    assert update.event_id is None
    assert not update.changes
    assert len(profile_events()) == 1


def test_answers_settle_judgement_questions(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)
    asked = {q.text: q for q in services.evaluate_profile(profile.id).questions()}
    assert CRISIS in asked
    assert asked[CRISIS].answer is None
    assert outcome_of(profile.id, "test-vlop/art-36") == "needs-judgement"

    update = services.answer_questions(profile.id, {CRISIS: True}, actor=OFFICER)

    assert update.changes.summary() == ["1 obligation now applies"]
    assert outcome_of(profile.id, "test-vlop/art-36") == "applies"
    assert profile_events()[-1].after["answers"] == {CRISIS: True}

    services.answer_questions(profile.id, {CRISIS: None}, actor=OFFICER)
    assert outcome_of(profile.id, "test-vlop/art-36") == "needs-judgement"


def test_answers_survive_edits_of_other_facts(profile_input) -> None:
    profile = services.create_profile(profile_input(answers={CRISIS: False}), actor=OFFICER)

    services.update_profile(
        profile.id, profile_input(company_size="small", answers={CRISIS: False}), actor=OFFICER
    )

    assert db.session.get(ServiceProfile, profile.id).answers == {CRISIS: False}


def test_company_size_and_missing_facts(profile_input) -> None:
    small = services.create_profile(profile_input(company_size="small"), actor=OFFICER)
    unknown = services.create_profile(
        profile_input(name="No size", company_size=None, monthly_users={}), actor=OFFICER
    )

    assert outcome_of(small.id, "test-vlop/art-20") == "does-not-apply"
    assert outcome_of(unknown.id, "test-vlop/art-20") == "needs-judgement"
    assert outcome_of(unknown.id, "test-vlop/art-34") == "needs-judgement"


def test_an_enjoined_law_asks_whether_the_injunction_covers_the_service(profile_input) -> None:
    adult = services.create_profile(
        profile_input(
            name="Adult",
            kinds=("adult-content",),
            jurisdictions=("US-TX",),
            monthly_users={},
            minimum_age=18,
        ),
        actor=OFFICER,
    )
    question = enjoined_question("Test Texas AV")

    assert outcome_of(adult.id, "test-tx-av/s-1") == "needs-judgement"
    assert [q.text for q in services.evaluate_profile(adult.id).questions()] == [question]
    services.answer_questions(adult.id, {question: False}, actor=OFFICER)
    assert outcome_of(adult.id, "test-tx-av/s-1") == "does-not-apply"


def test_delete_keeps_the_facts_in_the_audit_trail(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)

    services.delete_profile(profile.id, actor=OFFICER)

    with pytest.raises(NotFound):
        services.get_profile(profile.id)
    event = profile_events()[-1]
    assert event.action == "profile.deleted"
    assert event.before["name"] == "Chatter"
    assert verify_chain().intact


def test_missing_profiles_are_not_found() -> None:
    with pytest.raises(NotFound):
        services.update_profile(999, SOCIAL, actor=OFFICER)
    with pytest.raises(NotFound):
        services.delete_profile(999, actor=OFFICER)
    with pytest.raises(NotFound):
        services.find_profile("nobody")


def test_find_profile_by_id_or_name(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)

    assert services.find_profile(str(profile.id)).id == profile.id
    assert services.find_profile("chatter").id == profile.id


def test_applicable_obligation_ids_for_other_domains(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)
    evaluation = services.evaluate_profile(profile.id)
    by_path = {item.path: item for item in evaluation.items}

    applying = services.applicable_obligation_ids(profile.id)
    with_judgement = services.applicable_obligation_ids(profile.id, include_judgement=True)

    assert by_path["test-dsa/art-16"].obligation_id in applying  # hosting, as a social network
    assert by_path["test-vlop/art-34"].obligation_id not in applying
    assert by_path["test-vlop/art-36"].obligation_id in with_judgement - applying
    assert evaluation.tally().total == len(evaluation.items)


def test_counts_by_instrument_and_jurisdiction(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)
    evaluation = services.evaluate_profile(profile.id)

    by_code = {group.key: group.tally for group in evaluation.by_jurisdiction()}
    by_slug = {group.key: group.tally for group in evaluation.by_instrument()}

    assert by_code["US-TX"].does_not_apply == 1
    assert by_code["GB"].applies == 1  # test-osa s. 12 has no conditions
    assert by_slug["test-vlop"].applies == 1  # art-20: a large platform is not exempt
    assert by_slug["test-vlop"].needs_judgement == 1


def test_the_register_lists_every_obligation_with_explanation_and_controls(profile_input) -> None:
    profile = services.create_profile(profile_input(), actor=OFFICER)

    document = services.statement_of_applicability(profile.id)

    rows = {row.item.path: row for row in document.rows}
    assert len(rows) == document.tally.total == 8
    assert [c.code for c in rows["test-dsa/art-16"].controls] == ["TS-NA-01"]
    values = dict(zip(register.COLUMNS, rows["test-dsa/art-16"].values(), strict=True))
    assert values["outcome"] == "applies"
    assert values["explanation"].startswith("applies: hosting service (as a social network)")
    assert values["controls"] == "TS-NA-01 (full, proposed)"
    assert document.filename("csv").startswith("applicability-chatter-")


def test_register_formats_hold_the_same_rows(profile_input) -> None:
    profile = services.create_profile(profile_input(name="=cmd|' /C calc'!A0"), actor=OFFICER)
    document = services.statement_of_applicability(profile.id)

    table = list(csv.reader(io.StringIO(register.render(document, "csv").decode("utf-8"))))
    body = json.loads(register.render(document, "json"))
    sheet = list(read_sheet(register.render(document, "xlsx"), max_rows=1000, max_unpacked=10**8))

    assert table[0] == list(register.COLUMNS)
    assert tuple(sheet[0]) == register.COLUMNS
    paths = [row[3] for row in table[1:]]
    assert paths == [item["obligation"] for item in body["obligations"]]
    assert paths == [row[3] for row in sheet[1:]]
    assert body["counts"]["total"] == len(paths)
    assert body["profile"]["name"] == "=cmd|' /C calc'!A0"


def test_csv_cells_cannot_start_a_formula() -> None:
    assert register._safe("=SUM(A1)") == "'=SUM(A1)"
    assert register._safe("-1") == "'-1"
    assert register._safe("applies: x") == "applies: x"
