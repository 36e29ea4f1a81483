"""Chat room rules. Pure Python: no Flask, no SQLAlchemy session, no Redis."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

MAX_TEXT = 2000
MAX_ACTION_TEXT = 300
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# Control characters other than newline and tab: invisible, and some terminals/log viewers act on them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ChatRuleError(ValueError):
    """A rule was broken: `code` for clients, `field` names the input at fault (None: the room's state)."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class Room:
    id: str
    kind: str  # "booked" | "ama"
    status: str  # "open" | "cancelled" | "closed"
    author_id: int
    attendee_id: int
    starts_at: datetime | None
    ends_at: datetime | None

    @property
    def participants(self) -> tuple[int, int]:
        return (self.author_id, self.attendee_id)

    def other_participant(self, user_id: int) -> int | None:
        if user_id == self.author_id:
            return self.attendee_id
        if user_id == self.attendee_id:
            return self.author_id
        return None


def new_ama_room_id() -> str:
    return "ama-" + secrets.token_urlsafe(18)


def access_of(room: Room, user_id: int, is_organiser: bool) -> str | None:
    """"participant", "organiser" (moderation) or None: anybody else may not even learn the room exists."""
    if user_id in room.participants:
        return "participant"
    if is_organiser:
        return "organiser"
    return None


def clean_text(raw: object) -> str:
    """The message as it will be stored: text only (rendered as text, never HTML), 1..MAX_TEXT characters."""
    if not isinstance(raw, str):
        raise ChatRuleError("invalid", "text must be a string", "text")
    text = _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise ChatRuleError("invalid", "write something first", "text")
    if len(text) > MAX_TEXT:
        raise ChatRuleError(
            "too_long", f"a message can have at most {MAX_TEXT:,} characters (this one has {len(text):,})", "text"
        )
    return text


def check_client_id(raw: object) -> str:
    if not isinstance(raw, str) or not CLIENT_ID.match(raw):
        raise ChatRuleError("invalid", "client_id must be 1-64 letters, digits or _.:-", "client_id")
    return raw


def writing_closed_reason(room: Room, now: datetime, ama_open: bool = True) -> str | None:
    """Why nobody may write in the room now (None: open). A booked chat closes for writing at the slot's end."""
    if room.status == "cancelled":
        return "cancelled"
    if room.status == "closed" or (room.kind == "ama" and not ama_open):
        return "closed"
    if room.ends_at is not None and now >= room.ends_at:
        return "ended"
    return None


CLOSED_MESSAGES = {
    "cancelled": "this chat was cancelled",
    "closed": "this chat room is closed",
    "ended": "this chat has ended: writing is closed",
}


def check_writable(room: Room, now: datetime, ama_open: bool = True) -> None:
    reason = writing_closed_reason(room, now, ama_open)
    if reason is not None:
        raise ChatRuleError(reason, CLOSED_MESSAGES[reason], None, status=409)


def seconds_left(room: Room, now: datetime) -> int | None:
    if room.ends_at is None:
        return None
    return max(0, int((room.ends_at - now).total_seconds()))


def clean_action_text(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ChatRuleError("invalid", "say what is to be done", "text")
    text = _CONTROL.sub("", raw).strip()
    if len(text) > MAX_ACTION_TEXT:
        raise ChatRuleError("too_long", f"a follow-up action can have at most {MAX_ACTION_TEXT} characters", "text")
    return text


def action_owner(room: Room, noted_by: int, owner_id: int | None) -> int:
    """Who will do it: the person noting it by default, or the other participant; never an outsider."""
    owner = noted_by if owner_id is None else owner_id
    if owner not in room.participants:
        raise ChatRuleError("invalid", "the owner must be one of the two people in the chat", "owner_id")
    return owner


def both_participants_wrote(room: Room, senders: set[int]) -> bool:
    return room.author_id in senders and room.attendee_id in senders
