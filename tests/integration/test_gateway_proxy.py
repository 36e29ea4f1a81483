"""The gateway's /api/v1 proxy and browser session, against a real matching service over HTTP.

Matching runs for real (its own create_app, its own database) in a werkzeug server thread; a small echo
service stands in for an owner whose routes do not exist yet, to check what crosses the wire byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from shared.auth import HEADER, Identity, sign_identity, verify_identity
from tests.support.processes import free_port

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
EVENT = {
    "title": "Spring insight day",
    "starts_at": "2030-04-01T08:00:00+00:00",
    "ends_at": "2030-04-01T16:00:00+00:00",
    "timezone": "Europe/London",
}


class ServerThread:
    def __init__(self, app: Any) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


class Echo:
    """An upstream that reports what it received."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()

    @Request.application
    def __call__(self, request: Request) -> Response:
        self.calls += 1
        if request.path.endswith("/slow"):
            self.release.wait(30)
        if request.path.endswith("/download"):
            blob = bytes(range(256)) * 4096  # 1 MiB
            return Response(
                iter([blob[i : i + 65536] for i in range(0, len(blob), 65536)]),
                headers={
                    "Content-Type": "application/pdf",
                    "Content-Length": str(len(blob)),
                    "ETag": '"v1"',
                    "Content-Disposition": 'attachment; filename="poster.pdf"',
                    "Cache-Control": "private, max-age=60",
                    "X-Upstream-Only": "secret",
                },
            )
        upload = request.files.get("file")
        body = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode(),
            "headers": dict(request.headers),
            "form": request.form.to_dict(),
            "file": None
            if upload is None
            else {
                "name": upload.filename,
                "type": upload.mimetype,
                "sha256": hashlib.sha256(upload.read()).hexdigest(),
            },
            "json": request.get_json(silent=True),
        }
        return Response(
            json.dumps(body),
            status=202,
            content_type="application/json",
            headers={"Location": f"http://{request.host}/api/v1/posters/1"},
        )


@pytest.fixture
def matching(make_app) -> Iterator[ServerThread]:  # type: ignore[no-untyped-def]
    server = ServerThread(make_app("matching"))
    yield server
    server.stop()


@pytest.fixture
def echo() -> Iterator[tuple[Echo, ServerThread]]:
    upstream = Echo()
    server = ServerThread(upstream)
    yield upstream, server
    upstream.release.set()
    server.stop()


@pytest.fixture
def gateway_factory(make_app, matching, echo, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MATCHING_URL", matching.url)
    monkeypatch.setenv("POSTERS_URL", echo[1].url)
    monkeypatch.setenv("NOTIFY_URL", f"http://127.0.0.1:{free_port()}")  # nobody listens there
    return lambda **config: make_app("gateway", **config)


@pytest.fixture
def gateway(gateway_factory) -> Flask:  # type: ignore[no-untyped-def]
    return gateway_factory()


@pytest.fixture
def client(gateway: Flask) -> FlaskClient:
    return gateway.test_client()


def account(app: Flask, client: FlaskClient, email: str, *, organiser: bool = False) -> str:
    """Create an account (organisers through the CLI) and return a bearer token."""
    if organiser:
        result = app.test_cli_runner().invoke(args=["create-organiser", email, "--password", PASSWORD])
        assert result.exit_code == 0, result.output
    else:
        body = {"email": email, "password": PASSWORD, "display_name": email, "organisation": "Org", "region": "N"}
        assert client.post("/api/v1/auth/register", json=body).status_code == 201
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    return response.get_json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_unauthenticated_calls_get_401_from_the_gateway(client: FlaskClient, echo) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/v1/events", "/api/v1/posters/1", "/api/v1/me/notifications"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthenticated"
    assert echo[0].calls == 0


def test_unknown_api_paths_are_404_json(client: FlaskClient, gateway: Flask) -> None:
    token = account(gateway, client, "ada@example.org")
    for path in ("/api/v1/nothing-here", "/api/v1/auth/whoami", "/api/v1/"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_organiser_creates_an_event_through_the_gateway_attendee_gets_403(gateway: Flask, client: FlaskClient) -> None:
    organiser = account(gateway, client, "org@example.org", organiser=True)
    attendee = account(gateway, client, "ada@example.org")

    created = client.post("/api/v1/events", json=EVENT, headers=bearer(organiser))
    assert created.status_code == 201, created.get_json()
    me = client.get("/api/v1/me", headers=bearer(organiser)).get_json()
    assert created.get_json()["organiser_id"] == me["id"]

    refused = client.post("/api/v1/events", json=EVENT, headers=bearer(attendee))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"

    listed = client.get("/api/v1/events?page=1", headers=bearer(attendee))
    assert listed.status_code == 200
    assert [e["title"] for e in listed.get_json()["items"]] == [EVENT["title"]]
    assert client.post("/api/v1/events", json={**EVENT, "title": ""}, headers=bearer(organiser)).status_code == 400


def test_a_client_sent_identity_header_is_ignored(gateway: Flask, client: FlaskClient) -> None:
    attendee = account(gateway, client, "ada@example.org")
    forged = sign_identity(
        Identity(user_id=1, email="boss@example.org", display_name="Boss", roles=["organiser"]),
        gateway.config["IDENTITY_KEYS"].private,  # even a correctly signed one (a leaked key) is not passed on
        "matching",
    )
    response = client.post("/api/v1/events", json=EVENT, headers={**bearer(attendee), HEADER: forged})
    assert response.status_code == 403
    assert client.post("/api/v1/events", json=EVENT, headers={HEADER: forged}).status_code == 401


def test_what_crosses_the_wire(gateway: Flask, client: FlaskClient, echo) -> None:  # type: ignore[no-untyped-def]
    token = account(gateway, client, "org@example.org", organiser=True)
    payload = bytes(range(256)) * 3000
    response = client.post(
        "/api/v1/projects/7/posters?x=1&y=%C3%A9",
        data={"file": (io.BytesIO(payload), "poster.pdf", "application/pdf"), "note": "hello"},
        headers={**bearer(token), "Cookie": "other=1", HEADER: "forged", "X-Request-Id": "req-12345678"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202
    assert response.headers["Location"] == "/api/v1/posters/1"  # the upstream's own address does not leak
    seen = response.get_json()
    assert seen["method"] == "POST" and seen["path"] == "/api/v1/projects/7/posters"
    assert seen["query"] == "x=1&y=%C3%A9"
    assert seen["file"] == {
        "name": "poster.pdf",
        "type": "application/pdf",
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    assert seen["form"] == {"note": "hello"}
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert "authorization" not in headers and "cookie" not in headers
    assert headers["x-request-id"] == "req-12345678"
    identity = verify_identity(headers["x-internal-identity"], gateway.config["IDENTITY_KEYS"].public, "posters")
    assert identity.email == "org@example.org" and "organiser" in identity.roles

    as_json = client.put("/api/v1/posters/1", json={"a": [1, 2]}, headers=bearer(token)).get_json()
    assert as_json["method"] == "PUT" and as_json["json"] == {"a": [1, 2]}


def test_downloads_stream_back_with_their_headers(gateway: Flask, client: FlaskClient) -> None:
    token = account(gateway, client, "ada@example.org")
    response = client.get("/api/v1/posters/1/download", headers=bearer(token))
    assert response.status_code == 200
    assert response.data == bytes(range(256)) * 4096
    assert response.headers["Content-Length"] == str(256 * 4096)
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.headers["Content-Disposition"] == 'attachment; filename="poster.pdf"'
    assert "X-Upstream-Only" not in response.headers


def test_upload_over_the_size_limit_is_413_and_never_forwarded(gateway_factory, echo) -> None:  # type: ignore[no-untyped-def]
    app = gateway_factory(MAX_CONTENT_LENGTH=10_000)
    client = app.test_client()
    token = account(app, client, "ada@example.org")
    response = client.post(
        "/api/v1/projects/7/posters",
        data={"file": (io.BytesIO(b"x" * 20_000), "poster.pdf", "application/pdf")},
        headers=bearer(token),
    )
    assert response.status_code == 413 and "error" in response.get_json()
    assert echo[0].calls == 0


def test_upstream_down_is_502_and_slow_is_504(gateway_factory, echo) -> None:  # type: ignore[no-untyped-def]
    app = gateway_factory(PROXY_READ_TIMEOUT=0.5)
    client = app.test_client()
    token = account(app, client, "ada@example.org")
    down = client.get("/api/v1/me/notifications", headers=bearer(token))
    assert down.status_code == 502 and down.get_json()["error"]["code"] == "upstream_unavailable"
    slow = client.get("/api/v1/posters/1/slow", headers=bearer(token))  # the upstream blocks until released
    assert slow.status_code == 504 and slow.get_json()["error"]["code"] == "upstream_timeout"
    echo[0].release.set()


class TestBrowserSession:
    @staticmethod
    def csrf_from(html: str) -> str:
        match = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert match, html
        return match.group(1)

    def sign_in(self, client: FlaskClient, email: str) -> str:
        token = self.csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return self.csrf_from(client.get("/").get_data(as_text=True))

    def test_session_posts_need_the_csrf_header(self, gateway: Flask, client: FlaskClient) -> None:
        account(gateway, client, "org@example.org", organiser=True)
        csrf = self.sign_in(client, "org@example.org")
        assert client.get("/api/v1/me").get_json()["email"] == "org@example.org"
        refused = client.post("/api/v1/events", json=EVENT)
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
        assert client.post("/api/v1/events", json=EVENT, headers={"X-CSRFToken": "forged"}).status_code == 403
        created = client.post("/api/v1/events", json=EVENT, headers={"X-CSRFToken": csrf})
        assert created.status_code == 201
        # The home page lists it, fetched server-side from matching with the same signed identity.
        home = client.get("/").get_data(as_text=True)
        assert "Spring insight day" in home and "09:00" in home  # 08:00 UTC shown in London summer time

    def test_login_form_without_csrf_token_is_refused(self, gateway: Flask, client: FlaskClient) -> None:
        account(gateway, client, "ada@example.org")
        response = client.post("/login", data={"email": "ada@example.org", "password": PASSWORD})
        assert response.status_code == 400
        assert client.get("/api/v1/me").status_code == 401

    def test_wrong_password_in_the_form(self, gateway: Flask, client: FlaskClient) -> None:
        account(gateway, client, "ada@example.org")
        token = self.csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login", data={"email": "ada@example.org", "password": "nope-nope-nope", "csrf_token": token}
        )
        assert response.status_code == 401 and "E-mail or password is wrong" in response.get_data(as_text=True)

    def test_register_form_then_sign_out_ends_the_session_on_the_server(self, client: FlaskClient) -> None:
        token = self.csrf_from(client.get("/register").get_data(as_text=True))
        form = {
            "email": "bo@example.org",
            "password": PASSWORD,
            "display_name": "Bo",
            "organisation": "Org B",
            "region": "South",
            "role": "author",
            "csrf_token": token,
        }
        response = client.post("/register", data=form)
        assert response.status_code == 302
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert client.get("/api/v1/me").get_json()["roles"] == ["attendee", "author"]
        assert client.get("/notifications").status_code == 200
        stolen = client.get_cookie("insightdays_session").value

        csrf = self.csrf_from(client.get("/").get_data(as_text=True))
        assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
        assert client.get("/api/v1/me").status_code == 401
        client.set_cookie("insightdays_session", stolen)  # replaying the old cookie does not bring it back
        assert client.get("/api/v1/me").status_code == 401

    def test_register_form_shows_field_errors(self, client: FlaskClient) -> None:
        token = self.csrf_from(client.get("/register").get_data(as_text=True))
        form = {
            "email": "bo@example.org",
            "password": "short",
            "display_name": "<b>Bo</b>",
            "organisation": "O",
            "region": "S",
            "role": "organiser",
            "csrf_token": token,
        }
        html = client.post("/register", data=form).get_data(as_text=True)
        assert 'aria-invalid="true"' in html and "&lt;b&gt;Bo&lt;/b&gt;" in html
        assert client.get("/api/v1/me").status_code == 401

    def test_pages_send_security_headers_and_no_inline_script(self, client: FlaskClient) -> None:
        response = client.get("/login")
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["Referrer-Policy"]
        assert re.search(r"<script(?![^>]*\bsrc=)", response.get_data(as_text=True)) is None
        assert client.get("/notifications").status_code == 302  # sign in first
        assert client.get("/static/app.css").status_code == 200
