"""Accounts, logins and API tokens: the auth services."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask, current_app
from sqlalchemy import func, select, text, update

from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor, verify_chain
from compliance.auth import services
from compliance.auth.models import ApiToken, LoginAttempt, User
from compliance.clock import utcnow
from compliance.errors import ComplianceError, Conflict, Invalid, NotFound
from compliance.extensions import db
from tests.conftest import PASSWORD

ADMIN = Actor.system("test")
ADDRESS = "192.0.2.10"


def get_user(email: str) -> User:
    return db.session.scalars(select(User).filter_by(email=email)).one()


# -- accounts -------------------------------------------------------------------------------


def test_create_user_stores_an_argon2id_hash(app_ctx: None) -> None:
    user = services.create_user(
        " Alice@Example.ORG ", role="officer", password=PASSWORD, name=" Alice ", actor=ADMIN
    )

    assert (user.email, user.name, user.role, user.active) == (
        "alice@example.org",
        "Alice",
        "officer",
        True,
    )
    assert user.password_hash.startswith("$argon2id$")
    stored = db.session.execute(text("SELECT * FROM users")).one()
    assert all(PASSWORD not in str(value) for value in stored)
    event = db.session.scalars(select(AuditEvent).filter_by(action="user.created")).one()
    assert (event.entity_id, event.summary) == (str(user.id), "alice@example.org")
    assert event.after is not None and "password_hash" not in event.after
    assert PASSWORD not in str(event.after)


def test_duplicate_email_is_refused_whatever_its_case(app_ctx: None) -> None:
    services.create_user("bob@example.org", role="officer", password=PASSWORD, actor=ADMIN)

    with pytest.raises(Conflict, match=r"A user with e-mail bob@example.org already exists\."):
        services.create_user("BOB@example.org", role="auditor", password=PASSWORD, actor=ADMIN)

    assert db.session.scalar(select(func.count(User.id))) == 1


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("carol@example.org", "officer", "short", "at least 12 characters"),
        ("carol@example.org", "superuser", PASSWORD, "Role must be one of"),
        ("carol", "officer", PASSWORD, "is not an e-mail address"),
        ("", "officer", PASSWORD, "is not an e-mail address"),
    ],
)
def test_bad_new_accounts_are_refused(
    app_ctx: None, email: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        services.create_user(email, role=role, password=password, actor=ADMIN)

    assert not services.has_users()


def test_create_first_admin_works_once(app_ctx: None) -> None:
    assert not services.has_users()

    admin = services.create_first_admin("Root@Example.org", password=PASSWORD, name="Root")

    assert (admin.email, admin.role) == ("root@example.org", "admin")
    assert services.has_users()
    event = db.session.scalars(select(AuditEvent).filter_by(action="user.created")).one()
    assert event.actor_label == "first-run setup"
    with pytest.raises(Conflict, match="already been created"):
        services.create_first_admin("other@example.org", password=PASSWORD)
    assert db.session.scalar(select(func.count(User.id))) == 1


def test_create_first_admin_checks_its_input(app_ctx: None) -> None:
    with pytest.raises(Invalid):
        services.create_first_admin("root@example.org", password="short")

    assert not services.has_users()


def test_two_first_run_forms_at_once_make_one_admin(app: Flask) -> None:
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(email: str) -> None:
        with app.app_context():
            start.wait()
            try:
                services.create_first_admin(email, password=PASSWORD)
            except Conflict:
                outcomes.append("refused")
            else:
                outcomes.append("created")

    threads = [threading.Thread(target=submit, args=(f"{n}@example.org",)) for n in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "refused"]
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 1


def test_update_user(app_ctx: None, make_user: Callable[..., User]) -> None:
    make_user("admin")
    user = make_user("manager", team="Policy")

    updated = services.update_user(
        user.id, role="officer", team=" Trust ", name="Dee", active=True, actor=ADMIN
    )

    assert (updated.role, updated.team, updated.name) == ("officer", "Trust", "Dee")
    event = db.session.scalars(select(AuditEvent).filter_by(action="user.updated")).one()
    assert event.before is not None and event.before["role"] == "manager"
    assert event.after is not None and event.after["role"] == "officer"


def test_update_user_without_changes_records_nothing(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    user = make_user("auditor")
    events = db.session.scalar(select(func.count(AuditEvent.id)))

    services.update_user(user.id, role="auditor", team="", name="", active=True, actor=ADMIN)

    assert db.session.scalar(select(func.count(AuditEvent.id))) == events


def test_update_user_refuses_unknown_users_and_roles(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    user = make_user("officer")

    with pytest.raises(NotFound):
        services.update_user(9999, role="officer", team="", name="", active=True, actor=ADMIN)
    with pytest.raises(Invalid, match="Role must be one of"):
        services.update_user(user.id, role="root", team="", name="", active=True, actor=ADMIN)
    # Neither left a write transaction open: another write goes through at once.
    services.update_user(user.id, role="auditor", team="", name="", active=True, actor=ADMIN)


@pytest.mark.parametrize(("role", "active"), [("officer", True), ("admin", False)])
def test_last_admin_cannot_be_demoted_or_deactivated(
    app_ctx: None, make_user: Callable[..., User], role: str, active: bool
) -> None:
    admin = make_user("admin")

    with pytest.raises(Conflict, match="last active administrator"):
        services.update_user(admin.id, role=role, team="", name="", active=active, actor=ADMIN)

    assert get_user(admin.email).role == "admin"
    assert get_user(admin.email).active


def test_an_admin_can_be_demoted_while_another_remains(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    first = make_user("admin", email="first@example.org")
    second = make_user("admin", email="second@example.org")

    services.update_user(first.id, role="officer", team="", name="", active=True, actor=ADMIN)

    with pytest.raises(Conflict):
        services.update_user(second.id, role="admin", team="", name="", active=False, actor=ADMIN)


def test_an_inactive_admin_can_be_edited(app_ctx: None, make_user: Callable[..., User]) -> None:
    make_user("admin", email="active@example.org")
    dormant = make_user("admin", email="dormant@example.org")
    services.update_user(dormant.id, role="admin", team="", name="", active=False, actor=ADMIN)

    # Renaming or demoting an inactive admin leaves the active one in place.
    services.update_user(dormant.id, role="admin", team="Ops", name="", active=False, actor=ADMIN)
    services.update_user(dormant.id, role="auditor", team="", name="", active=False, actor=ADMIN)

    assert get_user("dormant@example.org").role == "auditor"


def test_change_password(app_ctx: None, make_user: Callable[..., User]) -> None:
    user = make_user("officer")
    new = "a different long passphrase"

    with pytest.raises(Invalid, match="current password is wrong"):
        services.change_password(user.id, current="wrong", new=new, actor=ADMIN)
    with pytest.raises(Invalid, match="at least 12"):
        services.change_password(user.id, current=PASSWORD, new="short", actor=ADMIN)
    services.change_password(user.id, current=PASSWORD, new=new, actor=ADMIN)

    assert services.authenticate(user.email, new, address=ADDRESS).id == user.id
    with pytest.raises(Invalid):
        services.authenticate(user.email, PASSWORD, address=ADDRESS)


# -- logging in -----------------------------------------------------------------------------


def test_authenticate_records_the_login(app_ctx: None, make_user: Callable[..., User]) -> None:
    user = make_user("officer")
    before = utcnow()

    logged_in = services.authenticate(" Officer@Example.org", PASSWORD, address=ADDRESS)

    assert logged_in.id == user.id
    last_login = get_user(user.email).last_login_at
    assert last_login is not None and last_login >= before
    attempt = db.session.scalars(select(LoginAttempt)).one()
    assert (attempt.email, attempt.address, attempt.succeeded) == (user.email, ADDRESS, True)
    assert db.session.scalars(
        select(AuditEvent.action).filter_by(entity_id=str(user.id)).order_by(AuditEvent.id)
    ).all() == ["user.created", "user.logged-in"]


def test_wrong_password_and_unknown_email_fail_alike(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    user = make_user("officer")

    with pytest.raises(Invalid) as wrong_password:
        services.authenticate(user.email, "not the password", address=ADDRESS)
    with pytest.raises(Invalid) as unknown_email:
        services.authenticate("nobody@example.org", PASSWORD, address=ADDRESS)

    assert wrong_password.value.message == unknown_email.value.message
    assert wrong_password.value.message == services.LOGIN_FAILED_MESSAGE
    assert type(wrong_password.value) is type(unknown_email.value)
    assert get_user(user.email).last_login_at is None


def test_inactive_user_cannot_log_in(app_ctx: None, make_user: Callable[..., User]) -> None:
    make_user("admin")
    user = make_user("officer")
    services.update_user(user.id, role="officer", team="", name="", active=False, actor=ADMIN)

    with pytest.raises(Invalid) as refused:
        services.authenticate(user.email, PASSWORD, address=ADDRESS)

    assert refused.value.message == services.LOGIN_FAILED_MESSAGE


def test_account_is_throttled_after_five_failures(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    user = make_user("officer")
    other = make_user("auditor")
    for attempt in range(5):
        with pytest.raises(Invalid) as failed:
            services.authenticate(user.email, f"guess {attempt}", address=f"192.0.2.{attempt}")
        assert not isinstance(failed.value, services.LoginThrottled)

    # The right password from a fresh address is refused too, with a message that says why.
    with pytest.raises(services.LoginThrottled, match="Too many failed attempts. Try again in 15"):
        services.authenticate(user.email, PASSWORD, address="198.51.100.1")
    assert get_user(user.email).last_login_at is None

    # Other accounts are not affected.
    assert services.authenticate(other.email, PASSWORD, address="198.51.100.1").id == other.id


def test_throttle_counts_only_recent_failures(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    user = make_user("officer")
    for _ in range(5):
        with pytest.raises(Invalid):
            services.authenticate(user.email, "guess", address=ADDRESS)
    window = timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"] + 1)
    db.session.execute(update(LoginAttempt).values(at=utcnow() - window))
    db.session.commit()

    assert services.authenticate(user.email, PASSWORD, address=ADDRESS).id == user.id


def test_address_is_throttled_across_accounts(
    app: Flask, app_ctx: None, make_user: Callable[..., User]
) -> None:
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    user = make_user("officer")
    for n in range(3):
        with pytest.raises(Invalid):
            services.authenticate(f"guess{n}@example.org", PASSWORD, address=ADDRESS)

    with pytest.raises(services.LoginThrottled):
        services.authenticate(user.email, PASSWORD, address=ADDRESS)
    assert services.authenticate(user.email, PASSWORD, address="198.51.100.7").id == user.id


def test_throttled_attempts_are_not_counted_again(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    user = make_user("officer")
    for _ in range(5):
        with pytest.raises(Invalid):
            services.authenticate(user.email, "guess", address=ADDRESS)
    with pytest.raises(services.LoginThrottled):
        services.authenticate(user.email, "guess", address=ADDRESS)

    assert db.session.scalar(select(func.count(LoginAttempt.id))) == 5


# -- API tokens -----------------------------------------------------------------------------


def test_issue_token_stores_only_its_digest(app_ctx: None, make_user: Callable[..., User]) -> None:
    user = make_user("officer")

    issued = services.issue_token(user.email.upper(), name="CI", actor=ADMIN)

    assert issued.token.startswith(services.TOKEN_PREFIX)
    assert len(issued.token) > 40
    row = db.session.scalars(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert (row.name, row.user_id) == ("CI", user.id)
    assert issued.token.startswith(row.prefix) and len(row.prefix) < len(issued.token)
    assert row.expires_at is not None
    assert timedelta(days=364) < row.expires_at - utcnow() <= timedelta(days=365)
    stored = db.session.execute(text("SELECT * FROM api_tokens")).one()
    assert all(issued.token not in str(value) for value in stored)
    assert issued.token not in str(db.session.execute(text("SELECT * FROM audit_events")).all())


def test_issue_token_lifetimes(app_ctx: None, make_user: Callable[..., User]) -> None:
    user = make_user("officer")

    never = services.issue_token(user.email, days=0, actor=ADMIN)
    week = services.issue_token(user.email, days=7, actor=ADMIN)

    assert never.record.expires_at is None
    assert never.record.name == "API token"
    assert week.record.expires_at is not None
    assert week.record.expires_at - utcnow() <= timedelta(days=7)


def test_issue_token_for_unknown_user(app_ctx: None) -> None:
    with pytest.raises(NotFound, match="No user with e-mail nobody@example.org"):
        services.issue_token("nobody@example.org", actor=ADMIN)


def test_user_for_token(app_ctx: None, make_user: Callable[..., User]) -> None:
    user = make_user("officer")
    issued = services.issue_token(user.email, actor=ADMIN)

    found = services.user_for_token(issued.token)

    assert found is not None and found.id == user.id
    assert db.session.scalars(select(ApiToken.last_used_at)).one() is not None
    assert services.user_for_token(issued.token + "x") is None
    assert services.user_for_token("") is None


def test_revoked_token_is_refused(app_ctx: None, make_user: Callable[..., User]) -> None:
    user = make_user("officer")
    issued = services.issue_token(user.email, actor=ADMIN)

    services.revoke_token(issued.record.id, actor=ADMIN)
    services.revoke_token(issued.record.id, actor=ADMIN)  # twice: still one event

    assert services.user_for_token(issued.token) is None
    assert (
        db.session.scalar(select(func.count(AuditEvent.id)).filter_by(action="token.revoked")) == 1
    )
    with pytest.raises(NotFound):
        services.revoke_token(9999, actor=ADMIN)


def test_expired_token_is_refused(app_ctx: None, make_user: Callable[..., User]) -> None:
    user = make_user("officer")
    issued = services.issue_token(user.email, days=1, actor=ADMIN)
    db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    assert services.user_for_token(issued.token) is None


def test_token_of_inactive_user_is_refused(app_ctx: None, make_user: Callable[..., User]) -> None:
    make_user("admin")
    user = make_user("officer")
    issued = services.issue_token(user.email, actor=ADMIN)
    services.update_user(user.id, role="officer", team="", name="", active=False, actor=ADMIN)

    assert services.user_for_token(issued.token) is None


def test_every_account_write_is_on_the_audit_chain(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    make_user("admin")
    user = make_user("officer")
    issued = services.issue_token(user.email, actor=ADMIN)
    services.revoke_token(issued.record.id, actor=ADMIN)
    services.authenticate(user.email, PASSWORD, address=ADDRESS)
    with pytest.raises(ComplianceError):
        services.authenticate(user.email, "wrong", address=ADDRESS)

    report = verify_chain()

    assert report.intact
    assert report.checked == 5  # two accounts, a token issued and revoked, one login
