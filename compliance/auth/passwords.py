"""Password hashing with Argon2id: the only module that imports argon2."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# Verifying against this hash for unknown e-mails keeps the response time of a wrong e-mail
# the same as that of a wrong password (no user enumeration by timing).
_DUMMY_PASSWORD = "not-a-real-password"  # noqa: S105


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["PASSWORD_ARGON2_TIME_COST"],
        memory_cost=config["PASSWORD_ARGON2_MEMORY_KIB"],
        parallelism=config["PASSWORD_ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check password; with no hash (unknown user) do the same work and return False."""
    hasher = _hasher()
    try:
        return hasher.verify(password_hash or hasher.hash(_DUMMY_PASSWORD), password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash used weaker parameters than today's settings."""
    return _hasher().check_needs_rehash(password_hash)
