"""Author chat slots in the matching service: authors open slots on their projects, attendees book, cancel and
wait; the database's unique keys decide every race. The races run against a real gunicorn server (gthread) on
SQLite and on PostgreSQL, with 100 requests at once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from services.matching import service
from services.matching.adapters.orm import Outbox
from services.matching.chat_slots.models import ChatBooking, ChatCell
from shared.auth import Identity
from shared.db import Database
from shared.events import (
    ChatSlotBooked,
    ChatSlotCancelled,
    Envelope,
    ProjectDeleted,
    ProjectPublished,
    ProjectUpdated,
)
from tests.support.identity import identity_header
from tests.support.processes import VENV_BIN, Process, free_port, run_migrations, service_env, wait_until

pytestmark = pytest.mark.integration

ORGANISER, AUTHOR, OTHER_AUTHOR = 1, 10, 11
DAY = {  # 09:00-18:00 in London (BST)
    "title": "Chat day",
    "starts_at": "2030-06-03T08:00:00+00:00",
    "ends_at": "2030-06-03T17:00:00+00:00",
    "timezone": "Europe/London",
}
BEFORE_THE_DAY = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TAKEN = "this chat slot was just taken"


@dataclass
class Clock:
    now: datetime = BEFORE_THE_DAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(make_app, clock: Clock) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("matching", CHAT_SLOTS_CLOCK=clock, CHAT_SLOTS_PER_AUTHOR=3)


def _seed_project(db: Database, project_id: int, owner_id: int, event_id: int, hidden: bool = False) -> None:
    """What matching learns from posters' ProjectPublished (and ProjectUpdated for hidden)."""
    with db.unit_of_work() as session:
        service.keep_project(
            session,
            ProjectPublished(
                project_id=project_id,
                event_id=event_id,
                owner_id=owner_id,
                title=f"P{project_id}",
                themes=[],
                revision=1,
            ),
        )
        if hidden:
            service.keep_project(
                session,
                ProjectUpdated(
                    project_id=project_id,
                    event_id=event_id,
                    owner_id=owner_id,
                    title=f"P{project_id}",
                    themes=[],
                    hidden=True,
                    revision=2,
                ),
            )


@pytest.fixture
def day(app: Flask, as_user) -> int:  # type: ignore[no-untyped-def]
    created = app.test_client().post("/api/v1/events", json=DAY, headers=as_user(app, ORGANISER, "organiser"))
    assert created.status_code == 201
    day_id = int(created.json["id"])
    _seed_project(app.extensions["db"], 5, AUTHOR, day_id)
    _seed_project(app.extensions["db"], 6, OTHER_AUTHOR, day_id)
    return day_id


def _outbox(app: Flask) -> list[Any]:
    with app.extensions["db"].unit_of_work() as session:
        return [Envelope.from_json(r.body).parse() for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def _chat_events(app: Flask) -> list[Any]:
    return [e for e in _outbox(app) if isinstance(e, ChatSlotBooked | ChatSlotCancelled)]


def _open(app: Flask, as_user, starts_at: str, minutes: int = 15, project: int = 5, author: int = AUTHOR):  # type: ignore[no-untyped-def]
    return app.test_client().post(
        f"/api/v1/projects/{project}/chat-slots",
        json={"starts_at": starts_at, "minutes": minutes},
        headers=as_user(app, author, "author"),
    )


def _error(response) -> tuple[int, str, str | None]:  # type: ignore[no-untyped-def]
    error = response.json["error"]
    return response.status_code, error["code"], error["field"]


# --- opening slots ---------------------------------------------------------------------------------------------
def test_author_opens_slots_within_the_day_on_five_minute_marks(app, as_user, day) -> None:  # type: ignore[no-untyped-def]
    first = _open(app, as_user, "2030-06-03T10:00:00+01:00", 15)  # 09:00Z
    assert first.status_code == 201, first.json
    assert (first.json["starts_at"], first.json["ends_at"]) == (
        "2030-06-03T09:00:00+00:00",
        "2030-06-03T09:15:00+00:00",
    )
    assert (first.json["status"], first.json["timezone"], first.json["minutes"]) == ("free", "Europe/London", 15)
    assert _open(app, as_user, "2030-06-03T09:15:00Z", 30).status_code == 201  # right after: no overlap

    listed = app.test_client().get("/api/v1/projects/5/chat-slots", headers=as_user(app, 20))
    assert listed.status_code == 200
    assert [s["starts_at"] for s in listed.json["items"]] == ["2030-06-03T09:00:00+00:00", "2030-06-03T09:15:00+00:00"]
    assert listed.json["timezone"] == "Europe/London" and listed.json["can_manage"] is False
    assert listed.json["day"]["starts_at"] == "2030-06-03T08:00:00+00:00"
    assert app.test_client().get("/api/v1/projects/5/chat-slots", headers=as_user(app, AUTHOR)).json["can_manage"]

    bad = {
        "starts_at": [
            ("2030-06-03T09:02:00Z", 15),  # not on a 5-minute mark
            ("2030-06-03T09:30:30Z", 15),  # seconds
            ("2030-06-03T07:45:00Z", 15),  # before the day starts
            ("2030-06-03T16:50:00Z", 15),  # ends after the day
            ("2030-06-04T10:00:00Z", 5),  # another day
            ("2030-06-03T12:00:00", 15),  # no UTC offset
            ("not a time", 15),
        ],
        "minutes": [("2030-06-03T12:00:00Z", m) for m in (0, 3, 7, 35, 60, -5)] + [("2030-06-03T12:00:00Z", "15")],
    }
    for field, cases in bad.items():
        for starts_at, minutes in cases:
            response = app.test_client().post(
                "/api/v1/projects/5/chat-slots",
                json={"starts_at": starts_at, "minutes": minutes},
                headers=as_user(app, AUTHOR, "author"),
            )
            assert response.status_code == 400, (starts_at, minutes, response.json)
            assert response.json["error"]["field"] == field, (starts_at, minutes, response.json)

    overlapping = _open(app, as_user, "2030-06-03T09:40:00Z", 10)  # inside 09:15-09:45
    assert _error(overlapping) == (409, "overlap", "starts_at")
    not_owner = _open(app, as_user, "2030-06-03T12:00:00Z", author=OTHER_AUTHOR)
    assert _error(not_owner) == (403, "forbidden", None)
    assert _error(_open(app, as_user, "2030-06-03T12:00:00Z", project=404)) == (404, "not_found", None)
    assert [e for e in _outbox(app) if not type(e).__name__.startswith("Event")] == []  # opening announces nothing


def test_slots_in_the_past_and_the_per_day_cap(app, as_user, day, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    clock.now = datetime(2030, 6, 3, 10, 0, tzinfo=UTC)  # the day is under way
    assert _error(_open(app, as_user, "2030-06-03T09:30:00Z")) == (400, "invalid", "starts_at")
    assert _error(_open(app, as_user, "2030-06-03T10:00:00Z")) == (400, "invalid", "starts_at")  # starting now
    ids = [_open(app, as_user, f"2030-06-03T1{h}:00:00Z").json["id"] for h in (1, 2, 3)]
    capped = _open(app, as_user, "2030-06-03T14:00:00Z")  # CHAT_SLOTS_PER_AUTHOR=3 in this app
    assert (
        _error(capped) == (409, "too_many_slots", "starts_at")
        and "3 open chat slots" in capped.json["error"]["message"]
    )
    assert _open(app, as_user, "2030-06-03T14:00:00Z", author=OTHER_AUTHOR, project=6).status_code == 201  # per author
    author = as_user(app, AUTHOR, "author")
    assert app.test_client().delete(f"/api/v1/chat-slots/{ids[0]}", headers=author).status_code == 204
    assert _open(app, as_user, "2030-06-03T14:00:00Z").status_code == 201  # the withdrawn slot's seat is free
    assert _open(app, as_user, "2030-06-03T11:00:00Z").status_code == 409  # and capped again


# --- booking ---------------------------------------------------------------------------------------------------
def test_booking_gives_a_room_and_refuses_taken_past_cancelled_and_own_slots(app, as_user, day, clock) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot = _open(app, as_user, "2030-06-03T09:00:00Z", 15).json["id"]
    alan, grace = as_user(app, 20, "attendee"), as_user(app, 21, "attendee")

    booked = client.post(f"/api/v1/chat-slots/{slot}/booking", headers=alan)
    assert booked.status_code == 201, booked.json
    room_id = booked.json["room_id"]
    assert len(room_id) >= 20  # secrets.token_urlsafe(16): unguessable

    taken = client.post(f"/api/v1/chat-slots/{slot}/booking", headers=grace)
    assert _error(taken) == (409, "taken", "slot") and taken.json["error"]["message"] == "this chat slot was just taken"
    again = client.post(f"/api/v1/chat-slots/{slot}/booking", headers=alan)  # the holder once more: still one
    assert _error(again)[:2] == (409, "taken")
    own = client.post(f"/api/v1/chat-slots/{slot}/booking", headers=as_user(app, AUTHOR, "author"))
    assert _error(own) == (403, "own_slot", "slot")
    assert _error(client.post("/api/v1/chat-slots/999/booking", headers=grace))[:2] == (404, "not_found")

    # Only the two people in the chat see who booked and the room.
    seen_by = {
        who: client.get(f"/api/v1/chat-slots/{slot}", headers=h).json
        for who, h in (("alan", alan), ("grace", grace), ("author", as_user(app, AUTHOR)))
    }
    assert seen_by["alan"]["booking"]["room_id"] == room_id and seen_by["alan"]["booked_by_me"] is True
    assert seen_by["author"]["booking"] == {**seen_by["alan"]["booking"], "attendee_name": "User 20"}
    assert "booking" not in seen_by["grace"] and seen_by["grace"]["status"] == "taken"

    events = _chat_events(app)
    assert len(events) == 1 and isinstance(events[0], ChatSlotBooked)
    assert events[0] == ChatSlotBooked(
        slot_id=slot,
        room_id=room_id,
        project_id=5,
        event_id=day,
        author_id=AUTHOR,
        attendee_id=20,
        starts_at="2030-06-03T09:00:00+00:00",
        ends_at="2030-06-03T09:15:00+00:00",
        revision=events[0].revision,
    )

    withdrawn = _open(app, as_user, "2030-06-03T10:00:00Z").json["id"]
    assert client.delete(f"/api/v1/chat-slots/{withdrawn}", headers=as_user(app, AUTHOR)).status_code == 204
    assert _error(client.post(f"/api/v1/chat-slots/{withdrawn}/booking", headers=grace)) == (409, "cancelled", "slot")
    assert client.get("/api/v1/projects/5/chat-slots", headers=grace).json["items"][-1]["id"] != withdrawn

    later = _open(app, as_user, "2030-06-03T11:00:00Z").json["id"]
    clock.now = datetime(2030, 6, 3, 11, 0, tzinfo=UTC)  # it starts now
    assert _error(client.post(f"/api/v1/chat-slots/{later}/booking", headers=grace)) == (409, "past", "slot")
    assert client.get(f"/api/v1/chat-slots/{later}", headers=grace).json["status"] == "past"
    assert len(_chat_events(app)) == 1  # refusals announce nothing


def test_hidden_and_unknown_projects(app, as_user, day) -> None:  # type: ignore[no-untyped-def]
    _seed_project(app.extensions["db"], 7, AUTHOR, day, hidden=True)
    client = app.test_client()
    slot = _open(app, as_user, "2030-06-03T09:00:00Z", project=7)
    assert slot.status_code == 201  # the author still manages a hidden project
    attendee = as_user(app, 20)
    assert client.get("/api/v1/projects/7/chat-slots", headers=attendee).status_code == 404
    assert client.post(f"/api/v1/chat-slots/{slot.json['id']}/booking", headers=attendee).status_code == 404
    assert client.get("/api/v1/projects/7/chat-slots", headers=as_user(app, 2, "organiser")).status_code == 200
    unknown = client.get("/api/v1/projects/77/chat-slots", headers=attendee)  # not heard of (yet): "not yet"
    assert unknown.status_code == 200 and (unknown.json["known"], unknown.json["items"]) == (False, [])
    assert _error(_open(app, as_user, "2030-06-03T09:00:00Z", project=77)) == (404, "not_found", None)
    with app.extensions["db"].unit_of_work() as session:
        service.forget_project(session, ProjectDeleted(project_id=7, event_id=day, owner_id=AUTHOR, revision=3))
    assert client.get("/api/v1/projects/7/chat-slots", headers=as_user(app, AUTHOR)).status_code == 404  # deleted
    assert client.post(f"/api/v1/chat-slots/{slot.json['id']}/booking", headers=attendee).status_code == 404
    assert client.get("/api/v1/projects/5/chat-slots").status_code == 401  # no identity


def test_nobody_holds_two_overlapping_chats(app, as_user, day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    a = _open(app, as_user, "2030-06-03T09:00:00Z", 30).json["id"]  # 09:00-09:30
    b = _open(app, as_user, "2030-06-03T09:25:00Z", 10, project=6, author=OTHER_AUTHOR).json["id"]  # 09:25-09:35
    c = _open(app, as_user, "2030-06-03T09:30:00Z", 5).json["id"]  # 09:30-09:35, right after a
    alan = as_user(app, 20)
    assert client.post(f"/api/v1/chat-slots/{a}/booking", headers=alan).status_code == 201
    overlap = client.post(f"/api/v1/chat-slots/{b}/booking", headers=alan)
    assert _error(overlap) == (409, "overlap", "slot") and "already have a chat" in overlap.json["error"]["message"]
    assert client.post(f"/api/v1/chat-slots/{c}/booking", headers=alan).status_code == 201  # back to back is fine

    # An author with open slots is busy then too: they cannot book another author's chat over their own slot,
    # nor open a slot over a chat they booked.
    author_b = as_user(app, OTHER_AUTHOR, "author")
    assert _error(client.post(f"/api/v1/chat-slots/{a}/booking", headers=author_b))[:2] == (409, "taken")
    d = _open(app, as_user, "2030-06-03T12:00:00Z", 15).json["id"]
    assert client.post(f"/api/v1/chat-slots/{d}/booking", headers=author_b).status_code == 201
    assert _error(_open(app, as_user, "2030-06-03T12:10:00Z", 10, 6, OTHER_AUTHOR)) == (409, "overlap", "starts_at")

    mine = client.get("/api/v1/me/chat-bookings", headers=alan).json["items"]
    assert [(m["slot_id"], m["role"], m["with"]["id"], m["project_title"]) for m in mine] == [
        (a, "attendee", AUTHOR, "P5"),
        (c, "attendee", AUTHOR, "P5"),
    ]
    as_author = client.get("/api/v1/me/chat-bookings", headers=as_user(app, AUTHOR)).json["items"]
    assert [(m["slot_id"], m["role"], m["with"]["id"]) for m in as_author] == [
        (a, "author", 20),
        (c, "author", 20),
        (d, "author", 11),
    ]
    assert as_author[0]["room_id"] == mine[0]["room_id"] and as_author[0]["timezone"] == "Europe/London"


# --- cancelling and the waitlist -------------------------------------------------------------------------------
def test_cancelling_offers_the_slot_to_the_first_free_person_waiting(app, as_user, day, clock) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot = _open(app, as_user, "2030-06-03T09:00:00Z", 15).json["id"]
    elsewhere = _open(app, as_user, "2030-06-03T09:00:00Z", 15, project=6, author=OTHER_AUTHOR).json["id"]
    alan, grace, ada = as_user(app, 20), as_user(app, 21), as_user(app, 22)
    assert client.post(f"/api/v1/chat-slots/{slot}/waitlist", headers=grace).json["error"]["code"] == "free"
    assert client.post(f"/api/v1/chat-slots/{slot}/booking", headers=alan).status_code == 201

    assert client.post(f"/api/v1/chat-slots/{slot}/waitlist", headers=grace).json == {"slot_id": slot, "position": 1}
    assert client.post(f"/api/v1/chat-slots/{slot}/waitlist", headers=ada).json["position"] == 2
    assert client.post(f"/api/v1/chat-slots/{slot}/waitlist", headers=grace).json["position"] == 1  # joined once
    assert _error(client.post(f"/api/v1/chat-slots/{slot}/waitlist", headers=alan))[:2] == (409, "yours")
    assert _error(client.post(f"/api/v1/chat-slots/{slot}/waitlist", headers=as_user(app, AUTHOR)))[:2] == (
        403,
        "own_slot",
    )
    assert client.get(f"/api/v1/chat-slots/{slot}", headers=ada).json["waitlist_position"] == 2
    waiting = client.get("/api/v1/me/chat-bookings", headers=ada).json["waiting"]
    assert [(w["id"], w["waitlist_position"], w["project_title"]) for w in waiting] == [(slot, 2, "P5")]
    # Grace books another chat at the same time while she waits: when the slot frees up she is busy then.
    assert client.post(f"/api/v1/chat-slots/{elsewhere}/booking", headers=grace).status_code == 201

    # Strangers cannot cancel someone's booking (and learn nothing of it); Alan can.
    assert client.delete(f"/api/v1/chat-slots/{slot}/booking", headers=as_user(app, 23)).status_code == 404
    assert client.delete(f"/api/v1/chat-slots/{slot}/booking", headers=alan).status_code == 204

    state = client.get(f"/api/v1/chat-slots/{slot}", headers=ada).json
    assert state["booked_by_me"] is True and state["waitlist_length"] == 1  # Ada got it; Grace still waits
    ada_room = state["booking"]["room_id"]
    assert client.get(f"/api/v1/chat-slots/{slot}", headers=grace).json["waitlist_position"] == 1
    alan_booked, alan_cancelled, ada_booked = [e for e in _chat_events(app) if e.slot_id == slot]
    assert isinstance(alan_cancelled, ChatSlotCancelled) and alan_cancelled.reason == "attendee_cancelled"
    assert alan_cancelled.room_id == alan_booked.room_id and alan_cancelled.attendee_id == 20
    assert isinstance(ada_booked, ChatSlotBooked) and (ada_booked.attendee_id, ada_booked.room_id) == (22, ada_room)
    assert alan_booked.revision < alan_cancelled.revision < ada_booked.revision
    assert client.get("/api/v1/me/chat-bookings", headers=ada).json["items"][0]["from_waitlist"] is True

    # Grace leaves; the author cancels Ada's booking: nobody waits, the slot is free again.
    assert client.delete(f"/api/v1/chat-slots/{slot}/waitlist", headers=grace).status_code == 204
    assert client.delete(f"/api/v1/chat-slots/{slot}/waitlist", headers=grace).status_code == 404
    assert client.delete(f"/api/v1/chat-slots/{slot}/booking", headers=as_user(app, AUTHOR)).status_code == 204
    assert _chat_events(app)[-1].reason == "author_cancelled"
    assert client.get(f"/api/v1/chat-slots/{slot}", headers=ada).json["status"] == "free"
    assert client.delete(f"/api/v1/chat-slots/{slot}/booking", headers=alan).status_code == 404  # nothing to cancel

    # The author withdraws a booked slot: the booking is cancelled and the attendee is free at that time again.
    assert client.post(f"/api/v1/chat-slots/{slot}/booking", headers=alan).status_code == 201
    assert client.post(f"/api/v1/chat-slots/{slot}/waitlist", headers=ada).status_code == 201
    assert client.delete(f"/api/v1/chat-slots/{slot}", headers=alan).status_code == 403  # not the author's
    assert client.delete(f"/api/v1/chat-slots/{slot}", headers=as_user(app, AUTHOR)).status_code == 204
    last = _chat_events(app)[-1]
    assert isinstance(last, ChatSlotCancelled) and (last.reason, last.attendee_id) == ("slot_cancelled", 20)
    assert client.get("/api/v1/me/chat-bookings", headers=ada).json["waiting"] == []
    assert _error(client.delete(f"/api/v1/chat-slots/{slot}", headers=as_user(app, AUTHOR)))[:2] == (409, "cancelled")
    with app.extensions["db"].unit_of_work() as session:
        assert session.scalars(select(ChatCell).where(ChatCell.slot_id == slot)).all() == []
        assert session.scalars(select(ChatBooking).where(ChatBooking.active_slot_id == slot)).all() == []

    # Once a chat has started it can no longer be cancelled.
    booked = _open(app, as_user, "2030-06-03T13:00:00Z").json["id"]
    assert client.post(f"/api/v1/chat-slots/{booked}/booking", headers=alan).status_code == 201
    clock.now = datetime(2030, 6, 3, 13, 5, tzinfo=UTC)
    assert _error(client.delete(f"/api/v1/chat-slots/{booked}/booking", headers=alan))[:2] == (409, "past")
    assert _error(client.delete(f"/api/v1/chat-slots/{booked}", headers=as_user(app, AUTHOR)))[:2] == (409, "past")


# --- races against a real server -------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    db: Database
    process: Process
    var_dir: Path

    def headers(self, user_id: int, *roles: str) -> dict[str, str]:
        identity = Identity(user_id, f"u{user_id}@example.org", f"User {user_id}", roles=list(roles or ["attendee"]))
        return identity_header(self.var_dir, "matching", identity)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Iterator[Server]:
    """matching under gunicorn (2 processes x 16 threads) on its own database, migrated from empty."""
    extra = {"RATE_LIMITS": "off"}
    if request.param == "postgresql":
        name = f"matching_race_{uuid.uuid4().hex[:8]}"
        extra["MATCHING_DATABASE_URL"] = request.getfixturevalue("postgres_server").create_database(name)
    env = service_env(redis_url, tmp_path / "var", **extra)
    run_migrations("matching", env)
    port = free_port()
    process = Process(
        "matching-race",
        [
            str(VENV_BIN / "gunicorn"),
            "--worker-class",
            "gthread",
            "-w",
            "2",
            "--threads",
            "16",
            "-b",
            f"127.0.0.1:{port}",
            "services.matching:create_app()",
        ],
        env,
        tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    db = Database(extra.get("MATCHING_DATABASE_URL") or f"sqlite:///{tmp_path / 'var' / 'matching.db'}")
    try:
        wait_until(lambda: requests.get(f"{url}/healthz", timeout=2).ok, timeout=60, what="matching /healthz")
        yield Server(url, db, process, tmp_path / "var")
    except Exception:
        print(process.output()[-5000:])
        raise
    finally:
        process.stop()
        db.dispose()


def _at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call in its own thread, all released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _race_setup(server: Server) -> int:
    day = requests.post(f"{server.url}/api/v1/events", json=DAY, headers=server.headers(1, "organiser"), timeout=10)
    assert day.status_code == 201, day.text
    day_id = int(day.json()["id"])
    _seed_project(server.db, 5, AUTHOR, day_id)
    _seed_project(server.db, 6, OTHER_AUTHOR, day_id)
    return day_id


def _open_remote(server: Server, project: int, author: int, starts_at: datetime, minutes: int) -> int:
    response = requests.post(
        f"{server.url}/api/v1/projects/{project}/chat-slots",
        json={"starts_at": starts_at.isoformat(), "minutes": minutes},
        headers=server.headers(author, "author"),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _booked_events(server: Server) -> list[ChatSlotBooked]:
    with server.db.unit_of_work() as session:
        rows = session.scalars(select(Outbox).where(Outbox.type == "ChatSlotBooked")).all()
        return [Envelope.from_json(r.body).parse() for r in rows]  # type: ignore[misc]


def test_hundred_people_book_one_slot_at_once_exactly_one_wins(server: Server) -> None:
    _race_setup(server)
    slot = _open_remote(server, 5, AUTHOR, datetime(2030, 6, 3, 9, 0, tzinfo=UTC), 15)

    def booking(user_id: int) -> Callable[[], requests.Response]:
        headers = server.headers(user_id)  # signed before the race: only the booking itself races
        return lambda: requests.post(f"{server.url}/api/v1/chat-slots/{slot}/booking", headers=headers, timeout=60)

    responses = _at_once([booking(100 + i) for i in range(100)])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 99}, (statuses, [r.text for r in responses if r.status_code not in (201, 409)])
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"taken"}
    assert {r.json()["error"]["message"] for r in responses if r.status_code == 409} == {TAKEN}
    winner = next(r for r in responses if r.status_code == 201).json()

    events = _booked_events(server)
    assert len(events) == 1 and (events[0].slot_id, events[0].room_id) == (slot, winner["room_id"])
    assert events[0].attendee_id == winner["attendee_id"]
    with server.db.unit_of_work() as session:
        assert len(session.scalars(select(ChatBooking).where(ChatBooking.slot_id == slot)).all()) == 1
        assert len(session.scalars(select(ChatCell).where(ChatCell.booking_id.is_not(None))).all()) == 3  # 15 min
    print(f"\n{server.db.engine.dialect.name}: 100 concurrent bookings of one slot -> {dict(statuses)}")


def test_one_person_booking_overlapping_slots_at_once_gets_one(server: Server) -> None:
    _race_setup(server)
    pairs = 10  # ten people, each racing for two overlapping slots of two authors
    calls, people = [], []
    for i in range(pairs):
        start = datetime(2030, 6, 3, 8, 0, tzinfo=UTC) + timedelta(minutes=30 * i)
        a = _open_remote(server, 5, AUTHOR, start, 15)  # hh:00-hh:15
        b = _open_remote(server, 6, OTHER_AUTHOR, start + timedelta(minutes=10), 15)  # hh:10-hh:25
        headers = server.headers(200 + i)
        people.append(200 + i)
        for slot in (a, b):
            calls.append(
                lambda s=slot, h=headers: requests.post(
                    f"{server.url}/api/v1/chat-slots/{s}/booking", headers=h, timeout=60
                )
            )
    responses = _at_once(calls)
    assert Counter(r.status_code for r in responses) == {201: pairs, 409: pairs}, [r.text for r in responses]
    for i in range(pairs):
        pair = responses[2 * i : 2 * i + 2]
        assert sorted(r.status_code for r in pair) == [201, 409], [r.text for r in pair]
        lost = next(r for r in pair if r.status_code == 409).json()["error"]
        assert (lost["code"], lost["field"]) == ("overlap", "slot"), lost
    assert sorted(e.attendee_id for e in _booked_events(server)) == people  # one booking each, announced once
    outcome = f"{pairs} x 201, {pairs} x 409"
    print(f"\n{server.db.engine.dialect.name}: {pairs} people x 2 overlapping slots at once -> {outcome}")
