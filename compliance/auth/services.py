"""Use cases for people and credentials: accounts, logins, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from compliance.audit.services import Actor, record
from compliance.auth.models import ROLES, ApiToken, LoginAttempt, User
from compliance.auth.passwords import hash_password, needs_rehash, verify_password
from compliance.clock import utcnow
from compliance.database import begin_write, hold_lock
from compliance.errors import Conflict, Invalid, NotFound
from compliance.extensions import db

TOKEN_PREFIX = "cmp_"  # noqa: S105 (a label that marks our tokens, not a secret)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOGIN_FAILED_MESSAGE = "Unknown e-mail or wrong password."
# Advisory lock keys (any constants): checks that must not interleave on PostgreSQL.
_FIRST_RUN_LOCK_KEY = 8_477_002
_ADMINS_LOCK_KEY = 8_477_003


class LoginThrottled(Invalid):
    """Too many failed attempts for this account or address; wait, then retry."""


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    record: ApiToken


def _user_snapshot(user: User) -> dict[str, object]:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "team": user.team,
        "active": user.active,
    }


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_new_user(email: str, role: str, password: str) -> None:
    problems = []
    if not _EMAIL.match(email):
        problems.append(f"'{email}' is not an e-mail address.")
    if role not in ROLES:
        problems.append(f"Role must be one of {', '.join(ROLES)}.")
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        problems.append(f"The password must have at least {minimum} characters.")
    if problems:
        raise Invalid(" ".join(problems), details=problems)


def has_users() -> bool:
    return db.session.scalar(select(func.count(User.id))) != 0


def create_user(
    email: str, *, role: str, password: str, name: str = "", team: str = "", actor: Actor
) -> User:
    """Add an account; e-mails are unique regardless of case."""
    email = normalise_email(email)
    _check_new_user(email, role, password)
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        team=team.strip(),
        password_hash=hash_password(password),  # before the write: hashing takes a while
    )
    begin_write()
    return _insert_user(user, actor)


def create_first_admin(email: str, *, password: str, name: str = "") -> User:
    """The first-run step: only possible while no account exists at all."""
    email = normalise_email(email)
    _check_new_user(email, "admin", password)
    user = User(email=email, name=name.strip(), role="admin", password_hash=hash_password(password))
    begin_write()
    # The check and the insert share one transaction that no other first-run form can enter,
    # so two forms submitted at once cannot both create an administrator.
    hold_lock(_FIRST_RUN_LOCK_KEY)
    if has_users():
        db.session.rollback()
        raise Conflict("The first administrator has already been created; please log in.")
    return _insert_user(user, Actor.system("first-run setup"))


def _insert_user(user: User, actor: Actor) -> User:
    taken = Conflict(f"A user with e-mail {user.email} already exists.")
    if db.session.scalar(select(User.id).filter_by(email=user.email)) is not None:
        db.session.rollback()
        raise taken
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # another writer added the same e-mail since the check
        db.session.rollback()
        raise taken from None
    record(actor, "user.created", "user", user.id, summary=user.email, after=_user_snapshot(user))
    db.session.commit()
    return user


def update_user(
    user_id: int, *, role: str, team: str, name: str, active: bool, actor: Actor
) -> User:
    """Change an account's role, team, name or active flag."""
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}.")
    begin_write()
    user = db.session.get(User, user_id)
    if user is None:
        db.session.rollback()
        raise NotFound("No such user.")
    before = _user_snapshot(user)
    # Only an active administrator counts: editing an inactive one never leaves none behind.
    demoting_admin = user.role == "admin" and user.active and (role != "admin" or not active)
    if demoting_admin:
        hold_lock(_ADMINS_LOCK_KEY)  # two admins demoting each other at once: one must fail
        if _active_admin_count() <= 1:
            db.session.rollback()
            raise Conflict("This is the last active administrator; appoint another one first.")
    user.role, user.team, user.name, user.active = role, team.strip(), name.strip(), active
    after = _user_snapshot(user)
    if after != before:
        record(
            actor, "user.updated", "user", user.id, summary=user.email, before=before, after=after
        )
    db.session.commit()
    return user


def _active_admin_count() -> int:
    query = select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
    return db.session.scalar(query) or 0


def _recent_failures(column: object, value: str) -> int:
    since = utcnow() - timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    query = select(func.count(LoginAttempt.id)).where(
        column == value,  # type: ignore[arg-type]
        LoginAttempt.succeeded.is_(False),
        LoginAttempt.at >= since,
    )
    return db.session.scalar(query) or 0


def authenticate(email: str, password: str, *, address: str) -> User:
    """Return the user for valid credentials; raise Invalid, with one message for every failure.

    Failures are counted per account and per client address; past the limits every attempt is
    refused until the window passes, whether or not the password is right (OWASP ASVS 2.2.1).
    """
    email = normalise_email(email)
    config = current_app.config
    if (
        _recent_failures(LoginAttempt.email, email) >= config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        or _recent_failures(LoginAttempt.address, address)
        >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    ):
        minutes = config["LOGIN_THROTTLE_WINDOW_SECONDS"] // 60
        raise LoginThrottled(
            f"Too many failed attempts. Try again in {minutes} minutes, or ask an administrator."
        )
    user = db.session.scalar(select(User).filter_by(email=email))
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.active
    begin_write()
    db.session.add(LoginAttempt(email=email, address=address, succeeded=bool(ok)))
    if not ok or user is None:
        db.session.commit()
        raise Invalid(LOGIN_FAILED_MESSAGE)
    user = db.session.get(User, user.id)
    assert user is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    record(Actor(user.id, user.email), "user.logged-in", "user", user.id, summary=user.email)
    db.session.commit()
    return user


def change_password(user_id: int, *, current: str, new: str, actor: Actor) -> None:
    """Replace a password after checking the current one."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    if not verify_password(user.password_hash, current):
        raise Invalid("The current password is wrong.")
    _check_new_user(user.email, user.role, new)
    begin_write()
    user = db.session.get(User, user_id)
    assert user is not None
    user.password_hash = hash_password(new)
    record(actor, "user.password-changed", "user", user.id, summary=user.email)
    db.session.commit()


def _token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: no dictionary to slow down.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    email: str, *, name: str = "", days: int | None = None, actor: Actor
) -> IssuedToken:
    """Create an API token for a user; the token text is returned once and never stored."""
    email = normalise_email(email)
    user = db.session.scalar(select(User).filter_by(email=email))
    if user is None:
        raise NotFound(f"No user with e-mail {email}.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    lifetime = days if days is not None else current_app.config["API_TOKEN_DAYS"]
    begin_write()
    row = ApiToken(
        user_id=user.id,
        name=name.strip() or "API token",
        token_hash=_token_digest(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        expires_at=utcnow() + timedelta(days=lifetime) if lifetime > 0 else None,
    )
    db.session.add(row)
    db.session.flush()
    record(
        actor,
        "token.issued",
        "api_token",
        row.id,
        summary=f"{row.name} for {email}",
        after={"user": email, "name": row.name, "prefix": row.prefix, "expires_at": row.expires_at},
    )
    db.session.commit()
    return IssuedToken(token, row)


def revoke_token(token_id: int, *, actor: Actor) -> None:
    """Stop a token working at once."""
    begin_write()
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(actor, "token.revoked", "api_token", row.id, summary=f"{row.name} ({row.prefix}…)")
    db.session.commit()


def user_for_token(token: str) -> User | None:
    """Return the active user behind a bearer token that is neither revoked nor expired."""
    row = db.session.scalar(select(ApiToken).filter_by(token_hash=_token_digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if not row.user.active:
        return None
    user_id = row.user_id
    # Touch last_used_at at most once a minute: reads should not all become writes.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        token_id = row.id
        begin_write()
        db.session.execute(update(ApiToken).filter_by(id=token_id).values(last_used_at=now))
        db.session.commit()
    return db.session.get(User, user_id)


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))
