"""Chat rooms as production runs them: two gateway processes (the Procfile's gunicorn) sharing one real Redis and DB,
the gateway bus consuming matching's ChatSlotBooked/ChatSlotCancelled from the stream, python-socketio clients.

One system per module; each test makes its own people and rooms.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from shared.bus import EVENTS_STREAM, Publisher
from shared.events import ChatSlotBooked, ChatSlotCancelled, utcnow
from tests.support.processes import (
    VENV_BIN,
    Process,
    RedisServer,
    flask_command,
    free_port,
    gunicorn_args,
    run_migrations,
    service_env,
    wait_until,
)

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
FLOOD_BURST = 5
_ids = itertools.count(1)


@dataclass
class Gateways:
    urls: list[str]
    redis: RedisServer
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.urls[0]


@pytest.fixture(scope="module")
def gateways(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    redis_server.client().flushall()
    tmp: Path = tmp_path_factory.mktemp("chat")
    env = service_env(
        redis_server.url, tmp / "var", RATE_LIMITS="on", CHAT_FLOOD_BURST=str(FLOOD_BURST), CHAT_FLOOD_PER_S="0.5"
    )
    run_migrations("gateway", env)
    ports = [free_port(), free_port()]
    system = Gateways([f"http://127.0.0.1:{p}" for p in ports], redis_server, env)
    try:
        for i, port in enumerate(ports):
            system.processes.append(Process(f"gateway-{i}", gunicorn_args("gateway", port), env, tmp))
        system.processes.append(flask_command("gateway", "bus", env, tmp))
        for url in system.urls:
            wait_until(lambda u=url: requests.get(f"{u}/healthz", timeout=2).ok, timeout=60, what=f"{url} /healthz")
        yield system
    except Exception:
        for p in system.processes:
            print(p.output()[-3000:])
        raise
    finally:
        for p in system.processes:
            p.terminate()
        for p in system.processes:
            p.stop()


@dataclass
class Person:
    id: int
    token: str
    email: str

    def api(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        return session


def person(url: str, name: str, role: str = "attendee") -> Person:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "Org", "region": "N"}
    if role:
        body["role"] = role
    created = requests.post(f"{url}/api/v1/auth/register", json=body, timeout=30)
    assert created.status_code == 201, created.text
    return Person(created.json()["id"], login(url, email), email)


def login(url: str, email: str) -> str:
    answer = requests.post(f"{url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def organiser(system: Gateways, name: str = "orga") -> Person:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.org"
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", email, "--password", PASSWORD],
        env=system.env,
        check=True,
        capture_output=True,
    )
    token = login(system.url, email)
    me = requests.get(f"{system.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    return Person(me["id"], token, email)


def book_room(system: Gateways, author: Person, attendee: Person, minutes_left: float = 60) -> str:
    """What matching announces when a chat is booked; the gateway's bus process opens the room."""
    room_id = uuid.uuid4().hex
    now = utcnow()
    event = ChatSlotBooked(
        slot_id=next(_ids),
        room_id=room_id,
        project_id=7,
        event_id=3,
        author_id=author.id,
        attendee_id=attendee.id,
        starts_at=(now - timedelta(minutes=5)).isoformat(),
        ends_at=(now + timedelta(minutes=minutes_left)).isoformat(),
        revision=1,
    )
    Publisher(system.redis.client()).publish(event.envelope())
    wait_until(
        lambda: author.api().get(f"{system.url}/api/v1/chat-rooms/{room_id}", timeout=5).status_code == 200,
        what="room opened by the gateway's consumer",
    )
    return room_id


class Client:
    """A python-socketio client on /chat that records every message, presence and typing event it receives."""

    def __init__(self, url: str, token: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        for name in ("message", "presence", "typing", "muted", "follow_up"):
            self.sio.on(name, self._recorder(name), namespace="/chat")
        self.sio.connect(url, namespaces=["/chat"], transports=["websocket"], auth={"token": token}, wait_timeout=15)

    def _recorder(self, name: str):  # type: ignore[no-untyped-def]
        def record(data: Any) -> None:
            with self.lock:
                self.events.append((name, data))

        return record

    def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.sio.call(event, data, namespace="/chat", timeout=15)

    def send(self, room_id: str, text: str, client_id: str | None = None) -> dict[str, Any]:
        return self.call("message", {"room_id": room_id, "client_id": client_id or uuid.uuid4().hex, "text": text})

    def received(self, name: str = "message", room_id: str | None = None) -> list[Any]:
        with self.lock:
            return [d for n, d in self.events if n == name and (room_id is None or d.get("room_id") == room_id)]

    def close(self) -> None:
        self.sio.disconnect()


GONE = (socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError)


def error_code(ack: dict[str, Any]) -> str | None:
    return (ack.get("error") or {}).get("code")


def stream_events(system: Gateways, kind: str) -> list[dict[str, Any]]:
    entries = system.redis.client().xrange(EVENTS_STREAM)
    return [json.loads(fields["event"])["payload"] for _id, fields in entries if fields.get("type") == kind]


def test_chat_across_two_gateway_processes_persisted_then_broadcast_once(gateways: Gateways) -> None:
    author, attendee = person(gateways.url, "ada", "author"), person(gateways.url, "bob")
    room_id = book_room(gateways, author, attendee)
    a = Client(gateways.urls[0], author.token)
    b = Client(gateways.urls[1], attendee.token)
    try:
        joined = a.call("join", {"room_id": room_id})
        assert joined["ok"] and joined["room"]["messages"] == []
        assert b.call("join", {"room_id": room_id})["ok"]
        wait_until(lambda: {author.id, attendee.id} <= set((a.received("presence") or [{}])[-1].get("users", [])))

        ack = a.send(room_id, "hello from process one", client_id="a-1")
        assert ack["ok"] and ack["created"] and isinstance(ack["message"]["id"], int)
        wait_until(lambda: b.received("message", room_id), what="the message on the other process")
        got = b.received("message", room_id)[0]
        assert got["id"] == ack["message"]["id"] and got["sender_id"] == author.id
        assert got["text"] == "hello from process one" and got["sent_at"].endswith("+00:00")

        # The same client id again (a reconnecting page re-sending): stored once, same server id.
        again = a.send(room_id, "hello from process one", client_id="a-1")
        assert again["ok"] and not again["created"] and again["message"]["id"] == ack["message"]["id"]
        reply = b.send(room_id, "hi from process two", client_id="b-1")
        wait_until(lambda: len({m["id"] for m in a.received("message", room_id)}) == 2, what="both messages on a")
        stored = author.api().get(f"{gateways.url}/api/v1/chat-rooms/{room_id}/messages", timeout=10).json()
        assert [m["id"] for m in stored["items"]] == [ack["message"]["id"], reply["message"]["id"]]

        # Both wrote: ChatHeld exactly once, through the gateway's outbox.
        wait_until(lambda: [e for e in stream_events(gateways, "ChatHeld") if e["room_id"] == room_id])
        b.send(room_id, "and once more")
        time.sleep(0.5)
        held = [e for e in stream_events(gateways, "ChatHeld") if e["room_id"] == room_id]
        assert len(held) == 1 and held[0]["author_id"] == author.id and held[0]["attendee_id"] == attendee.id

        # The handbook's contract: `message {room_id, text}` without a client id is accepted too.
        plain = b.call("message", {"room_id": room_id, "text": "no client id"})
        assert plain["ok"] and plain["message"]["client_id"].startswith("srv-")

        b.sio.emit("typing", {"room_id": room_id}, namespace="/chat")
        wait_until(lambda: a.received("typing", room_id), what="typing indicator")
        assert not b.received("typing", room_id)  # not echoed to the typist
    finally:
        a.close()
        b.close()


def test_resume_after_a_reconnect_has_no_gaps_and_no_duplicates(gateways: Gateways) -> None:
    author, attendee = person(gateways.url, "ada", "author"), person(gateways.url, "bob")
    room_id = book_room(gateways, author, attendee)
    a = Client(gateways.urls[0], author.token)
    b = Client(gateways.urls[1], attendee.token)
    try:
        a.call("join", {"room_id": room_id})
        b.call("join", {"room_id": room_id})
        first = a.send(room_id, "before")["message"]["id"]
        wait_until(lambda: b.received("message", room_id))
        b.close()
        sent = [a.send(room_id, f"while you were away {i}")["message"]["id"] for i in range(3)]
        b = Client(gateways.urls[0], attendee.token)  # back, on the other process
        resumed = b.call("resume", {"room_id": room_id, "after": first})
        assert [m["id"] for m in resumed["items"]] == sent and not resumed["has_more"]
        over_http = attendee.api().get(
            f"{gateways.url}/api/v1/chat-rooms/{room_id}/messages", params={"after": sent[0]}, timeout=10
        )
        assert [m["id"] for m in over_http.json()["items"]] == sent[1:]
        # Unread counts on "my chats": the author's four messages, until the attendee reads them.
        mine = attendee.api().get(f"{gateways.url}/api/v1/chat-rooms", timeout=10).json()["items"]
        assert [(r["id"], r["unread"]) for r in mine] == [(room_id, 4)]
        read = attendee.api().post(
            f"{gateways.url}/api/v1/chat-rooms/{room_id}/read", json={"last_read_id": sent[-1]}, timeout=10
        )
        assert read.json()["last_read_id"] == sent[-1]
        mine = attendee.api().get(f"{gateways.url}/api/v1/chat-rooms", timeout=10).json()["items"]
        assert mine[0]["unread"] == 0
    finally:
        a.close()
        b.close()


def test_outsiders_are_refused_without_learning_the_room_exists(gateways: Gateways) -> None:
    author, attendee, outsider = (person(gateways.url, n) for n in ("ada", "bob", "eve"))
    room_id = book_room(gateways, author, attendee)
    url = gateways.url
    base = f"{url}/api/v1/chat-rooms"

    # No session at all: 401 on every route, and the socket cannot even connect.
    for method, path in (("get", room_id), ("get", f"{room_id}/messages"), ("post", f"{room_id}/messages")):
        assert getattr(requests, method)(f"{base}/{path}", json={}, timeout=10).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(url, namespaces=["/chat"], transports=["websocket"])

    # Someone else's room answers exactly like a room that does not exist.
    eve = outsider.api()
    for path in (room_id, f"{room_id}/messages", f"{room_id}/actions"):
        mine, unknown = eve.get(f"{base}/{path}", timeout=10), eve.get(f"{base}/{path.replace(room_id, 'nope')}")
        assert mine.status_code == unknown.status_code == 404 and mine.json() == unknown.json()
    posted = eve.post(f"{base}/{room_id}/messages", json={"client_id": "x", "text": "let me in"}, timeout=10)
    assert posted.status_code == 404
    assert eve.put(f"{base}/{room_id}/mutes/{attendee.id}", timeout=10).status_code == 404

    bob = Client(gateways.urls[1], attendee.token)
    e = Client(gateways.urls[0], outsider.token)
    try:
        bob.call("join", {"room_id": room_id})
        assert error_code(e.call("join", {"room_id": room_id})) == "not_found"
        assert e.call("join", {"room_id": room_id}) == e.call("join", {"room_id": "forged"})
        assert error_code(e.send(room_id, "forged room id")) == "not_found"
        assert error_code(e.call("resume", {"room_id": room_id, "after": 0})) == "not_found"
        assert error_code(e.call("typing", {"room_id": room_id})) == "not_found"
        author_client = Client(gateways.urls[0], author.token)
        author_client.call("join", {"room_id": room_id})
        author_client.send(room_id, "only for bob")
        wait_until(lambda: bob.received("message", room_id))
        author_client.close()
        assert e.received("message") == [] and e.received("typing") == []
        # A participant is not a moderator.
        muted = attendee.api().put(f"{base}/{room_id}/mutes/{author.id}", timeout=10)
        assert muted.status_code == 403 and muted.json()["error"]["code"] == "forbidden"
    finally:
        bob.close()
        e.close()


def test_every_event_checks_the_account_again(gateways: Gateways) -> None:
    author, attendee = person(gateways.url, "ada", "author"), person(gateways.url, "bob")
    room_id = book_room(gateways, author, attendee)
    orga = organiser(gateways)
    moderator = Client(gateways.urls[0], orga.token)
    client = Client(gateways.urls[1], attendee.token)
    try:
        assert moderator.call("join", {"room_id": room_id})["room"]["my_role"] == "organiser"
        # The organiser role is taken away while the socket stays connected: the next join is refused.
        other = organiser(gateways, "boss")
        roles = other.api().put(f"{gateways.url}/api/v1/users/{orga.id}/roles", json={"roles": ["attendee"]})
        assert roles.status_code == 200, roles.text
        try:  # refused, or the socket already ended by the role change (the security module's forced disconnect)
            assert error_code(moderator.call("join", {"room_id": room_id})) in ("not_found", "unauthenticated")
        except GONE:
            pass
        # Signed out (token revoked) while connected: the next message is not accepted.
        assert client.call("join", {"room_id": room_id})["ok"]
        logout = attendee.api().post(f"{gateways.url}/api/v1/auth/logout", timeout=10)
        assert logout.status_code == 204
        try:
            assert error_code(client.send(room_id, "after sign-out")) == "unauthenticated"
        except GONE:
            pass  # the server ended the socket at sign-out: refused as well
        stored = author.api().get(f"{gateways.url}/api/v1/chat-rooms/{room_id}/messages", timeout=10).json()
        assert stored["items"] == []
    finally:
        moderator.close()
        client.close()


def test_bad_input_mute_flood_and_closed_rooms(gateways: Gateways) -> None:
    author, attendee, other = (person(gateways.url, n, r) for n, r in (("ada", "author"), ("bob", ""), ("cy", "")))
    room_id = book_room(gateways, author, attendee)
    other_room = book_room(gateways, author, other)
    base = f"{gateways.url}/api/v1/chat-rooms/{room_id}"
    bob = attendee.api()

    too_long = bob.post(f"{base}/messages", json={"client_id": "long", "text": "x" * 10_000}, timeout=10)
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "too_long" and too_long.json()["error"]["field"] == "text"
    assert "2,000" in too_long.json()["error"]["message"]
    script = bob.post(f"{base}/messages", json={"client_id": "s", "text": "<script>alert(1)</script>"}, timeout=10)
    assert script.status_code == 201 and script.json()["text"] == "<script>alert(1)</script>"  # text, shown as text
    for after in ("abc", "-1", "99999999"):
        bogus = bob.get(f"{base}/messages", params={"after": after}, timeout=10)
        assert bogus.status_code == 400 and bogus.json()["error"]["field"] == "after", after
    foreign = author.api().post(
        f"{gateways.url}/api/v1/chat-rooms/{other_room}/messages", json={"client_id": "f", "text": "hi"}, timeout=10
    )
    cross = bob.get(f"{base}/messages", params={"after": foreign.json()["id"]}, timeout=10)
    assert cross.status_code == 400  # an id from another room would skip or repeat messages
    no_id = bob.post(f"{base}/messages", json={"text": "no client id"}, timeout=10)
    assert no_id.json()["error"]["field"] == "client_id"

    # Flood: the attendee's bucket (burst 5, 0.5/s here) runs dry; the author writes on undisturbed.
    c = Client(gateways.urls[0], attendee.token)
    a = Client(gateways.urls[1], author.token)
    try:
        c.call("join", {"room_id": room_id})
        answers = [c.send(room_id, f"spam {i}") for i in range(12)]
        limited = [x for x in answers if error_code(x) == "rate_limited"]
        assert limited and limited[0]["retry_after_ms"] > 0
        assert all(a.send(room_id, f"author {i}").get("ok") for i in range(3))
        over_http = bob.post(f"{base}/messages", json={"client_id": "late", "text": "one more"}, timeout=10)
        assert over_http.status_code == 429 and over_http.headers["Retry-After"]
    finally:
        c.close()
        a.close()

    # Organiser mute: the muted person cannot write; unmuted they can.
    orga = organiser(gateways)
    assert orga.api().put(f"{base}/mutes/{author.id}", timeout=10).json()["muted"] == [author.id]
    muted = author.api().post(f"{base}/messages", json={"client_id": "m1", "text": "hello?"}, timeout=10)
    assert muted.status_code == 403 and muted.json()["error"]["code"] == "muted"
    assert orga.api().delete(f"{base}/mutes/{author.id}", timeout=10).json()["muted"] == []

    # Cancelled: nobody joins or writes any more.
    cancel = ChatSlotCancelled(
        slot_id=1, room_id=room_id, author_id=author.id, attendee_id=attendee.id,
        starts_at=utcnow().isoformat(), ends_at=utcnow().isoformat(), reason="attendee_cancelled", revision=2,
    )
    Publisher(gateways.redis.client()).publish(cancel.envelope())
    wait_until(lambda: bob.get(base, timeout=5).json()["status"] == "cancelled", what="room cancelled")
    late = Client(gateways.urls[0], author.token)
    try:
        assert error_code(late.call("join", {"room_id": room_id})) == "cancelled"
        assert error_code(late.send(room_id, "anyone?")) == "cancelled"
    finally:
        late.close()

    # A chat whose slot has ended: the countdown is at 0 and writing is closed by the server.
    ended = book_room(gateways, author, attendee, minutes_left=-1)
    details = bob.get(f"{gateways.url}/api/v1/chat-rooms/{ended}", timeout=10).json()
    assert details["seconds_left"] == 0 and not details["writable"] and details["closed_reason"] == "ended"
    closed = bob.post(f"{gateways.url}/api/v1/chat-rooms/{ended}/messages", json={"client_id": "z", "text": "hi"})
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "ended"


def test_follow_up_actions_are_announced_through_the_outbox(gateways: Gateways) -> None:
    author, attendee = person(gateways.url, "ada", "author"), person(gateways.url, "bob")
    room_id = book_room(gateways, author, attendee)
    base = f"{gateways.url}/api/v1/chat-rooms/{room_id}/actions"
    noted = attendee.api().post(
        base, json={"text": "send the code", "owner_id": author.id, "due_on": "2030-03-01"}, timeout=10
    )
    assert noted.status_code == 201, noted.text
    action = noted.json()
    assert action["owner_id"] == author.id and action["due_on"] == "2030-03-01"
    bad = attendee.api().post(base, json={"text": "x", "owner_id": 999999}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "owner_id"
    not_owner = attendee.api().post(f"{base}/{action['id']}/done", timeout=10)
    assert not_owner.status_code == 403
    done = author.api().post(f"{base}/{action['id']}/done", timeout=10)
    assert done.status_code == 200 and done.json()["done_at"]
    wait_until(lambda: [e for e in stream_events(gateways, "FollowUpActionDone") if e["action_id"] == action["id"]])
    [event] = [e for e in stream_events(gateways, "FollowUpActionNoted") if e["action_id"] == action["id"]]
    assert event["owner_id"] == author.id and event["other_user_id"] == attendee.id and event["room_id"] == room_id
    assert event["event_id"] == 3 and event["due_on"] == "2030-03-01"
    listed = author.api().get(base, timeout=10).json()["items"]
    assert [a["id"] for a in listed] == [action["id"]]
