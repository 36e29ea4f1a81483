"""What the rest of notify asks preferences: may this person get this category in-app / by mail, which reminder
offsets, and the signed one-click unsubscribe link for a mail. Every sender goes through `decide`."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from services.notify.preferences.domain import (
    ALWAYS,
    Decision,
    EmailMode,
    can_unsubscribe,
    decide_from,
    offsets_from,
)
from services.notify.preferences.models import NotificationSettings

__all__ = ["Decision", "EmailMode", "decide", "reminder_offsets", "unsubscribe_url", "read_unsubscribe_token"]

UNSUBSCRIBE_SALT = "notify.unsubscribe.v1"  # purpose-bound: a token signed for anything else does not verify
UNSUBSCRIBE_PATH = "/unsubscribe/"


def decide(session: Session, user_id: int, category: str) -> Decision:
    if not can_unsubscribe(category):
        return ALWAYS
    row = session.get(NotificationSettings, user_id)
    return decide_from(row.channels if row else None, category)


def reminder_offsets(session: Session, user_id: int) -> list[timedelta]:
    row = session.get(NotificationSettings, user_id)
    return offsets_from(row.reminder_offsets if row else None)


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(secret: str, user_id: int, category: str) -> str:
    return str(_serializer(secret).dumps({"u": user_id, "c": category}))


def unsubscribe_url(public_url: str, secret: str, user_id: int, category: str) -> str | None:
    """The link for the List-Unsubscribe header and the mail's footer; None for mails one cannot opt out of."""
    if not can_unsubscribe(category):
        return None
    return public_url.rstrip("/") + UNSUBSCRIBE_PATH + quote(unsubscribe_token(secret, user_id, category), safe="")


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str] | None:
    """(user_id, category) of a genuine token, None for a tampered, foreign or malformed one."""
    try:
        data = _serializer(secret).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id, category = data.get("u"), data.get("c")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(category, str):
        return None
    if not can_unsubscribe(category):
        return None
    return user_id, category
