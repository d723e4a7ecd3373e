"""Default settings. The environment and instance/compliance.cfg are read in create_app."""

from __future__ import annotations

from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


class DefaultConfig:
    """Every setting the app knows, with a safe default; each is listed in the README."""

    # No default secret: create_app refuses to start without one (`make run` writes one into
    # instance/compliance.cfg the first time).
    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None  # default: SQLite file in the instance folder
    BASE_URL = "http://127.0.0.1:5000"
    CATALOGUE_DIR = str(REPOSITORY_ROOT / "regulations")
    SEARCH_INDEX_DIR: str | None = None  # default: instance/search-index

    # Cookies: HttpOnly and SameSite always; Secure follows BASE_URL unless set explicitly.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE: bool | None = None
    PERMANENT_SESSION_LIFETIME = 8 * 3600

    # Login throttling (OWASP Authentication Cheat Sheet): failures counted per e-mail and per
    # client address over a sliding window.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    LOGIN_THROTTLE_WINDOW_SECONDS = 15 * 60

    # Argon2id at OWASP's Password Storage Cheat Sheet minimum: m=19 MiB, t=2, p=1.
    PASSWORD_ARGON2_MEMORY_KIB = 19 * 1024
    PASSWORD_ARGON2_TIME_COST = 2
    PASSWORD_ARGON2_PARALLELISM = 1
    PASSWORD_MIN_LENGTH = 12

    API_TOKEN_DAYS = 365
    PAGE_SIZE = 25

    SCHEDULER_AUDIT_VERIFY_HOUR = 3  # UTC hour of the nightly audit-chain check

    WTF_CSRF_TIME_LIMIT = 8 * 3600
    BOOTSTRAP_SERVE_LOCAL = True  # the app must work with no internet
    BOOTSTRAP_BOOTSWATCH_THEME = None
