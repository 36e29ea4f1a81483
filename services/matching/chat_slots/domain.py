"""Rules of author chat slots. Pure: no Flask, no database.

Time is cut into fixed 5-minute *cells* (cell n starts n * 5 minutes after the Unix epoch, UTC). A slot starts on
a cell boundary and lasts whole cells, so "two chats of one person overlap" becomes "they share a cell". The
database keeps one row per (person, cell) a person is busy in, under a unique key: an author's open slots and an
attendee's bookings reserve their cells in the same transaction as the slot or booking, so no two of them can
overlap however many requests race (the loser's insert violates the key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.events import as_utc as utc

CELL = timedelta(minutes=5)
CELL_SECONDS = int(CELL.total_seconds())
MIN_MINUTES = 5
MAX_MINUTES = 30
DEFAULT_PER_AUTHOR = 12  # open slots per author per insight day (an insight day is one day)


class SlotError(ValueError):
    """Bad input for a slot: `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Refused(Exception):
    """A well-formed request the slot's state does not allow (code: past, cancelled, own_slot, ...)."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def cell_of(moment: datetime) -> int:
    """The number of the 5-minute cell that starts at `moment` (which must lie on a boundary)."""
    seconds = int(moment.astimezone(UTC).timestamp())
    if seconds % CELL_SECONDS:
        raise ValueError(f"{moment.isoformat()} is not on a 5-minute boundary")
    return seconds // CELL_SECONDS


def cells(starts_at: datetime, ends_at: datetime) -> list[int]:
    """Every cell the span [starts_at, ends_at) covers, in ascending order (inserts in one order: no deadlock)."""
    first, end = cell_of(starts_at), cell_of(ends_at)
    return list(range(first, end))


@dataclass(frozen=True)
class SlotTimes:
    starts_at: datetime  # UTC, on a 5-minute boundary
    ends_at: datetime  # UTC
    minutes: int

    @property
    def cells(self) -> list[int]:
        return cells(self.starts_at, self.ends_at)


def plan_slot(starts_at: datetime, minutes: int, day_starts: datetime, day_ends: datetime, now: datetime) -> SlotTimes:
    """A new slot's times, checked: 5-30 minutes in steps of 5, on a 5-minute boundary, in the future, inside its
    insight day."""
    if starts_at.tzinfo is None:
        raise SlotError("starts_at", "must include a UTC offset, e.g. 2026-05-04T10:30:00+01:00")
    if not MIN_MINUTES <= minutes <= MAX_MINUTES or minutes % 5:
        raise SlotError("minutes", f"a chat lasts {MIN_MINUTES} to {MAX_MINUTES} minutes, in steps of 5")
    start = starts_at.astimezone(UTC)
    if start.second or start.microsecond or start.minute % 5:
        raise SlotError("starts_at", "chat slots start on a 5-minute mark (10:00, 10:05, 10:10, ...)")
    end = start + timedelta(minutes=minutes)
    if start <= utc(now):
        raise SlotError("starts_at", "must be in the future")
    if start < utc(day_starts) or end > utc(day_ends):
        raise SlotError("starts_at", "the chat must lie within its insight day")
    return SlotTimes(start, end, minutes)


@dataclass(frozen=True)
class SlotState:
    """What booking rules need to know of a slot."""

    author_id: int
    starts_at: datetime
    cancelled: bool


def check_bookable(slot: SlotState, person_id: int, now: datetime) -> None:
    """Whether `person_id` may book (or wait for) the slot. Whether it is free is the database's to say."""
    if slot.cancelled:
        raise Refused("cancelled", "this chat slot was cancelled by its author")
    if utc(slot.starts_at) <= utc(now):
        raise Refused("past", "this chat slot has already started")
    if slot.author_id == person_id:
        raise Refused("own_slot", "you cannot book a chat on your own project", status=403)


def check_changeable(slot: SlotState, now: datetime) -> None:
    """Bookings and slots can be cancelled until the chat starts; after that they are history."""
    if slot.cancelled:
        raise Refused("cancelled", "this chat slot was cancelled by its author")
    if utc(slot.starts_at) <= utc(now):
        raise Refused("past", "this chat has already started; it can no longer be cancelled")


def free_seat(taken: set[int], cap: int) -> int | None:
    """The lowest of an author's `cap` seats for a day that no open slot holds (None: the cap is reached).

    Each open slot holds one seat number, unique per (author, insight day) in the database, so two slots created
    at the same moment cannot both take the last seat."""
    for seat in range(1, cap + 1):
        if seat not in taken:
            return seat
    return None
