"""The private calendar feed: by identity and by secret token (stored hashed, revocable, tampering refused)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from icalendar import Calendar
from sqlalchemy import select

from services.notify.calendar.models import CalendarToken
from shared.events import AssignmentsPublished, ChatSlotBooked, ChatSlotCancelled, CoffeePaired
from tests.conftest import identity_headers
from tests.support.notify_stack import NotifyStack, day_created, notify_stack, registered
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

DAY = 3
ME, AUTHOR, OTHER = 1, 2, 3


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotifyStack]:
    with notify_stack(redis_server, tmp_path_factory.mktemp("notify-calendar"), worker=False) as stack:
        stack.deliver(day_created(DAY, timezone="America/New_York"))
        for user_id in (ME, AUTHOR, OTHER):
            stack.deliver(registered(user_id))
        chat = {"slot_id": 1, "project_id": 1, "event_id": DAY, "author_id": AUTHOR, "attendee_id": ME}
        stack.deliver(ChatSlotBooked(room_id="roomKEEP0001", starts_at="2027-03-14T15:00:00+00:00",
                                     ends_at="2027-03-14T15:15:00+00:00", revision=1, **chat).envelope())  # fmt: skip
        stack.deliver(ChatSlotBooked(room_id="roomGONE0002", starts_at="2027-03-14T16:00:00+00:00",
                                     ends_at="2027-03-14T16:15:00+00:00", revision=2, **chat).envelope())  # fmt: skip
        stack.deliver(ChatSlotCancelled(slot_id=1, room_id="roomGONE0002", author_id=AUTHOR, attendee_id=ME,
                                        starts_at="2027-03-14T16:00:00+00:00", ends_at="2027-03-14T16:15:00+00:00",
                                        reason="attendee_cancelled", event_id=DAY, revision=3).envelope())  # fmt: skip
        stack.deliver(
            AssignmentsPublished(
                event_id=DAY,
                run_id=1,
                user_id=ME,
                timezone="America/New_York",
                published_at="2027-03-01T00:00:00+00:00",
                breakouts=[
                    {
                        "breakout_id": 9,
                        "slot_id": 1,
                        "title": "Federated analysis",
                        "theme": "federation",
                        "starts_at": "2027-03-14T13:00:00+00:00",
                        "ends_at": "2027-03-14T14:00:00+00:00",
                        "meeting_url": "https://meet.example.org/9",
                        "reason": "your first choice",
                    }
                ],
            ).envelope()  # fmt: skip
        )
        stack.deliver(CoffeePaired(round_id=1, event_id=DAY, groups=[
            {"group_id": 4, "user_ids": [ME, OTHER], "starts_at": "2027-03-14T17:00:00+00:00",
             "ends_at": "2027-03-14T17:10:00+00:00"}]).envelope())  # fmt: skip
        yield stack


def events_of(body: bytes) -> dict[str, object]:
    calendar = Calendar.from_ical(body)
    assert "METHOD" in calendar and [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_my_feed_has_every_chat_breakout_and_coffee_in_the_days_zone(stack: NotifyStack) -> None:
    client = stack.app.test_client()
    response = client.get("/api/v1/me/calendar.ics", headers=identity_headers(stack.app, ME))
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "private, no-store"
    events = events_of(response.data)
    assert sorted(events) == [
        "breakout-9@insightdays", "chat-roomGONE0002@insightdays", "chat-roomKEEP0001@insightdays",
        "coffee-4@insightdays",
    ]  # fmt: skip
    chat = events["chat-roomKEEP0001@insightdays"]
    # New York moved to summer time that morning (2027-03-14): 15:00 UTC is 11:00 EDT.
    assert chat["DTSTART"].params["TZID"] == "America/New_York"  # type: ignore[index]
    assert chat.decoded("DTSTART").isoformat() == "2027-03-14T11:00:00-04:00"  # type: ignore[attr-defined]
    assert str(events["chat-roomGONE0002@insightdays"]["STATUS"]) == "CANCELLED"  # type: ignore[index]
    assert int(events["chat-roomGONE0002@insightdays"]["SEQUENCE"]) == 1  # type: ignore[index]
    assert str(events["breakout-9@insightdays"]["URL"]) == "https://meet.example.org/9"  # type: ignore[index]

    theirs = events_of(client.get("/api/v1/me/calendar.ics", headers=identity_headers(stack.app, OTHER)).data)
    assert sorted(theirs) == ["coffee-4@insightdays"]  # only their own entries
    assert client.get("/api/v1/me/calendar.ics").status_code == 401


def test_the_secret_feed_url_works_without_a_session_until_replaced_or_revoked(stack: NotifyStack) -> None:
    client = stack.app.test_client()
    mine = identity_headers(stack.app, ME)
    assert client.get("/api/v1/me/calendar-token", headers=mine).get_json() == {"exists": False, "created_at": None}
    for method in ("get", "post", "delete"):
        assert getattr(client, method)("/api/v1/me/calendar-token").status_code == 401

    created = client.post("/api/v1/me/calendar-token", headers=mine)
    assert created.status_code == 201
    token, url = created.get_json()["token"], created.get_json()["url"]
    assert url.endswith(f"/calendar/{token}.ics")
    assert client.get("/api/v1/me/calendar-token", headers=mine).get_json()["exists"] is True
    with stack.db.unit_of_work() as session:
        stored = session.scalars(select(CalendarToken.token_hash).where(CalendarToken.user_id == ME)).one()
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored

    by_token = client.get(f"/api/v1/calendar/{token}.ics")  # no identity at all
    assert by_token.status_code == 200
    assert sorted(events_of(by_token.data)) == sorted(
        events_of(client.get("/api/v1/me/calendar.ics", headers=mine).data)
    )

    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (tampered, token[:-1], token + "x", "not-a-token"):
        refused = client.get(f"/api/v1/calendar/{bad}.ics")
        assert refused.status_code == 404
        assert refused.get_json()["error"]["field"] == "token"

    renewed = client.post("/api/v1/me/calendar-token", headers=mine).get_json()["token"]
    assert client.get(f"/api/v1/calendar/{token}.ics").status_code == 404  # the old one stopped working
    assert client.get(f"/api/v1/calendar/{renewed}.ics").status_code == 200
    assert client.delete("/api/v1/me/calendar-token", headers=mine).status_code == 204
    assert client.get(f"/api/v1/calendar/{renewed}.ics").status_code == 404
    assert client.get("/api/v1/me/calendar-token", headers=mine).get_json()["exists"] is False
