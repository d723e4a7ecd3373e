"""Password hashing: Argon2id at OWASP's parameters by default, and verification that fails
closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import Type, extract_parameters
from flask import Flask

from compliance import create_app
from compliance.auth.passwords import hash_password, needs_rehash, verify_password

SECRET = "correct horse battery staple"


@pytest.fixture
def default_app(tmp_path: Path) -> Flask:
    """An app with the shipped password settings (the `app` fixture makes hashing cheap)."""
    return create_app(
        {"SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"}
    )


def test_default_parameters_meet_owasp(default_app: Flask) -> None:
    # OWASP Password Storage Cheat Sheet: Argon2id, m >= 19 MiB, t >= 2, p = 1.
    with default_app.app_context():
        encoded = hash_password(SECRET)

    parameters = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$v=19$")
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= 19456
    assert parameters.time_cost >= 2
    assert parameters.parallelism == 1
    assert SECRET not in encoded


def test_hash_is_salted(app: Flask) -> None:
    with app.app_context():
        assert hash_password(SECRET) != hash_password(SECRET)


def test_verify(app: Flask) -> None:
    with app.app_context():
        encoded = hash_password(SECRET)

        assert verify_password(encoded, SECRET)
        assert not verify_password(encoded, SECRET.upper())
        assert not verify_password(encoded, "")


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$bad"])
def test_verify_fails_closed_without_a_usable_hash(app: Flask, stored: str | None) -> None:
    with app.app_context():
        assert not verify_password(stored, SECRET)
        # Even the dummy password that stands in for unknown users must not pass.
        assert not verify_password(stored, "not-a-real-password")


def test_weaker_hashes_need_a_rehash(app: Flask, default_app: Flask) -> None:
    with app.app_context():
        cheap = hash_password(SECRET)  # the test settings: m=1 MiB, t=1
    with default_app.app_context():
        strong = hash_password(SECRET)

        assert needs_rehash(cheap)
        assert not needs_rehash(strong)
