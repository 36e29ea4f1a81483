"""Socket.IO on the gateway as production serves it (tests.support.processes.gunicorn_args), a real websocket, Redis
message queue."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from flask_socketio import SocketIO

from tests.support.processes import Process, free_port, gunicorn_args, run_migrations, service_env, wait_until

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


@pytest.fixture
def gateway_url(redis_url: str, tmp_path: Path) -> Iterator[str]:
    env = service_env(redis_url, tmp_path / "var")
    run_migrations("gateway", env)
    port = free_port()
    proc = Process("gateway-gunicorn", gunicorn_args("gateway", port), env, tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{url}/healthz", timeout=2).status_code == 200, timeout=60, what="gateway")
        yield url
    finally:
        proc.stop()


def user(url: str, email: str) -> tuple[int, str]:
    body = {"email": email, "password": PASSWORD, "display_name": email, "organisation": "Org", "region": "N"}
    user_id = requests.post(f"{url}/api/v1/auth/register", json=body, timeout=10).json()["id"]
    token = requests.post(f"{url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    return user_id, token.json()["token"]


class Listener:
    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.client.on("notification", self._on, namespace="/chat")

    def _on(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.received.append(data)

    def connect(self, url: str, **kwargs: Any) -> None:
        self.client.connect(url, namespaces=["/chat"], transports=["websocket"], wait_timeout=15, **kwargs)

    def got(self, marker: str) -> bool:
        with self.lock:
            return any(d.get("marker") == marker for d in self.received)


def push_until_received(redis_url: str, listener: Listener, user_id: int, marker: str) -> None:
    """Emit from a separate SocketIO (as a worker would) until it arrives; a message published before the
    gateway's Redis listener has subscribed is dropped by pub/sub, hence the repeat."""
    emitter = SocketIO(message_queue=redis_url)

    def attempt() -> bool:
        if listener.got(marker):
            return True
        emitter.emit("notification", {"marker": marker}, to=f"user:{user_id}", namespace="/chat")
        return False

    wait_until(attempt, timeout=30, interval=0.3, what=f"notification {marker}")


def test_websocket_connection_needs_auth_and_gets_pushes_for_its_user(gateway_url: str, redis_url: str) -> None:
    refused = Listener()
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect(gateway_url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener().connect(gateway_url, auth={"token": "not-a-token"})

    ada_id, ada_token = user(gateway_url, "ada@example.org")
    bob_id, bob_token = user(gateway_url, "bob@example.org")
    ada, bob = Listener(), Listener()
    ada.connect(gateway_url, auth={"token": ada_token})
    bob.connect(gateway_url, auth={"token": bob_token})
    try:
        assert ada.client.transport() == "websocket"
        push_until_received(redis_url, ada, ada_id, "for-ada")
        push_until_received(redis_url, bob, bob_id, "for-bob")
        assert not ada.got("for-bob") and not bob.got("for-ada")  # rooms are per user
    finally:
        ada.client.disconnect()
        bob.client.disconnect()


def test_browser_session_cookie_authenticates_the_socket(gateway_url: str, redis_url: str) -> None:
    ada_id, _ = user(gateway_url, "ada@example.org")
    browser = requests.Session()
    page = browser.get(f"{gateway_url}/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    signed_in = browser.post(
        f"{gateway_url}/login", data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": csrf}, timeout=60
    )
    assert signed_in.status_code == 200 and "Sign out" in signed_in.text
    cookie = browser.cookies.get("insightdays_session")
    listener = Listener()
    listener.connect(gateway_url, headers={"Cookie": f"insightdays_session={cookie}"})
    try:
        push_until_received(redis_url, listener, ada_id, "hello-browser")
    finally:
        listener.client.disconnect()
