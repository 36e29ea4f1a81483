"""Pure rules of the booking, schedule and coffee notifications: keys, what changed, times in words."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notify.calendar.ics import local

BOOKED, MOVED, CANCELLED = "booked", "moved", "cancelled"
KIND_CHAT = {BOOKED: "chat_booked", MOVED: "chat_moved", CANCELLED: "chat_cancelled"}
KIND_SCHEDULE = "schedule_published"
KIND_COFFEE = "coffee_paired"
KIND_COFFEE_CANCELLED = "coffee_cancelled"
KIND_SCHEDULE_WITHDRAWN = "schedule_withdrawn"
CATEGORY_BOOKINGS, CATEGORY_SCHEDULE = "bookings", "schedule"

CANCEL_REASONS = {
    "attendee_cancelled": "the attendee cancelled",
    "author_cancelled": "the author cancelled",
    "slot_cancelled": "the author withdrew the time slot",
}


def parse_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def when(starts_at: datetime, ends_at: datetime, timezone: str) -> str:
    """'Monday 29 March 2027, 10:30-10:45 (Europe/Berlin)': the day's local time, with the zone named."""
    start, end = local(starts_at, timezone), local(ends_at, timezone)
    day = f"{start:%A} {start.day} {start:%B %Y}"
    if end.date() != start.date():
        return f"{day}, {start:%H:%M} - {end:%A} {end:%H:%M} ({timezone})"
    return f"{day}, {start:%H:%M}-{end:%H:%M} ({timezone})"


def chat_change(existing: tuple[str, datetime, datetime] | None, starts_at: datetime, ends_at: datetime) -> str | None:
    """What a ChatSlotBooked means for a calendar entry (status, start, end) already kept: booked, moved, or
    nothing new (a redelivered copy)."""
    if existing is None:
        return BOOKED
    status, old_start, old_end = existing
    if status == "cancelled":
        return BOOKED
    if (as_utc(old_start), as_utc(old_end)) != (starts_at, ends_at):
        return MOVED
    return None


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def publication_revision(published_at: str) -> int:
    """A publication's order as an integer (microseconds since the epoch): a later one replaces an earlier."""
    return int(parse_utc(published_at).timestamp() * 1_000_000)


def names(people: list[str]) -> str:
    if not people:
        return "someone"
    if len(people) == 1:
        return people[0]
    return ", ".join(people[:-1]) + " and " + people[-1]
