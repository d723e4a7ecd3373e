"""Signed tokens in links that work without a login: unsubscribe, and the calendar feed.

The only module that imports itsdangerous. A token names a row and carries that row's nonce;
the server replaces the nonce when the token is used (unsubscribe) or revoked (calendar), so a
copied or replayed token stops working. Nothing secret is stored: the signature comes from
SECRET_KEY, and the nonce alone is useless without it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

_UNSUBSCRIBE = "compliance.alerts.unsubscribe"
_CALENDAR = "compliance.alerts.calendar"


class BadToken(Exception):
    """A token that was not signed by us, or is malformed."""


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt=salt)


def _dump(salt: str, row_id: int, nonce: str) -> str:
    return str(_serializer(salt).dumps([row_id, nonce]))


def _load(salt: str, token: str) -> tuple[int, str]:
    if not token or len(token) > 500:
        raise BadToken("malformed token")
    try:
        value: Any = _serializer(salt).loads(token)
    except BadSignature as error:
        raise BadToken("bad signature") from error
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        raise BadToken("malformed token")
    return value[0], value[1]


def unsubscribe_token(subscription_id: int, nonce: str) -> str:
    return _dump(_UNSUBSCRIBE, subscription_id, nonce)


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    return _load(_UNSUBSCRIBE, token)


def calendar_token(user_id: int, nonce: str) -> str:
    return _dump(_CALENDAR, user_id, nonce)


def read_calendar_token(token: str) -> tuple[int, str]:
    return _load(_CALENDAR, token)
