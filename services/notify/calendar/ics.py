"""iCalendar texts (RFC 5545 / iTIP RFC 5546) with the icalendar library. Pure: no Flask, no database.

Every entry has a stable UID per (kind, subject) - a chat room, a breakout, a coffee group - so a calendar app
updates the same event when a later mail (higher SEQUENCE) or the feed changes it, and removes it on CANCEL.
Times are written in the day's own zone (TZID plus a VTIMEZONE), so they stay right across DST changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Insight Days//notify//EN"
REQUEST, CANCEL, PUBLISH = "REQUEST", "CANCEL", "PUBLISH"
UID_DOMAIN = "insightdays"


@dataclass(frozen=True)
class Item:
    """What a calendar needs of one entry (CalendarEntry rows have these attributes)."""

    kind: str
    subject_id: str
    title: str
    description: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    timezone: str
    join_url: str
    status: str  # active | cancelled
    sequence: int


def uid(kind: str, subject_id: str) -> str:
    return f"{kind}-{subject_id}@{UID_DOMAIN}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local(value: datetime, timezone: str) -> datetime:
    return _utc(value).astimezone(zone(timezone))


def _ical_time(value: datetime, timezone: str) -> datetime:
    """The local time with its TZID, except in the hour a DST change repeats: a local time there means its first
    occurrence (RFC 5545 3.3.5), so the second one is written in UTC instead to keep the exact instant."""
    shown = local(value, timezone)
    return _utc(value) if shown.fold else shown


def _vevent(item: Item, stamp: datetime, *, cancelled: bool, organizer: str, attendee: str | None) -> Event:
    event = Event()
    event.add("uid", uid(item.kind, item.subject_id))
    event.add("dtstamp", _utc(stamp))
    event.add("sequence", item.sequence)
    event.add("dtstart", _ical_time(item.starts_at, item.timezone))
    event.add("dtend", _ical_time(item.ends_at, item.timezone))
    event.add("summary", vText(item.title))
    if item.description:
        event.add("description", vText(item.description))
    if item.join_url:
        event.add("url", item.join_url)
        event.add("location", vText(item.join_url))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if organizer:
        who = vCalAddress(f"mailto:{organizer}")
        who.params["cn"] = vText("Insight Days")
        event.add("organizer", who)
    if attendee:
        person = vCalAddress(f"mailto:{attendee}")
        person.params["role"] = vText("REQ-PARTICIPANT")
        person.params["partstat"] = vText("ACCEPTED")
        event.add("attendee", person)
    return event


def _calendar(method: str | None, name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", vText(name))
    return cal


def _text(cal: Calendar) -> str:
    cal.add_missing_timezones()  # a VTIMEZONE for every TZID used
    return cal.to_ical().decode()


def invite(item: Item, *, organizer: str, attendee: str, now: datetime) -> str:
    """The .ics of a booking mail: METHOD:REQUEST, or METHOD:CANCEL once the entry is cancelled."""
    cancelled = item.status == "cancelled"
    cal = _calendar(CANCEL if cancelled else REQUEST)
    cal.add_component(_vevent(item, now, cancelled=cancelled, organizer=organizer, attendee=attendee))
    return _text(cal)


def published(items: Iterable[Item], *, now: datetime, name: str) -> str:
    """Several entries at once (a person's breakouts after a publication, or the feed): METHOD:PUBLISH, cancelled
    ones kept with STATUS:CANCELLED so a subscribed calendar drops them."""
    cal = _calendar(PUBLISH, name)
    for item in items:
        cal.add_component(_vevent(item, now, cancelled=item.status == "cancelled", organizer="", attendee=None))
    return _text(cal)


def feed(items: Iterable[Item], *, now: datetime, name: str) -> str:
    return published(items, now=now, name=name)
