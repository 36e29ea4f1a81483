"""Booking, schedule and coffee deliveries end to end: matching's events into notify's handlers, a real Celery
worker mailing a real SMTP server (aiosmtpd) that counts mails by Message-ID, live pushes on the real Redis."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from icalendar import Calendar
from sqlalchemy import select

from services.notify.adapters.orm import Email
from services.notify.calendar.models import CalendarEntry
from services.notify.consumers import handlers
from services.notify.domain import rules
from shared.bus import Consumer, Publisher
from shared.events import AssignmentsPublished, ChatSlotBooked, ChatSlotCancelled, CoffeePaired, Envelope
from tests.conftest import identity_headers
from tests.support.mail_sink import Received
from tests.support.notify_stack import NotifyStack, day_created, notify_stack, registered
from tests.support.processes import RedisServer, wait_until

pytestmark = pytest.mark.integration

DAY = 7


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotifyStack]:
    with notify_stack(redis_server, tmp_path_factory.mktemp("notify-deliveries")) as stack:
        stack.deliver(day_created(DAY, timezone="Europe/Berlin"))
        yield stack


def booked(room: str, author: int, attendee: int, start: str, end: str, revision: int) -> Envelope:
    return ChatSlotBooked(
        slot_id=1, room_id=room, project_id=3, event_id=DAY, author_id=author, attendee_id=attendee,
        starts_at=start, ends_at=end, revision=revision,
    ).envelope()  # fmt: skip


def invite_of(mail: Received) -> Calendar:
    parts = [p for p in mail.message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "one .ics attachment"
    assert parts[0].get_filename() == "invite.ics"
    calendar = Calendar.from_ical(parts[0].get_payload(decode=True))
    assert parts[0].get_param("method") == str(calendar["METHOD"])  # the iTIP method on the MIME part too
    return calendar


def plain_and_html(mail: Received) -> tuple[str, str]:
    msg = mail.message
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_a_chat_booked_moved_and_cancelled_mails_both_people_with_an_updating_invite(stack: NotifyStack) -> None:
    author, attendee = 11, 12
    stack.deliver(registered(author, "Alice Author"))
    stack.deliver(registered(attendee, "Bob Booker"))
    pubsub = stack.app.extensions["redis"].pubsub()
    pubsub.subscribe("flask-socketio")  # the channel the gateway's Socket.IO server listens on
    pubsub.get_message(timeout=1)

    first = booked("roomAAAA1111", author, attendee, "2027-03-28T08:30:00+00:00", "2027-03-28T08:45:00+00:00", 1)
    stack.deliver(first)
    # 1 welcome + 1 booking each
    mails = {who: stack.wait_for_mails(f"user{who}@example.org", 2)[-1] for who in (author, attendee)}
    for who, other in ((author, "Bob Booker"), (attendee, "Alice Author")):
        mail = mails[who]
        assert mail.message["Subject"] == f"Chat with {other} booked"
        text, html = plain_and_html(mail)
        # The day switches to summer time that morning: 08:30 UTC is 10:30 in Berlin.
        assert "Sunday 28 March 2027, 10:30-10:45 (Europe/Berlin)" in text
        assert "/chats/roomAAAA1111" in text and "10:30-10:45" in html
        unsubscribe = str(mail.message["List-Unsubscribe"])
        assert unsubscribe.startswith("<http") and "/unsubscribe/" in unsubscribe
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        cal = invite_of(mail)
        event = cal.walk("VEVENT")[0]
        assert str(cal["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == "chat-roomAAAA1111@insightdays" and int(event["SEQUENCE"]) == 0
        assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
        assert event.decoded("DTSTART").isoformat() == "2027-03-28T10:30:00+02:00"
        assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    pushed = []
    for _ in range(20):
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "message" and "chat_booked" in str(message["data"]):
            pushed.append(message["data"])
        if len(pushed) == 2:
            break
    assert len(pushed) == 2, "both pushed live"
    assert [n.kind for n in stack.notifications(attendee)][-1] == "chat_booked"

    # The same event again (a redelivery) and a copy under another event id change nothing.
    stack.deliver(first)
    stack.deliver(booked("roomAAAA1111", author, attendee, "2027-03-28T08:30:00+00:00", "2027-03-28T08:45:00+00:00", 1))

    # Moved: same room, new times, higher revision.
    stack.deliver(booked("roomAAAA1111", author, attendee, "2027-03-28T09:00:00+00:00", "2027-03-28T09:15:00+00:00", 2))
    moved = stack.wait_for_mails(f"user{attendee}@example.org", 3)[-1]
    assert moved.message["Subject"] == "Chat with Alice Author moved"
    event = invite_of(moved).walk("VEVENT")[0]
    assert str(event["UID"]) == "chat-roomAAAA1111@insightdays" and int(event["SEQUENCE"]) == 1
    assert "11:00-11:15" in plain_and_html(moved)[0]

    stack.deliver(
        ChatSlotCancelled(
            slot_id=1, room_id="roomAAAA1111", author_id=author, attendee_id=attendee,
            starts_at="2027-03-28T09:00:00+00:00", ends_at="2027-03-28T09:15:00+00:00", reason="author_cancelled",
            project_id=3, event_id=DAY, revision=3,
        ).envelope()  # fmt: skip
    )
    cancelled = stack.wait_for_mails(f"user{attendee}@example.org", 4)[-1]
    cal = invite_of(cancelled)
    assert str(cal["METHOD"]) == "CANCEL" and int(cal.walk("VEVENT")[0]["SEQUENCE"]) == 2
    assert "the author cancelled" in plain_and_html(cancelled)[0]
    stack.wait_for_mails(f"user{author}@example.org", 4)
    with stack.db.unit_of_work() as session:
        entry = session.scalars(select(CalendarEntry).where(CalendarEntry.user_id == attendee)).one()
        assert (entry.status, entry.sequence) == ("cancelled", 2)
    assert [n.kind for n in stack.notifications(attendee)][1:] == ["chat_booked", "chat_moved", "chat_cancelled"]

    # Nothing twice: a later mail to someone else arrives, and still 4 each, all Message-IDs different.
    stack.deliver(registered(19))
    stack.wait_for_mails("user19@example.org", 1)
    for who in (author, attendee):
        got = stack.sink.handler.to(f"user{who}@example.org")
        assert len(got) == 4 and len({m.message_id for m in got}) == 4


def test_the_published_schedule_with_reasons_then_a_republication_and_a_coffee_pairing(stack: NotifyStack) -> None:
    person, partner = 21, 22
    stack.deliver(registered(person, "Carla"))
    stack.deliver(registered(partner, "Dan"))

    def published(run_id: int, at: str, breakouts: list[dict[str, object]]) -> Envelope:
        return AssignmentsPublished(
            event_id=DAY, run_id=run_id, user_id=person, timezone="Europe/Berlin", breakouts=breakouts, published_at=at
        ).envelope()

    first = {"breakout_id": 101, "slot_id": 1, "title": "Linking registries", "theme": "record linkage",
             "starts_at": "2027-03-28T09:00:00+00:00", "ends_at": "2027-03-28T10:00:00+00:00",
             "meeting_url": "https://meet.example.org/101", "reason": "your first choice"}  # fmt: skip
    second = {**first, "breakout_id": 102, "title": "Consent at scale", "theme": "consent",
              "starts_at": "2027-03-28T11:00:00+00:00", "ends_at": "2027-03-28T12:00:00+00:00",
              "meeting_url": "", "reason": "your second choice; mixes 4 organisations"}  # fmt: skip
    stack.deliver(published(1, "2027-03-01T10:00:00+00:00", [first, second]))
    mail = stack.wait_for_mails(f"user{person}@example.org", 2)[-1]
    assert mail.message["Subject"] == "Your breakouts for Health data day"
    text, html = plain_and_html(mail)
    assert "Why you are here: your first choice" in text and "mixes 4 organisations" in html
    assert "Sunday 28 March 2027, 11:00-12:00 (Europe/Berlin)" in text
    cal = invite_of(mail)
    assert str(cal["METHOD"]) == "PUBLISH"
    assert sorted(str(e["UID"]) for e in cal.walk("VEVENT")) == ["breakout-101@insightdays", "breakout-102@insightdays"]

    # Republished: only breakout 102 now, at another time; an older copy of the first arriving late changes nothing.
    stack.deliver(published(2, "2027-03-02T10:00:00+00:00", [{**second, "starts_at": "2027-03-28T12:00:00+00:00",
                                                              "ends_at": "2027-03-28T13:00:00+00:00"}]))  # fmt: skip
    stack.deliver(published(1, "2027-03-01T10:00:00+00:00", [first, second]))
    again = stack.wait_for_mails(f"user{person}@example.org", 3)[-1]
    assert "replaces the earlier schedule" in plain_and_html(again)[0]
    events = {str(e["UID"]): e for e in invite_of(again).walk("VEVENT")}
    assert str(events["breakout-101@insightdays"]["STATUS"]) == "CANCELLED"
    assert int(events["breakout-102@insightdays"]["SEQUENCE"]) == 1
    with stack.db.unit_of_work() as session:
        mine = select(CalendarEntry).where(CalendarEntry.user_id == person, CalendarEntry.kind == "breakout")
        rows = {e.subject_id: (e.status, e.sequence) for e in session.scalars(mine)}
    assert rows == {"101": ("cancelled", 1), "102": ("active", 1)}

    stack.deliver(
        CoffeePaired(
            round_id=5, event_id=DAY,
            groups=[{"group_id": 77, "user_ids": [person, partner], "starts_at": "2027-03-28T13:00:00+00:00",
                     "ends_at": "2027-03-28T13:15:00+00:00"}],
        ).envelope()  # fmt: skip
    )
    for who, other in ((person, "Dan"), (partner, "Carla")):
        mail = stack.wait_for_mails(f"user{who}@example.org", 4 if who == person else 2)[-1]
        assert mail.message["Subject"] == f"Coffee with {other}"
        text, _ = plain_and_html(mail)
        assert f"/events/{DAY}/coffee#round-5" in text and "15:00-15:15" in text
        assert str(invite_of(mail).walk("VEVENT")[0]["UID"]) == "coffee-77@insightdays"
    assert {n.kind for n in stack.notifications(partner)} == {"welcome", "coffee_paired"}


def test_a_header_injection_in_a_display_name_or_a_title_adds_no_header(stack: NotifyStack) -> None:
    eve, host, day = 31, 32, DAY + 1
    stack.deliver(day_created(day, title="Open day\r\nBcc: victim@example.org", timezone="UTC"))
    stack.deliver(registered(eve, "Eve\r\nBcc: victim@example.org"))
    stack.deliver(registered(host, "Host\nBcc: victim2@example.org"))
    stack.deliver(
        AssignmentsPublished(
            event_id=day, run_id=1, user_id=eve, timezone="UTC", published_at="2027-03-01T10:00:00+00:00",
            breakouts=[{"breakout_id": 301, "slot_id": 1, "title": "Tables\r\nBcc: victim3@example.org",
                        "theme": "x", "starts_at": "2027-03-28T09:00:00+00:00",
                        "ends_at": "2027-03-28T10:00:00+00:00", "meeting_url": "", "reason": ""}],
        ).envelope()  # fmt: skip
    )
    stack.deliver(booked("roomEEEE3131", host, eve, "2027-03-28T12:00:00+00:00", "2027-03-28T12:15:00+00:00", 1))
    got = stack.wait_for_mails(f"user{eve}@example.org", 3) + stack.wait_for_mails(f"user{host}@example.org", 2)
    for mail in got:
        msg = mail.message
        assert msg["Bcc"] is None and mail.rcpt_tos in (("user31@example.org",), ("user32@example.org",))
        assert len(msg.get_all("To")) == 1 and len(msg["To"].addresses) == 1
        assert "\r" not in str(msg["Subject"]) and "\n" not in str(msg["Subject"])
    assert not [r for r in stack.sink.handler.received() if any("victim" in a for a in r.rcpt_tos)]
    schedule = [m for m in got if str(m.message["Subject"]).startswith("Your breakouts")][0]
    assert str(schedule.message["Subject"]) == "Your breakouts for Open day Bcc: victim@example.org"


def test_a_refused_address_fails_that_mail_only_and_organisers_see_it(stack: NotifyStack) -> None:
    good, bad = 41, 42
    stack.deliver(registered(good, "Gina"))
    stack.deliver(registered(bad, "Bert", email="bounce42@example.org"))  # the sink answers 550 to this one
    stack.deliver(booked("roomFFFF4141", good, bad, "2027-03-28T14:00:00+00:00", "2027-03-28T14:15:00+00:00", 1))
    stack.wait_for_mails(f"user{good}@example.org", 2)

    def failed() -> list[Email]:
        return [e for e in stack.emails("bounce42@example.org") if e.status == rules.FAILED]

    wait_until(lambda: len(failed()) == 2, timeout=60, what=f"both of Bert's mails failed\n{stack.log()}")
    assert all("550" in (e.last_error or "") and e.attempts == 1 for e in failed())

    client = stack.app.test_client()
    assert client.get("/api/v1/notify/failed-emails", headers=identity_headers(stack.app, good)).status_code == 403
    organiser = identity_headers(stack.app, 1000, "organiser")
    listed = client.get("/api/v1/notify/failed-emails", headers=organiser).get_json()["items"]
    mine = [i for i in listed if i["to_address"] == "bounce42@example.org"]
    assert {i["status"] for i in mine} == {"failed"} and len(mine) == 2
    assert {i["subject"] for i in mine} == {"Welcome to Insight Days, Bert", "Chat with Gina booked"}

    sent = [e for e in stack.emails(f"user{good}@example.org")]
    assert client.post(f"/api/v1/notify/emails/{sent[0].id}/resend", headers=organiser).status_code == 409
    assert client.post("/api/v1/notify/emails/999999/resend", headers=organiser).status_code == 404
    response = client.post(f"/api/v1/notify/emails/{mine[0]['id']}/resend", headers=organiser)
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    wait_until(lambda: len(failed()) == 2 and all(e.attempts == 1 for e in failed()), timeout=60,
               what="the resent mail refused again")  # fmt: skip


def test_an_event_for_an_unknown_user_is_skipped_with_a_log_line(
    stack: NotifyStack, caplog: pytest.LogCaptureFixture
) -> None:
    known = 51
    stack.deliver(registered(known, "Kim"))
    with caplog.at_level(logging.WARNING, logger="services.notify.outgoing"):
        stack.deliver(booked("roomGGGG5151", known, 5999, "2027-03-28T15:00:00+00:00", "2027-03-28T15:15:00+00:00", 1))
    skipped = [r for r in caplog.records if r.getMessage() == "notification for an unknown user skipped"]
    assert len(skipped) == 1 and skipped[0].user_id == 5999  # type: ignore[attr-defined]
    assert stack.wait_for_mails(f"user{known}@example.org", 2)[-1].message["Subject"] == "Chat with someone booked"
    assert stack.notifications(5999) == []


def test_a_malformed_event_goes_to_the_dead_letters_and_the_consumer_goes_on(stack: NotifyStack) -> None:
    redis = stack.app.extensions["redis"]
    consumer = Consumer(redis, "notify", handlers(stack.app), max_deliveries=2, claim_idle_ms=0)
    consumer.ensure_group()
    stack.deliver(registered(61, "Lee"))
    stack.deliver(registered(62, "Mo"))
    malformed = Envelope(type="ChatSlotBooked", payload={"room_id": "roomHHHH6161", "author_id": 61})
    good = CoffeePaired(
        round_id=9, event_id=DAY,
        groups=[{"group_id": 99, "user_ids": [61, 62], "starts_at": "2027-03-28T16:00:00+00:00",
                 "ends_at": "2027-03-28T16:15:00+00:00"}],
    ).envelope()  # fmt: skip
    publisher = Publisher(redis)
    publisher.publish_raw(malformed)
    publisher.publish_raw(good)
    for _ in range(8):
        consumer.run_once(block_ms=50)
    dead = redis.xrange(consumer.dead_letter_stream)
    assert [json.loads(fields["event"])["event_id"] for _, fields in dead] == [malformed.event_id]
    assert redis.xpending(consumer.stream, "notify")["pending"] == 0
    assert {n.kind for n in stack.notifications(61)} == {"welcome", "coffee_paired"}
    assert stack.wait_for_mails("user62@example.org", 2)[-1].message["Subject"] == "Coffee with Lee"
