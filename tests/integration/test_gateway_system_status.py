"""The organisers' system status: service health, bus heartbeats, dead letters and backlog, from real Redis."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.bus import EVENTS_STREAM, Consumer, Publisher, heartbeat_key
from shared.dead_letters import DeadLetters
from shared.events import UserRegistered
from tests.integration.test_gateway_accounts import PASSWORD, bearer, login, register
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_app, monkeypatch: pytest.MonkeyPatch) -> Flask:  # type: ignore[no-untyped-def]
    for service in ("posters", "matching", "notify"):  # nothing listens there
        monkeypatch.setenv(f"{service.upper()}_URL", f"http://127.0.0.1:{free_port()}")
    return make_app("gateway")


def test_only_organisers_see_the_status(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/v1/system/status").status_code == 401
    register(client, "ada@example.org")
    assert client.get("/api/v1/system/status", headers=bearer(login(client, "ada@example.org"))).status_code == 403


def test_status_shows_heartbeats_dead_letters_and_backlog(app: Flask) -> None:
    client: FlaskClient = app.test_client()
    app.test_cli_runner().invoke(args=["create-organiser", "org@example.org", "--password", PASSWORD])
    token = login(client, "org@example.org")
    redis = app.extensions["redis"]
    redis.set(heartbeat_key("notify"), json.dumps({"ok": True, "stalled": [], "dead_threads": []}), ex=20)
    redis.set(heartbeat_key("posters"), json.dumps({"ok": False, "stalled": ["consumer"], "dead_threads": []}), ex=20)
    Consumer(redis, "notify", {}).ensure_group()
    for i in range(3):
        Publisher(redis).publish(UserRegistered(i, f"u{i}@example.org", "P", "O", "R", ["attendee"]).envelope())
    redis.xadd(DeadLetters(redis).stream, {"event": "{}", "type": "X", "group": "notify", "reason": "failed 5"})

    body = client.get("/api/v1/system/status", headers=bearer(token)).get_json()
    by_name = {s["service"]: s for s in body["services"]}
    assert body["dead_letters"] == 1 and not body["healthy"]
    assert by_name["notify"]["dead_letters"] == 1
    assert by_name["notify"]["bus"] == {"status": "ok", "stalled": []}
    assert by_name["notify"]["waiting_events"] == 3 and by_name["notify"]["held_events"] == 0
    assert by_name["posters"]["bus"] == {"status": "stalled", "stalled": ["consumer"]}
    assert by_name["matching"]["bus"]["status"] == "no heartbeat"
    assert by_name["gateway"]["web"]["status"] == "ok"
    assert by_name["matching"]["web"]["status"] == "down"
    assert redis.xlen(EVENTS_STREAM) == 3
