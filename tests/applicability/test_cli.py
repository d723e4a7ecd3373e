"""`flask profiles ...`: create, update, evaluate, answer, export and delete from the shell."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from compliance.applicability.models import ServiceProfile
from compliance.audit.models import AuditEvent
from compliance.extensions import db
from tests.applicability.conftest import CRISIS

pytestmark = pytest.mark.usefixtures("profile_catalogue")

CREATE = [
    "profiles",
    "create",
    "--name",
    "Chatter",
    "--kind",
    "social-media",
    "--jurisdiction",
    "EU",
    "--jurisdiction",
    "GB",
    "--users",
    "EU=1000",
    "--children",
    "likely",
    "--minimum-age",
    "13",
    "--feature",
    "recommender",
    "--size",
    "large",
]


def invoke(runner, *args: str):
    return runner.invoke(args=list(args))


def test_help_documents_the_commands(runner) -> None:
    result = invoke(runner, "profiles", "--help")

    assert result.exit_code == 0
    for command in ("create", "update", "delete", "evaluate", "questions", "answer", "export"):
        assert command in result.output


def test_create_list_show(app, runner) -> None:
    created = invoke(runner, *CREATE)

    assert created.exit_code == 0, created.output
    assert "Created profile 1 'Chatter'" in created.output
    assert "Chatter" in invoke(runner, "profiles", "list").output
    shown = json.loads(invoke(runner, "profiles", "show", "chatter").output)
    assert shown["monthly_users"] == {"EU": 1000}
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "profile.created"))
        assert event.actor_label == "cli"


def test_create_from_a_json_file(runner, tmp_path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(
        json.dumps(
            {
                "name": "Yarn",
                "kinds": ["messaging"],
                "jurisdictions": ["GB"],
                "child_access": "likely",
            }
        )
    )

    result = invoke(runner, "profiles", "create", "--file", str(path))

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--users", "EU=-5"], "a count cannot be negative"),
        (["--jurisdiction", "XX"], "unknown code XX"),
        (["--minimum-age", "18", "--children", "known"], "contradicts itself"),
    ],
)
def test_bad_input_fails_and_saves_nothing(app, runner, extra, message) -> None:
    result = invoke(runner, *CREATE, *extra)

    assert result.exit_code == 1
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(ServiceProfile.id))) == 0


def test_update_prints_what_changed(runner) -> None:
    invoke(runner, *CREATE)

    result = invoke(runner, "profiles", "update", "Chatter", "--users", "EU=52000000")

    assert result.exit_code == 0, result.output
    assert "1 obligation now applies" in result.output
    assert "does-not-apply -> applies: online platform (as a social network)" in result.output
    assert "Nothing changed." in invoke(runner, "profiles", "update", "1", "--size", "large").output


def test_evaluate_filters_and_counts(runner) -> None:
    invoke(runner, *CREATE)

    result = invoke(runner, "profiles", "evaluate", "Chatter", "--outcome", "needs-judgement")

    assert result.exit_code == 0, result.output
    assert "test-vlop/art-36\tneeds judgement: " + CRISIS in result.output
    assert "test-dsa/art-16" not in result.output
    assert "need judgement" in result.stderr


def test_questions_and_answers(runner) -> None:
    invoke(runner, *CREATE)
    listed = invoke(runner, "profiles", "questions", "Chatter").output
    assert f"1. [unanswered] {CRISIS} (1)" in listed

    answered = invoke(runner, "profiles", "answer", "Chatter", "1", "yes")

    assert answered.exit_code == 0, answered.output
    assert "1 obligation now applies" in answered.output
    assert "[yes]" in invoke(runner, "profiles", "questions", "Chatter").output
    refused = invoke(runner, "profiles", "answer", "Chatter", "Is it Tuesday?", "no")
    assert refused.exit_code == 1
    assert "asks no question" in refused.output


def test_export_the_register(runner, tmp_path) -> None:
    invoke(runner, *CREATE)
    out = tmp_path / "soa.xlsx"

    to_file = invoke(runner, "profiles", "export", "Chatter", "--format", "xlsx", "--out", str(out))
    to_stdout = invoke(runner, "profiles", "export", "Chatter", "--format", "json")

    assert to_file.exit_code == 0, to_file.output
    assert out.read_bytes()[:2] == b"PK"
    assert json.loads(to_stdout.output)["counts"]["total"] == 8


def test_delete(app, runner) -> None:
    invoke(runner, *CREATE)

    result = invoke(runner, "profiles", "delete", "Chatter", "--yes")

    assert result.exit_code == 0, result.output
    assert invoke(runner, "profiles", "show", "Chatter").exit_code == 1
