"""Pure rules of notification preferences: categories, channels, defaults, what a stored choice means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

EmailMode = Literal["now", "daily", "off"]

ACCOUNT = "account"  # sign-up, password: always on, cannot be unsubscribed
BOOKINGS, REMINDERS, SCHEDULE, FOLLOWUP, NEWS = "bookings", "reminders", "schedule", "followup", "news"
CATEGORIES: tuple[str, ...] = (BOOKINGS, REMINDERS, SCHEDULE, FOLLOWUP, NEWS)  # the ones a person can choose for
ALL_CATEGORIES: tuple[str, ...] = (ACCOUNT, *CATEGORIES)
EMAIL_MODES: tuple[str, ...] = ("now", "daily", "off")
# A reminder 15 minutes before a chat is useless in tomorrow's bundle: reminders are mailed at once or not at all.
NO_DIGEST: frozenset[str] = frozenset({REMINDERS})

DEFAULT_OFFSETS_MIN: tuple[int, ...] = (24 * 60, 15)  # one day and 15 minutes before
MAX_OFFSETS = 5
MAX_OFFSET_MIN = 7 * 24 * 60
DEFAULT_DIGEST_HOUR = 8  # local time of the person's chosen timezone


@dataclass(frozen=True)
class Decision:
    """What to do with one notification of a category for one person."""

    in_app: bool
    email: EmailMode


ALWAYS = Decision(in_app=True, email="now")


def default_channels() -> dict[str, dict[str, Any]]:
    return {category: {"in_app": True, "email": "now"} for category in CATEGORIES}


def decide_from(channels: dict[str, Any] | None, category: str) -> Decision:
    """The decision for `category` from a stored `channels` mapping (None: nothing chosen yet, all on).

    Unknown categories fall back to all on: a new kind of mail must not vanish because nobody chose for it yet.
    """
    if category not in CATEGORIES:
        return ALWAYS
    chosen = (channels or {}).get(category) or {}
    in_app = chosen.get("in_app", True)
    email = chosen.get("email", "now")
    if email not in EMAIL_MODES:
        email = "now"
    if email == "daily" and category in NO_DIGEST:
        email = "now"
    return Decision(in_app=bool(in_app), email=email)


def offsets_from(minutes: list[int] | None) -> list[timedelta]:
    """Reminder offsets, largest first; None (nothing chosen) gives the defaults, [] means no reminders."""
    values = DEFAULT_OFFSETS_MIN if minutes is None else minutes
    return [timedelta(minutes=m) for m in sorted(set(values), reverse=True)]


def can_unsubscribe(category: str) -> bool:
    return category in CATEGORIES
