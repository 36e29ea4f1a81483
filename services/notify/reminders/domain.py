"""Pure rules of reminders: which offsets of an entry are due now and which of those to send, and the text.

No Flask, no database: the service hands in plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import escape

SEND, SKIP = "send", "skip"
# Why a due reminder is not sent (kept on the row):
STARTED = "started"  # the scan came after the start (a long outage): a reminder now would be noise
BEFORE_BOOKING = "before_booking"  # due before the entry existed (booked 2 hours ahead: no "in 1 day" mail)
SUPERSEDED = "superseded"  # a closer reminder of the same entry is due too: only the closest goes out
ALREADY_REMINDED = "already_reminded"  # sent for an earlier sequence at the same time (only the title changed)

KIND_WORDS = {"chat": "1-1 chat", "breakout": "breakout", "coffee": "coffee"}


@dataclass(frozen=True)
class Due:
    offset_minutes: int
    due_at: datetime
    action: str  # SEND | SKIP
    reason: str = ""


def due_now(
    *,
    starts_at: datetime,
    created_at: datetime,
    offsets: list[timedelta],
    now: datetime,
    already_sent: frozenset[tuple[int, datetime]] = frozenset(),
) -> list[Due]:
    """The reminders of one entry whose time has come (due_at <= now), each to send or to skip.

    `already_sent`: (offset minutes, due_at) of reminders sent for earlier sequences of the same entry.
    """
    due = [
        (int(offset.total_seconds() // 60), starts_at - offset)
        for offset in offsets
        if offset > timedelta(0) and starts_at - offset <= now
    ]
    if not due:
        return []
    closest = min(minutes for minutes, _ in due)
    result: list[Due] = []
    for minutes, due_at in sorted(due, reverse=True):
        if starts_at <= now:
            result.append(Due(minutes, due_at, SKIP, STARTED))
        elif (minutes, due_at) in already_sent:
            result.append(Due(minutes, due_at, SKIP, ALREADY_REMINDED))
        elif due_at < created_at:
            result.append(Due(minutes, due_at, SKIP, BEFORE_BOOKING))
        elif minutes != closest:
            result.append(Due(minutes, due_at, SKIP, SUPERSEDED))
        else:
            result.append(Due(minutes, due_at, SEND))
    return result


def subject_key(entry_id: int, offset_minutes: int) -> str:
    """The notification key's subject (with version = the entry's sequence): one reminder per offset and change."""
    return f"calendar-entry:{entry_id}:{offset_minutes}m"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(at: datetime, timezone: str) -> str:
    """e.g. "Mon 30 Nov, 14:00 (Europe/Paris)": always in the day's own timezone."""
    local = at.astimezone(zone(timezone))
    return f"{local:%a %d %b, %H:%M} ({timezone})"


def time_until(starts_at: datetime, now: datetime) -> str:
    """Rounded to the minute: "in 15 minutes", "in 3 hours 20 minutes", "in 1 day 2 hours"."""
    minutes = max(0, round((starts_at - now).total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} hour" + ("s" if hours != 1 else ""))
    if mins and not days:
        parts.append(f"{mins} minute" + ("s" if mins != 1 else ""))
    return "in " + " ".join(parts) if parts else "now"


@dataclass(frozen=True)
class Text:
    title: str
    text: str
    html: str
    summary: str


def reminder_text(
    *, kind: str, title: str, starts_at: datetime, timezone: str, join_url: str, now: datetime, settings_url: str
) -> Text:
    what = KIND_WORDS.get(kind, kind)
    when = local_time(starts_at, timezone)
    until = time_until(starts_at, now)
    flat_title = " ".join(title.split())
    summary = f"Your {what} “{flat_title}” starts {until}: {when}."
    lines = [summary, ""]
    if join_url:
        lines += [f"Join: {join_url}", ""]
    lines += ["You get this reminder because it is in your Insight Days schedule.", f"Choose when: {settings_url}"]
    join_html = f'<p><a href="{escape(join_url)}">Join</a></p>' if join_url else ""
    html = (
        f"<p>Your {escape(what)} <strong>{escape(flat_title)}</strong> starts {escape(until)}: {escape(when)}.</p>"
        f"{join_html}"
        f'<p>You get this reminder because it is in your Insight Days schedule. <a href="{escape(settings_url)}">'
        "Choose when you get reminders</a>.</p>"
    )
    return Text(title=f"Reminder: {flat_title} {until}", text="\n".join(lines), html=html, summary=summary)
