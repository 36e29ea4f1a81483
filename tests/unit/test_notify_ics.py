"""The .ics texts and the delivery rules, pure: no server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from icalendar import Calendar

from services.notify.adapters import mailer
from services.notify.calendar import ics
from services.notify.deliveries import domain

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
CHAT = ics.Item(
    kind="chat",
    subject_id="room1234abcd",
    title="1-1 chat with Ada",
    description="A 1-1 chat",
    starts_at=datetime(2027, 10, 31, 0, 30, tzinfo=UTC),  # the night Europe/London leaves summer time
    ends_at=datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
    timezone="Europe/London",
    join_url="https://days.example.org/chats/room1234abcd",
    status="active",
    sequence=0,
)


def parse(text: str) -> Calendar:
    return Calendar.from_ical(text)


def test_an_invite_is_a_request_with_a_stable_uid_and_the_days_zone() -> None:
    cal = parse(ics.invite(CHAT, organizer="no-reply@insightdays.local", attendee="bob@example.org", now=NOW))
    assert str(cal["METHOD"]) == "REQUEST" and str(cal["VERSION"]) == "2.0"
    event = cal.walk("VEVENT")[0]
    assert str(event["UID"]) == "chat-room1234abcd@insightdays" and int(event["SEQUENCE"]) == 0
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    # 00:30 UTC is 01:30 BST; 01:30 UTC is 01:30 GMT (the clock went back). A local 01:30 would mean the first
    # one (RFC 5545), so the end is written in UTC: both exact instants survive, the chat lasts an hour.
    assert event.decoded("DTSTART").isoformat() == "2027-10-31T01:30:00+01:00"
    assert event.decoded("DTEND") == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    assert (event.decoded("DTEND") - event.decoded("DTSTART")).total_seconds() == 3600
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]
    assert str(event["ORGANIZER"]) == "mailto:no-reply@insightdays.local"
    assert str(event["ATTENDEE"]) == "mailto:bob@example.org"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_a_change_keeps_the_uid_and_a_cancellation_is_method_cancel() -> None:
    moved = replace(CHAT, sequence=1, starts_at=datetime(2027, 10, 31, 9, 0, tzinfo=UTC))
    cancelled = replace(moved, sequence=2, status="cancelled")
    a, b = (parse(ics.invite(i, organizer="o@x.org", attendee="p@x.org", now=NOW)) for i in (moved, cancelled))
    assert str(a.walk("VEVENT")[0]["UID"]) == str(b.walk("VEVENT")[0]["UID"]) == "chat-room1234abcd@insightdays"
    assert (int(a.walk("VEVENT")[0]["SEQUENCE"]), int(b.walk("VEVENT")[0]["SEQUENCE"])) == (1, 2)
    assert str(b["METHOD"]) == "CANCEL" and str(b.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


def test_a_feed_has_one_vtimezone_per_zone_and_keeps_cancelled_entries() -> None:
    breakout = replace(CHAT, kind="breakout", subject_id="9", timezone="Asia/Tokyo", title="Federation")
    gone = replace(CHAT, subject_id="roomgone", status="cancelled", sequence=3)
    cal = parse(ics.feed([CHAT, breakout, gone], now=NOW, name="Insight Days"))
    assert sorted(str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")) == ["Asia/Tokyo", "Europe/London"]
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert events["breakout-9@insightdays"].decoded("DTSTART").isoformat() == "2027-10-31T09:30:00+09:00"
    assert str(events["chat-roomgone@insightdays"]["STATUS"]) == "CANCELLED"
    assert str(cal["X-WR-CALNAME"]) == "Insight Days"


def test_an_unknown_zone_falls_back_to_utc_instead_of_failing() -> None:
    cal = parse(ics.invite(replace(CHAT, timezone="Mars/Olympus"), organizer="o@x.org", attendee="", now=NOW))
    assert cal.walk("VEVENT")[0].decoded("DTSTART") == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_times_in_words_are_in_the_days_zone() -> None:
    start, end = datetime(2027, 3, 28, 8, 30, tzinfo=UTC), datetime(2027, 3, 28, 8, 45, tzinfo=UTC)
    assert domain.when(start, end, "Europe/Berlin") == "Sunday 28 March 2027, 10:30-10:45 (Europe/Berlin)"
    assert domain.when(start, end, "America/New_York") == "Sunday 28 March 2027, 04:30-04:45 (America/New_York)"


def test_a_booking_seen_again_is_nothing_new_and_new_times_are_a_move() -> None:
    start, end = datetime(2027, 3, 28, 8, 30, tzinfo=UTC), datetime(2027, 3, 28, 8, 45, tzinfo=UTC)
    naive = start.replace(tzinfo=None)  # SQLite hands back naive UTC
    assert domain.chat_change(None, start, end) == domain.BOOKED
    assert domain.chat_change(("active", naive, end.replace(tzinfo=None)), start, end) is None
    assert domain.chat_change(("active", naive, end.replace(tzinfo=None)), end, end.replace(minute=59)) == domain.MOVED
    assert domain.chat_change(("cancelled", naive, end), start, end) == domain.BOOKED
    assert domain.publication_revision("2027-03-02T10:00:00+00:00") > domain.publication_revision(
        "2027-03-02T09:59:59.999999+00:00"
    )


def test_a_line_break_in_a_display_name_or_subject_cannot_start_a_header() -> None:
    msg = mailer.build(
        to=mailer.address("Eve\r\nBcc: victim@example.org", "eve@example.org"),
        subject="Project\r\nBcc: victim@example.org",
        body="hello",
        mail_from="Insight Days <no-reply@insightdays.local>",
        message_id="<notify-email-1@insightdays.local>",
        list_unsubscribe="https://days.example.org/unsubscribe/abc",
    )
    raw = msg.as_bytes()
    assert b"\r\nBcc:" not in raw and msg["Bcc"] is None
    assert mailer.envelope_addresses(msg) == ("no-reply@insightdays.local", ["eve@example.org"])
    assert str(msg["Subject"]) == "Project Bcc: victim@example.org"
    assert msg["List-Unsubscribe"] == "<https://days.example.org/unsubscribe/abc>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
