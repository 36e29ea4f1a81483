"""Reminders against a real database through the real outgoing.notify: which are made, moved, dropped, never
twice. The clock is an argument of the use cases, so each case picks its own `now` instead of waiting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from services.notify.adapters.orm import Email, Notification, Recipient
from services.notify.calendar.models import CalendarEntry
from services.notify.preferences import service as preferences
from services.notify.reminders import domain, service
from services.notify.reminders.models import PENDING, SENT, SKIPPED, VOID, Reminder

pytestmark = pytest.mark.integration

SETTINGS_URL = "http://127.0.0.1:8000/preferences"
START = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # 14:00 in Paris
BOOKED = START - timedelta(days=10)


@pytest.fixture
def app(make_app) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = make_app("notify")
    with app.extensions["db"].unit_of_work() as session:
        for user_id in (1, 2, 3):
            session.add(Recipient(user_id=user_id, email=f"user{user_id}@example.org", display_name=f"P{user_id}"))
    yield app


def add_entry(
    app: Flask,
    user_id: int = 1,
    *,
    starts_at: datetime = START,
    created_at: datetime = BOOKED,
    kind: str = "chat",
    subject_id: str = "room-1",
) -> int:
    with app.extensions["db"].unit_of_work() as session:
        entry = CalendarEntry(
            user_id=user_id,
            kind=kind,
            subject_id=subject_id,
            event_id=7,
            title="Sharing \r\nBcc: x@evil.org data",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=15),
            timezone="Europe/Paris",
            join_url="/chat-rooms/room-1",
            created_at=created_at,
            sequence=0,
        )
        session.add(entry)
        session.flush()
        return entry.id


def change_entry(app: Flask, entry_id: int, **values: object) -> None:
    with app.extensions["db"].unit_of_work() as session:
        entry = session.get(CalendarEntry, entry_id)
        assert entry is not None
        for name, value in values.items():
            setattr(entry, name, value)
        entry.sequence += 1


def scan(app: Flask, now: datetime) -> list[int]:
    """What the beat task does, at `now`: materialise, void, send each pending one."""
    db = app.extensions["db"]
    service.materialise_due(db, now)
    service.void_stale(db)
    return service.send_batch(db, service.pending_ids(db), now, SETTINGS_URL)


def reminders(app: Flask) -> list[Reminder]:
    with app.extensions["db"].unit_of_work() as session:
        return list(session.scalars(select(Reminder).order_by(Reminder.id)))


def emails(app: Flask) -> list[Email]:
    with app.extensions["db"].unit_of_work() as session:
        return list(session.scalars(select(Email).order_by(Email.id)))


def notifications(app: Flask) -> list[Notification]:
    with app.extensions["db"].unit_of_work() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_one_day_and_fifteen_minutes_before_each_once_in_the_days_timezone(app: Flask) -> None:
    entry_id = add_entry(app)
    assert scan(app, START - timedelta(days=1, minutes=1)) == []  # not due yet

    first = scan(app, START - timedelta(days=1) + timedelta(seconds=20))
    assert len(first) == 1
    assert scan(app, START - timedelta(hours=20)) == []  # a second scan: nothing more
    second = scan(app, START - timedelta(minutes=14))
    assert len(second) == 1
    assert scan(app, START - timedelta(minutes=1)) == []

    rows = reminders(app)
    assert [(r.offset_minutes, r.status, r.sequence) for r in rows] == [(1440, SENT, 0), (15, SENT, 0)]
    mails = emails(app)
    assert [m.category for m in mails] == ["reminders", "reminders"]
    assert all(m.to_address == "user1@example.org" for m in mails)
    # Shown in the day's timezone (13:00 UTC is 14:00 in Paris), with the time left at the scan.
    assert "Thu 03 Dec, 14:00 (Europe/Paris)" in mails[1].body and "in 14 minutes" in mails[1].body
    assert "\r" not in mails[1].subject and "\n" not in mails[1].subject  # a title cannot add a header
    keys = [(n.kind, n.subject_key, n.version) for n in notifications(app)]
    assert keys == [
        ("reminder", domain.subject_key(entry_id, 1440), 0),
        ("reminder", domain.subject_key(entry_id, 15), 0),
    ]


def test_a_moved_entry_gets_new_reminders_and_a_retitled_one_does_not(app: Flask) -> None:
    entry_id = add_entry(app)
    assert len(scan(app, START - timedelta(days=1))) == 1
    change_entry(app, entry_id, title="New title")  # sequence 1, same time: already reminded for it
    assert scan(app, START - timedelta(hours=23)) == []
    later = START + timedelta(hours=2)
    change_entry(app, entry_id, starts_at=later)  # sequence 2: moved, so a new reminder is due
    assert len(scan(app, later - timedelta(days=1))) == 1
    assert len(scan(app, later - timedelta(minutes=15))) == 1
    rows = [(r.offset_minutes, r.sequence, r.status, r.reason) for r in reminders(app)]
    assert rows == [
        (1440, 0, SENT, ""),
        (1440, 1, SKIPPED, domain.ALREADY_REMINDED),
        (1440, 2, SENT, ""),
        (15, 2, SENT, ""),
    ]
    assert [n.version for n in notifications(app)] == [0, 2, 2]


def test_a_cancelled_entry_is_never_reminded_even_racing_the_send(app: Flask) -> None:
    cancelled_early = add_entry(app, 1)
    racing = add_entry(app, 2, subject_id="room-2")
    change_entry(app, cancelled_early, status="cancelled")
    now = START - timedelta(days=1)
    db = app.extensions["db"]
    assert service.materialise_due(db, now) == 1  # only the active one
    # The cancellation lands between materialising and sending: the send's own re-check voids it.
    change_entry(app, racing, status="cancelled")
    assert [service.send_one(db, rid, now, SETTINGS_URL) for rid in service.pending_ids(db)] == [None]
    assert [(r.entry_id, r.status) for r in reminders(app)] == [(racing, VOID)]
    assert scan(app, START - timedelta(minutes=10)) == []
    assert emails(app) == [] and notifications(app) == []


def test_a_stale_pending_reminder_is_voided_by_the_next_scan(app: Flask) -> None:
    entry_id = add_entry(app)
    db = app.extensions["db"]
    service.materialise_due(db, START - timedelta(days=1))  # a scan killed right after materialising
    change_entry(app, entry_id, starts_at=START + timedelta(days=2))
    assert service.void_stale(db) == 1
    assert [r.status for r in reminders(app)] == [VOID]
    assert emails(app) == []


def test_late_bookings_outages_and_personal_offsets(app: Flask) -> None:
    # Booked 2 hours ahead: no "in 1 day" reminder, the 15-minute one goes.
    late = add_entry(app, 1, created_at=START - timedelta(hours=2))
    assert scan(app, START - timedelta(hours=1)) == []
    assert len(scan(app, START - timedelta(minutes=15))) == 1
    # After an outage both reminders are due at once: only the closer one goes out.
    add_entry(app, 2, subject_id="room-2")
    assert len(scan(app, START - timedelta(minutes=5))) == 1
    # Nothing once it has started.
    add_entry(app, 3, subject_id="room-3")
    assert scan(app, START + timedelta(minutes=1)) == []
    rows = {(r.user_id, r.offset_minutes): (r.status, r.reason) for r in reminders(app)}
    assert rows[(1, 1440)] == (SKIPPED, domain.BEFORE_BOOKING) and rows[(1, 15)] == (SENT, "")
    assert rows[(2, 1440)] == (SKIPPED, domain.SUPERSEDED) and rows[(2, 15)] == (SENT, "")
    assert (3, 15) not in rows  # starts_at passed: not even materialised
    assert late

    # A person's own offsets: 2 hours only.
    preferences.change_settings(app.extensions["db"], 1, preferences.Changes(reminder_offsets_minutes=[120]))
    other = START + timedelta(days=3)
    add_entry(app, 1, starts_at=other, subject_id="breakout-9", kind="breakout")
    assert scan(app, other - timedelta(days=1)) == []
    assert len(scan(app, other - timedelta(hours=2))) == 1
    assert scan(app, other - timedelta(minutes=15)) == []


def test_the_persons_channel_choices_are_honoured(app: Flask) -> None:
    db = app.extensions["db"]
    preferences.change_settings(db, 1, preferences.Changes(categories={"reminders": {"in_app": True, "email": "off"}}))
    preferences.change_settings(db, 2, preferences.Changes(categories={"reminders": {"in_app": False, "email": "now"}}))
    add_entry(app, 1)
    add_entry(app, 2, subject_id="room-2")
    assert len(scan(app, START - timedelta(days=1))) == 2
    shown = {n.user_id: n.in_app for n in notifications(app)}
    assert shown == {1: True, 2: False}
    assert [m.to_address for m in emails(app)] == ["user2@example.org"]
    assert all(r.status == SENT for r in reminders(app))
    assert PENDING not in {r.status for r in reminders(app)}
