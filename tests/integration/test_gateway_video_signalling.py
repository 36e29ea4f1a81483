"""Video call signalling as production runs it: two gateway processes (gunicorn gevent) on one real Redis and
database, the gateway bus opening rooms from matching's ChatSlotBooked, python-socketio clients.

Only the two participants of a booked room exchange offers, answers, ICE candidates and call states; a stranger and
an organiser (who may moderate the chat, and is in the chat room) get the same "not found" as for a room that does
not exist, and nobody receives anything from them; oversize or malformed signals are refused and not relayed.
"""

from __future__ import annotations

import itertools
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

from shared.bus import Publisher
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
TURN_SECRET = "turn-credential-never-logged-42"
ICE_SERVERS = (
    '[{"urls": "stun:stun.example.org:3478"}, '
    f'{{"urls": ["turn:turn.example.org:3478"], "username": "insight", "credential": "{TURN_SECRET}"}}]'
)
SIGNALS = ("video_state", "video_offer", "video_answer", "video_ice", "video_hangup")
# An SDP as Chrome writes it: CRLF line ends that must arrive untouched.
SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.10 50000 typ srflx raddr 0.0.0.0 rport 0",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}
_slots = itertools.count(1)


@dataclass
class Gateways:
    urls: list[str]
    redis: RedisServer
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.urls[0]

    def logs(self) -> str:
        return "\n".join(p.output() for p in self.processes)


@pytest.fixture(scope="module")
def gateways(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    redis_server.client().flushall()
    tmp: Path = tmp_path_factory.mktemp("video")
    env = service_env(redis_server.url, tmp / "var", RATE_LIMITS="off", WEBRTC_ICE_SERVERS=ICE_SERVERS)
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
        print(system.logs()[-6000:])
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


def _login(url: str, email: str) -> str:
    answer = requests.post(f"{url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def person(url: str, name: str, role: str = "attendee") -> Person:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "Org", "region": "N"}
    created = requests.post(f"{url}/api/v1/auth/register", json={**body, "role": role}, timeout=30)
    assert created.status_code == 201, created.text
    return Person(int(created.json()["id"]), _login(url, email))


def organiser(system: Gateways) -> Person:
    email = f"orga-{uuid.uuid4().hex[:8]}@example.org"
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", email, "--password", PASSWORD],
        env=system.env,
        check=True,
        capture_output=True,
    )
    token = _login(system.url, email)
    me = requests.get(f"{system.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    return Person(int(me["id"]), token)


def book_room(system: Gateways, author: Person, attendee: Person, minutes_left: float = 60) -> ChatSlotBooked:
    now = utcnow()
    event = ChatSlotBooked(
        slot_id=next(_slots),
        room_id=uuid.uuid4().hex,
        project_id=7,
        event_id=3,
        author_id=author.id,
        attendee_id=attendee.id,
        starts_at=(now - timedelta(minutes=30)).isoformat(),
        ends_at=(now + timedelta(minutes=minutes_left)).isoformat(),
        revision=1,
    )
    Publisher(system.redis.client()).publish(event.envelope())
    headers = {"Authorization": f"Bearer {author.token}"}
    wait_until(
        lambda: requests.get(f"{system.url}/api/v1/chat-rooms/{event.room_id}", headers=headers, timeout=5).ok,
        what="room opened by the gateway's consumer",
    )
    return event


class Client:
    """A python-socketio client on /chat recording every video signal it receives."""

    def __init__(self, url: str, who: Person) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        for name in SIGNALS:
            self.sio.on(name, self._recorder(name), namespace="/chat")
        auth = {"token": who.token}
        self.sio.connect(url, namespaces=["/chat"], transports=["websocket"], auth=auth, wait_timeout=15)

    def _recorder(self, name: str):  # type: ignore[no-untyped-def]
        def record(data: Any) -> None:
            with self.lock:
                self.events.append((name, data))

        return record

    def call(self, event: str, data: Any) -> dict[str, Any]:
        return self.sio.call(event, data, namespace="/chat", timeout=15)  # type: ignore[no-any-return]

    def received(self, name: str | None = None) -> list[tuple[str, Any]]:
        with self.lock:
            return [(n, d) for n, d in self.events if name is None or n == name]

    def close(self) -> None:
        self.sio.disconnect()


def offer(room_id: str, sdp: str = SDP) -> dict[str, Any]:
    return {"room_id": room_id, "description": {"type": "offer", "sdp": sdp}}


def test_participants_signal_each_other_across_processes_and_nobody_else_hears(gateways: Gateways) -> None:
    author, attendee = person(gateways.url, "ada", "author"), person(gateways.url, "bob")
    stranger, orga = person(gateways.url, "eve"), organiser(gateways)
    room = book_room(gateways, author, attendee).room_id
    a, b = Client(gateways.urls[0], author), Client(gateways.urls[1], attendee)
    s, o = Client(gateways.urls[1], stranger), Client(gateways.urls[0], orga)
    try:
        joined_a, joined_b = a.call("video_join", {"room_id": room}), b.call("video_join", {"room_id": room})
        assert joined_a["ok"] and joined_b["ok"], (joined_a, joined_b)
        assert joined_a["peer_id"] == attendee.id and joined_b["peer_id"] == author.id
        assert joined_a["polite"] != joined_b["polite"]  # exactly one side gives way on glare
        # The organiser moderates the chat room (and is in it) but gets no part in the call.
        assert o.call("join", {"room_id": room})["ok"]

        # Refused without saying whether the room exists: the same answer as for a made-up id.
        unknown = s.call("video_offer", offer(uuid.uuid4().hex))
        assert unknown["error"]["code"] == "not_found"
        for outsider in (s, o):
            for event, body in (
                ("video_join", {"room_id": room}),
                ("video_offer", offer(room)),
                ("video_offer", offer(room, "x" * 100_000)),  # oversize or not: the same "not found"
                ("video_answer", {"room_id": room}),
                ("video_ice", {"room_id": room, "candidate": CANDIDATE}),
                ("video_state", {"room_id": room, "state": "ringing"}),
                ("video_hangup", {"room_id": room}),
            ):
                assert outsider.call(event, body) == unknown, (event, body)

        # The real exchange, between the two processes.
        assert b.call("video_state", {"room_id": room, "state": "ringing"})["ok"]
        assert a.call("video_state", {"room_id": room, "state": "accepted", "camera": True})["ok"]
        assert b.call("video_offer", offer(room))["ok"]
        answer = {"room_id": room, "description": {"type": "answer", "sdp": SDP.replace("4611", "9999")}}
        assert a.call("video_answer", answer)["ok"]
        assert b.call("video_ice", {"room_id": room, "candidate": CANDIDATE})["ok"]
        assert a.call("video_state", {"room_id": room, "camera": False, "microphone": True})["ok"]
        assert a.call("video_hangup", {"room_id": room})["ok"]

        wait_until(lambda: len(a.received()) == 3 and len(b.received()) == 4, what="every signal relayed")
        # Each signal is handled on its own; they may arrive in any order (the page copes), so compare as sets.
        assert sorted(a.received(), key=lambda e: e[0]) == [
            ("video_ice", {"room_id": room, "from": attendee.id, "candidate": CANDIDATE}),
            ("video_offer", {"room_id": room, "from": attendee.id, "description": {"type": "offer", "sdp": SDP}}),
            ("video_state", {"room_id": room, "from": attendee.id, "state": "ringing"}),
        ]
        got_b = {n: d for n, d in b.received() if n != "video_state"}
        assert got_b["video_answer"]["description"] == answer["description"]  # CRLFs and all, untouched
        assert got_b["video_hangup"] == {"room_id": room, "from": author.id, "reason": "hangup"}
        states = [d for _n, d in b.received("video_state")]
        assert {"room_id": room, "from": author.id, "state": "accepted", "camera": True} in states
        assert {"room_id": room, "from": author.id, "camera": False, "microphone": True} in states

        time.sleep(0.5)  # give anything wrongly relayed the time to arrive
        assert s.received() == [] and o.received() == []  # the organiser in the chat room heard nothing
        # Nothing the outsiders sent reached the participants: only the 3 + 4 signals above.
        assert len(a.received()) == 3 and len(b.received()) == 4
        senders = {d["from"] for _n, d in a.received() + b.received()}
        assert senders == {author.id, attendee.id}
    finally:
        for client in (a, b, s, o):
            client.close()


def test_bad_signals_are_refused_and_not_relayed(gateways: Gateways) -> None:
    author, attendee = person(gateways.url, "cid", "author"), person(gateways.url, "dan")
    room = book_room(gateways, author, attendee).room_id
    a, b = Client(gateways.urls[0], author), Client(gateways.urls[1], attendee)
    try:
        assert a.call("video_join", {"room_id": room})["ok"] and b.call("video_join", {"room_id": room})["ok"]
        oversize = a.call("video_offer", offer(room, "v=0\r\n" + "a=x\r\n" * 20_000))
        assert oversize["error"]["code"] == "invalid" and oversize["error"]["field"] == "description.sdp"
        long_candidate = {**CANDIDATE, "candidate": "candidate:" + "1" * 5_000}
        refused = a.call("video_ice", {"room_id": room, "candidate": long_candidate})
        assert refused["error"]["field"] == "candidate.candidate"
        wrong_type = a.call("video_offer", {"room_id": room, "description": {"type": "answer", "sdp": SDP}})
        assert wrong_type["error"]["field"] == "description.type"
        forged = a.call("video_state", {"room_id": room, "state": "ringing", "from": attendee.id})
        assert forged["error"]["field"] == "from"  # the sender is whoever the socket belongs to
        assert a.call("video_state", {"room_id": room, "state": "<script>"})["error"]["field"] == "state"
        assert a.call("video_ice", ["not", "an", "object"])["error"]["code"] == "invalid"
        assert a.call("video_offer", {"description": {"type": "offer", "sdp": SDP}})["error"]["field"] == "room_id"
        index = a.call("video_ice", {"room_id": room, "candidate": {**CANDIDATE, "sdpMLineIndex": "0"}})
        assert index["error"]["field"] == "candidate.sdpMLineIndex"
        time.sleep(0.5)
        assert b.received() == []
        assert a.call("video_offer", offer(room))["ok"]  # a good one still goes through
        wait_until(lambda: len(b.received("video_offer")) == 1, what="the valid offer")
    finally:
        a.close()
        b.close()


def test_no_calls_in_a_cancelled_or_ended_chat_but_hanging_up_works(gateways: Gateways) -> None:
    author, attendee = person(gateways.url, "fay", "author"), person(gateways.url, "gus")
    booked = book_room(gateways, author, attendee)
    ended = book_room(gateways, author, attendee, minutes_left=-1).room_id
    a = Client(gateways.urls[0], author)
    try:
        assert a.call("video_join", {"room_id": ended})["error"]["code"] == "ended"
        assert a.call("video_offer", offer(ended))["error"]["code"] == "ended"
        assert a.call("video_hangup", {"room_id": ended, "reason": "ended"})["ok"]

        assert a.call("video_join", {"room_id": booked.room_id})["ok"]
        cancelled = ChatSlotCancelled(
            slot_id=booked.slot_id,
            room_id=booked.room_id,
            project_id=booked.project_id,
            event_id=booked.event_id,
            author_id=author.id,
            attendee_id=attendee.id,
            starts_at=booked.starts_at,
            ends_at=booked.ends_at,
            reason="author_cancelled",
            revision=2,
        )
        Publisher(gateways.redis.client()).publish(cancelled.envelope())
        wait_until(
            lambda: a.call("video_offer", offer(booked.room_id)).get("error", {}).get("code") == "cancelled",
            what="the cancellation applied",
        )
        assert a.call("video_join", {"room_id": booked.room_id})["error"]["code"] == "cancelled"
    finally:
        a.close()


def test_turn_credentials_are_not_logged(gateways: Gateways) -> None:
    logs = gateways.logs()
    assert "turn:turn.example.org:3478" in logs  # the configuration was read and its URLs logged
    assert TURN_SECRET not in logs
