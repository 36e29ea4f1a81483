"""Issue 12, items 3, 4 and 8 (gateway): the sign-in redirect stays on the site, failed sign-ins slow down only
the guesser's own address, the session cookie holds no bearer token, the proxy refuses dot segments, sockets end on
logout and role change (that one needs the Redis message queue: tests/security/test_stack_security.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("gateway", LOGIN_FREE_FAILURES=3, LOGIN_DELAY_BASE_S=60)


def from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def register(client: FlaskClient, email: str, **extra: Any) -> int:
    body = {"email": email, "password": PASSWORD, "display_name": "Ada", "organisation": "Org A", "region": "North"}
    response = client.post("/api/v1/auth/register", json={**body, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def api_login(client: FlaskClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def csrf(client: FlaskClient, page: str = "/login") -> str:
    html = client.get(page).data
    return html.split(b'name="csrf_token" type="hidden" value="', 1)[1].split(b'"', 1)[0].decode()


def page_login(client: FlaskClient, email: str, next_: str | None = None, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    query = "" if next_ is None else "?next=" + next_
    data = {"email": email, "password": password, "csrf_token": csrf(client)}
    return client.post("/login" + query, data=data, headers=BROWSER)


# --- item 3: open redirect ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "next_",
    [
        "/%09/evil.com",  # a tab browsers drop: //evil.com
        "/%0a/evil.com",
        "%2F%2Fevil.com",
        "/%5Cevil.com",  # backslash: browsers read /\evil.com as //evil.com
        "https://evil.com/",
        "//evil.com",
        "/%0d%0aSet-Cookie:%20x=1",  # a newline in the header was a 500
        "javascript:alert(1)",
        "/%20/evil.com",
    ],
)
def test_sign_in_never_redirects_off_site(app: Flask, next_: str) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    response = page_login(client, "ada@example.org", next_)
    assert response.status_code == 302, response.data[:200]
    assert response.headers["Location"] == "/", response.headers["Location"]


def test_a_same_site_next_is_kept(app: Flask) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    response = page_login(client, "ada@example.org", "/events/3%3Fq%3Dx")
    assert response.status_code == 302 and response.headers["Location"] == "/events/3?q=x"


# --- item 4: failed sign-ins per account and address -------------------------------------------------------
def test_a_guesser_blocks_only_their_own_address(app: Flask) -> None:
    attacker, owner = from_address(app, "203.0.113.9"), from_address(app, "198.51.100.7")
    register(owner, "ada@example.org")
    for _ in range(3):
        assert api_login(attacker, "ada@example.org", "wrong password!").status_code == 401
    blocked = api_login(attacker, "ada@example.org")  # even the right password waits at that address
    assert blocked.status_code == 429 and blocked.get_json()["error"]["code"] == "too_many_requests"
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    assert api_login(attacker, "ADA@example.org", "another guess").status_code == 429  # not even checked
    # The owner, from another address, signs in at once; so does the same address for another account.
    assert api_login(owner, "ada@example.org").status_code == 200
    register(owner, "bob@example.org")
    assert api_login(attacker, "bob@example.org").status_code == 200


def test_the_delay_grows_with_each_failure_and_a_success_resets_it(app: Flask) -> None:
    address = "203.0.113.9"
    client = from_address(app, address)
    register(client, "ada@example.org")
    redis, throttle = app.extensions["redis"], app.extensions["login_throttle"]

    def rewind() -> None:  # let the wait run out now instead of sleeping through it
        for key in redis.scan_iter("gateway:login-failures:*"):
            assert "ada" not in key  # no e-mail address in Redis keys
            redis.hset(key, "until", "0")

    waits = []
    for _ in range(6):
        rewind()
        assert api_login(client, "ada@example.org", "wrong password!").status_code == 401
        waits.append(throttle.wait_seconds("ada@example.org", address))
    expected = [0, 0, 60, 120, 240, 480]  # 3 free failures, then 60 s doubling
    assert all(e - 1 <= w <= e for w, e in zip(waits, expected, strict=True)), waits
    rewind()
    assert api_login(client, "ada@example.org").status_code == 200
    assert list(redis.scan_iter("gateway:login-failures:*")) == []  # a success starts the pair from zero


def test_the_sign_in_page_shows_slow_down_when_blocked(app: Flask) -> None:
    client = from_address(app, "203.0.113.9")
    statuses = [page_login(client, "nobody@example.org", password="wrong password!").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


# --- item 8: the session cookie carries no bearer token ----------------------------------------------------
def test_the_session_cookie_holds_no_usable_token(app: Flask) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    assert page_login(client, "ada@example.org").status_code == 302
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    stored = session["_user_id"]
    from services.gateway.adapters.orm import ApiTokenRow

    with app.extensions["db"].unit_of_work() as s:
        hashes = {row.token_hash for row in s.query(ApiTokenRow).all()}
    assert stored in hashes  # the key of the session's token row, not the token
    outsider = app.test_client()
    assert outsider.get("/api/v1/me", headers={"Authorization": f"Bearer {stored}"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 200  # the cookie itself still works
    token = csrf(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/me").status_code == 401
    with app.extensions["db"].unit_of_work() as s:
        row = s.query(ApiTokenRow).filter_by(token_hash=stored).one()
        assert row.revoked_at is not None


# --- item 8: the proxy refuses dot and empty segments ------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/1/../../users",
        "/api/v1/projects/%2e%2e/users",
        "/api/v1/events/./1",
        "/api/v1/events//1",
        "/api/v1/me/notifications/..",
    ],
)
def test_the_proxy_refuses_dot_and_empty_segments(app: Flask, path: str) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    token = api_login(client, "ada@example.org").get_json()["token"]
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_path", path
