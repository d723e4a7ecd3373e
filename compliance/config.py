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
    # One active scheduler per database: the leader's lease lasts this long and is renewed
    # every third of it; a standby retries this often.
    SCHEDULER_LEASE_SECONDS = 60
    SCHEDULER_STANDBY_SECONDS = 15

    # Imports (CSV, XLSX, OSCAL): larger files are refused with the reason, nothing imported.
    IMPORT_MAX_BYTES = 20 * 1024 * 1024  # the uploaded file
    IMPORT_MAX_ROWS = 50_000  # rows of a sheet or CSV, controls of an OSCAL catalog
    IMPORT_MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # an XLSX's parts once inflated (zip bombs)

    # Feed fetching (compliance.feeds.fetcher): the outbound policy. FETCH_ALLOW lists
    # addresses that may be fetched although private or loopback ("10.2.0.0/16, 127.0.0.1:8765");
    # everything else non-public is refused, whatever name points at it.
    FETCH_ALLOW = ""
    FETCH_CONNECT_TIMEOUT = 5.0  # seconds to connect
    FETCH_READ_TIMEOUT = 15.0  # seconds of silence from the server
    FETCH_TOTAL_TIMEOUT = 30.0  # seconds for the whole fetch, redirects and body included
    FETCH_MAX_BYTES = 15 * 1024 * 1024  # a body, after decompression
    FETCH_MAX_REDIRECTS = 5
    FETCH_USER_AGENT = ""  # default: "compliance/0.1 (regulatory change monitor; +BASE_URL)"
    # Polling (compliance.feeds.services).
    FEEDS_DEFAULT_INTERVAL_MINUTES = 60
    FEEDS_MIN_INTERVAL_MINUTES = 15
    FEEDS_MAX_BACKOFF_MINUTES = 24 * 60  # the cap on exponential backoff
    FEEDS_FLAG_AFTER_DAYS = 7  # failing this long: flagged to admins (never silently disabled)
    FEEDS_POLL_WORKERS = 4  # fetches in flight at once in one poll cycle
    FEEDS_PER_HOST = 2  # of which at most this many to one host
    FEEDS_POLL_BATCH = 200  # sources claimed by one cycle; the rest wait for the next
    FEEDS_MAX_ENTRIES = 500  # read from one document; beyond, a feed is misbehaving
    FEEDS_MATCH_THRESHOLD = 0.5  # relevance from which an entry opens a change review
    SCHEDULER_FEEDS_POLL_SECONDS = 60  # how often the scheduler looks for due sources
    REVIEWS_DUE_DAYS = 14  # a new change review's default due date

    # Alerts (compliance.alerts). The outbox retries temporary SMTP failures with capped
    # exponential backoff; a message still failing after ALERTS_MAX_ATTEMPTS shows as failed.
    ALERTS_MESSAGE_ID_DOMAIN = ""  # right side of Message-IDs; default: BASE_URL's host
    ALERTS_RETRY_FIRST_MINUTES = 1
    ALERTS_RETRY_MAX_MINUTES = 60
    ALERTS_MAX_ATTEMPTS = 60  # about two days at the capped interval
    ALERTS_SEND_BATCH = 500  # messages one send run delivers at most
    # A send whose outcome was never stored (the process died) is retried after this long,
    # with the same Message-ID (compliance.alerts.outbox, point 3).
    ALERTS_SENDING_TIMEOUT_SECONDS = 600
    ALERTS_ESCALATE_AFTER_DAYS = 3  # unacknowledged "action required" goes to the admins
    SCHEDULER_ALERTS_SEND_SECONDS = 60  # how often the scheduler sends what is due
    SCHEDULER_DIGEST_HOUR = 7  # UTC hour of the daily digest (weekly: Mondays, same hour)

    # Outgoing mail (compliance.alerts.mailer). With no SMTP_URL, messages are written as .eml
    # files to MAIL_OUTBOX_DIR, so a fresh install works with no mail server. SMTP_URL takes
    # smtp://host:25 (plain), smtp+starttls://user:pass@host:587 (or smtp://…?starttls=true),
    # smtps://user:pass@host:465 (TLS from the start); ?timeout=SECONDS, default 30.
    SMTP_URL = ""
    SMTP_CA_FILE = ""  # PEM bundle to trust instead of the system's (a private CA)
    MAIL_FROM = "compliance@localhost"  # envelope sender and From
    MAIL_OUTBOX_DIR = ""  # default: instance/outbox

    WTF_CSRF_TIME_LIMIT = 8 * 3600
    BOOTSTRAP_SERVE_LOCAL = True  # the app must work with no internet
    BOOTSTRAP_BOOTSWATCH_THEME = None
