"""The authorisation matrix (tests/security/authz_matrix.py) against the running system, plus what needs a real stack:
security headers and cookie flags per kind of response, and Socket.IO connections ending on logout / role change.

One system (every service, bus, worker as real processes; tests/e2e/conftest.py) for the whole module.
"""

from __future__ import annotations

import importlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.e2e.conftest import System, browser, system  # noqa: F401 - module-scoped stack and Chromium
from tests.security.authz_matrix import DENY, GONE, MATRIX, OK, SOCKET_MATRIX, SOCKET_PAYLOADS, Entry
from tests.security.authz_world import PERSONAS, World, build_world
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

SERVICES = ("gateway", "posters", "matching", "notify")
NAMESPACE = "/chat"


# --- which routes exist ------------------------------------------------------------------------------------------
def api_rules(var_dir: Path, redis_url: str) -> set[tuple[str, str]]:
    """(METHOD, rule) of every /api/v1 route every service registers (the gateway's proxy catch-all excepted)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("APP_ENV", "test")
    mp.setenv("VAR_DIR", str(var_dir))
    mp.setenv("REDIS_URL", redis_url)
    rules: set[tuple[str, str]] = set()
    try:
        for service in SERVICES:
            app = importlib.import_module(f"services.{service}").create_app({"RATE_LIMITS": False})
            for rule in app.url_map.iter_rules():
                if rule.rule.startswith("/api/v1") and rule.endpoint != "proxy.forward":
                    rules |= {(m, rule.rule) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
            app.extensions["db"].dispose()
    finally:
        mp.undo()
    return rules


def socket_events(var_dir: Path, redis_url: str) -> set[str]:
    mp = pytest.MonkeyPatch()
    for key, value in {"APP_ENV": "test", "VAR_DIR": str(var_dir), "REDIS_URL": redis_url}.items():
        mp.setenv(key, value)
    try:
        app = importlib.import_module("services.gateway").create_app({"RATE_LIMITS": False})
        handlers = app.extensions["socketio"].server.handlers.get(NAMESPACE, {})
        return (set(handlers) - {"disconnect"}) | {"connect"}
    finally:
        mp.undo()


def test_every_route_and_event_has_an_entry(tmp_path: Path, redis_server) -> None:  # type: ignore[no-untyped-def]
    rules = api_rules(tmp_path / "var", redis_server.url)
    missing = sorted(rules - MATRIX.keys())
    stale = sorted(MATRIX.keys() - rules)
    assert not missing, f"routes without an entry in tests/security/authz_matrix.py: {missing}"
    assert not stale, f"entries for routes that no longer exist: {stale}"
    events = socket_events(tmp_path / "var", redis_server.url)
    assert events == set(SOCKET_MATRIX), (sorted(events), sorted(SOCKET_MATRIX))


# --- running every cell ------------------------------------------------------------------------------------------
def status_class_matches(expected: str, status: int) -> bool:
    if status >= 500:
        return False
    past_access = status < 400 or status in (400, 409, 422)
    return {
        OK: past_access,
        GONE: past_access or status == 404,
        DENY: status in (403, 404),
    }.get(expected, str(status) == expected)


@pytest.fixture(scope="module")
def world(system: System) -> World:  # noqa: F811
    return build_world(system.url, system.env)


def fill(template: Any, world: World) -> Any:
    """Placeholders like {event} or {user:author} in a path or anywhere in a body; "{poster}" alone becomes the id."""
    if isinstance(template, dict):
        return {k: fill(v, world) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, world) for v in template]
    if not isinstance(template, str):
        return template
    values: dict[str, Any] = {k: v for k, v in world.ids.items() if isinstance(v, int | str)}
    values.update({f"user:{p}": uid for p, uid in world.user_ids.items()})
    whole = template[1:-1] if template.startswith("{") and template.endswith("}") else None
    if whole in values:
        return values[whole]
    text = template
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    assert "{" not in text, f"unfilled placeholder in {template}"
    return text


def run_cell(world: World, method: str, entry: Entry, persona: str) -> int:
    headers = world.headers(persona)
    if entry.fresh_token and persona != "anonymous":
        headers = {"Authorization": f"Bearer {world.login(persona)}"}
    body = fill(entry.body, world) if entry.body is not None else ({} if method in ("POST", "PUT", "PATCH") else None)
    response = requests.request(
        method, world.url + fill(entry.path, world), headers=headers, json=body, timeout=60, allow_redirects=False
    )
    return response.status_code


@pytest.mark.timeout(1800)  # a whole system and hundreds of calls; slow on a shared machine
def test_every_cell_of_the_matrix(world: World) -> None:
    mismatches = []
    ordered = sorted(MATRIX.items(), key=lambda item: item[1].order)
    for (method, rule), entry in ordered:
        # Those who must be refused go first: an allowed deletion must not hide a refusal behind a 404.
        cells = sorted(zip(PERSONAS, entry.expect, strict=True), key=lambda cell: cell[1] in (OK, GONE))
        for persona, expected in cells:
            status = run_cell(world, method, entry, persona)
            if not status_class_matches(expected, status):
                mismatches.append(f"{method} {rule} as {persona}: expected {expected}, got {status}")
    assert not mismatches, "\n" + "\n".join(mismatches)


def socket_client(world: World, persona: str) -> socketio.Client | None:
    token = world.tokens.get(persona)
    client = socketio.Client(reconnection=False)
    try:
        client.connect(
            world.url,
            namespaces=[NAMESPACE],
            auth={"token": token} if token else None,
            transports=["websocket"],
            wait_timeout=20,
        )
    except socketio.exceptions.ConnectionError:
        return None
    return client


def ack_class(ack: Any) -> str:
    code = ack.get("error", {}).get("code") if isinstance(ack, dict) else None
    return {"unauthenticated": "401", "forbidden": "403", "not_found": "404"}.get(code or "", OK)


def test_every_socket_event_of_the_matrix(world: World) -> None:
    mismatches = []
    room = world.ids["room"]
    payloads = {event: {"room_id": room, **extra} for event, extra in SOCKET_PAYLOADS.items()}
    for index, persona in enumerate(PERSONAS):
        client = socket_client(world, persona)
        connected = "401" if client is None else OK
        if connected != SOCKET_MATRIX["connect"][index]:
            mismatches.append(f"connect as {persona}: expected {SOCKET_MATRIX['connect'][index]}, got {connected}")
        for event, expect in SOCKET_MATRIX.items():
            if event == "connect":
                continue
            got = (
                "401"
                if client is None
                else ack_class(
                    client.call(event, payloads.get(event, {"room_id": room}), namespace=NAMESPACE, timeout=20)
                )
            )
            if not (got == expect[index] or (expect[index] == DENY and got in ("403", "404"))):
                mismatches.append(f"{event} as {persona}: expected {expect[index]}, got {got}")
        if client is not None:
            client.disconnect()
    assert not mismatches, "\n" + "\n".join(mismatches)


# --- sockets end on logout and on a role change (across processes, through the Redis queue) ---------------------
def connected_client(world: World, token: str) -> Iterator[socketio.Client]:
    client = socketio.Client(reconnection=False)
    client.connect(world.url, namespaces=[NAMESPACE], auth={"token": token}, transports=["websocket"], wait_timeout=20)
    return client  # type: ignore[return-value]


def test_sockets_end_on_logout_and_on_role_change(world: World) -> None:
    kept_token, ended_token = world.login("other_attendee"), world.login("other_attendee")
    kept = connected_client(world, kept_token)
    ended = connected_client(world, ended_token)
    try:
        assert kept.connected and ended.connected
        logout = requests.post(
            f"{world.url}/api/v1/auth/logout", headers={"Authorization": f"Bearer {ended_token}"}, timeout=30
        )
        assert logout.status_code == 204
        wait_until(lambda: not ended.connected, timeout=20, what="the logged-out socket to be closed by the server")
        assert kept.connected  # another sign-in of the same person stays
        user = world.user_ids["other_attendee"]
        changed = world.call("organiser", "PUT", f"/api/v1/users/{user}/roles", json={"roles": ["attendee", "author"]})
        assert changed.status_code == 200, changed.text
        wait_until(lambda: not kept.connected, timeout=20, what="the socket to end after the role change")
        # The CLI promoting someone (another process altogether) ends their sockets too.
        promoted = connected_client(world, world.login("other_author"))
        subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", "other_author@example.org"],
            cwd=ROOT, env=world.env, check=True, capture_output=True,
        )  # fmt: skip
        wait_until(lambda: not promoted.connected, timeout=20, what="the socket to end after the CLI promotion")
    finally:
        for client in (kept, ended):
            if client.connected:
                client.disconnect()
        world.call(
            "organiser", "PUT", f"/api/v1/users/{world.user_ids['other_attendee']}/roles", json={"roles": ["attendee"]}
        )


# --- headers and cookie flags per kind of response ---------------------------------------------------------------
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "SAMEORIGIN",
}


def assert_base_headers(response: requests.Response) -> None:
    for name, value in BASE_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers.get(name))
    assert response.headers.get("X-Request-Id")


def assert_page_csp(response: requests.Response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "object-src 'none'" in csp, csp
    assert "frame-ancestors 'self'" in csp and "base-uri 'self'" in csp, csp


def test_headers_and_cookies_per_kind_of_response(world: World) -> None:
    url = world.url
    page = requests.get(f"{url}/login", timeout=30)  # a page, and the CSRF session cookie it sets
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert_base_headers(page)
    assert_page_csp(page)
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("insightdays_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
    assert "Path=/" in cookie and "Secure" not in cookie, cookie  # Secure is on outside development (below)

    api = world.call("attendee", "GET", "/api/v1/me")
    assert api.status_code == 200 and api.headers["Content-Type"] == "application/json"
    assert_base_headers(api)
    assert "Set-Cookie" not in api.headers  # bearer calls get no cookie
    proxied = world.call("attendee", "GET", f"/api/v1/events/{world.ids['event']}")
    assert proxied.status_code == 200 and proxied.headers["Content-Type"] == "application/json"
    assert_base_headers(proxied)

    # A poster file through the proxy keeps the posters service's own, stricter policy.
    thumbnail = f"/api/v1/posters/{world.ids['poster']}/thumbnail.png"
    wait_until(lambda: world.call("attendee", "GET", thumbnail).status_code == 200, timeout=60, what="thumbnail")
    file = world.call("attendee", "GET", thumbnail)
    assert file.headers["Content-Type"] == "image/png"
    assert file.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert_base_headers(file)

    for error, kind in (
        (requests.get(f"{url}/no/such/page", headers={"Accept": "text/html"}, timeout=30), "text/html"),
        (world.call("attendee", "GET", "/api/v1/no-such-route"), "application/json"),
        (world.call("attendee", "GET", "/api/v1/events/1/../../users"), "application/json"),
        (
            requests.post(
                f"{url}/api/v1/auth/login",
                data=b"[" + b"{}," * 40_000 + b"{}]",
                headers={"Content-Type": "application/json"},
                timeout=30,
            ),
            "application/json",
        ),
    ):
        assert 400 <= error.status_code < 500 and error.headers["Content-Type"].startswith(kind), error.status_code
        assert_base_headers(error)
        if kind == "text/html":
            assert_page_csp(error)
        else:
            assert set(error.json()["error"]) == {"code", "message", "field"}


def test_cookies_are_secure_outside_development(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    for key, value in {"APP_ENV": "test", "VAR_DIR": str(tmp_path / "var"), "REDIS_URL": redis_server.url}.items():
        mp.setenv(key, value)
    try:
        app = importlib.import_module("services.gateway").create_app({"SESSION_COOKIE_SECURE": True})
        response = app.test_client().get("/login")
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        app.extensions["db"].dispose()
    finally:
        mp.undo()


# --- user-written text stays text in a real browser -------------------------------------------------------------
def payload(label: str) -> str:
    """Markup that would run or inject if a page put it into HTML unescaped."""
    return f"<img src=x onerror=alert('{label}')><script>alert('{label}')</script>\"><svg onload=alert('{label}')>"


@pytest.mark.timeout(1800)  # a whole system and hundreds of calls; slow on a shared machine
def test_user_written_text_is_inert_in_the_browser(world: World, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from tests.e2e.helpers import sign_in

    event, url = world.ids["event"], world.url
    person = {"email": "xss-author@example.org", "password": "correct horse battery staple",
              "display_name": payload("name")[:120], "organisation": payload("org")[:200], "region": "North",
              "role": "author"}  # fmt: skip
    assert requests.post(f"{url}/api/v1/auth/register", json=person, timeout=60).status_code in (201, 202)
    xss = requests.Session()
    token = requests.post(f"{url}/api/v1/auth/login", json={k: person[k] for k in ("email", "password")}, timeout=60)
    xss.headers["Authorization"] = f"Bearer {token.json()['token']}"
    assert xss.put(f"{url}/api/v1/events/{event}/registration", json={"themes": ["privacy"]}, timeout=60).ok
    project = {"title": payload("title")[:200], "summary": payload("summary"), "themes": ["privacy"],
               "learnings": [payload("learning1"), payload("learning2"), payload("learning3")],
               "questions": [payload("question")]}  # fmt: skip
    created = xss.post(f"{url}/api/v1/events/{event}/projects", json=project, timeout=60)
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    world.ok("attendee", "POST", f"/api/v1/projects/{project_id}/questions", json={"text": payload("qa")})
    room = world.ids["room"]
    message = {"client_id": "xss-1", "text": payload("chat")}
    world.ok("attendee", "POST", f"/api/v1/chat-rooms/{room}/messages", json=message)
    contact = {"message": payload("contact")}
    xss.post(f"{url}/api/v1/events/{event}/people/{world.user_ids['attendee']}/contact-requests", json=contact,
             timeout=60)  # fmt: skip

    pages = {
        "attendee": ["/", f"/events/{event}", f"/projects/{project_id}", f"/chats/{room}", "/chats",
                     f"/events/{event}/people", "/me/contacts", "/notifications", f"/events/{event}/agenda"],
        "organiser": [f"/events/{event}", f"/projects/{project_id}", f"/events/{event}/setup",
                      f"/events/{event}/author-approval", f"/events/{event}/people"],
    }  # fmt: skip
    fired: list[str] = []
    for persona, paths in pages.items():
        context = browser.new_context()
        page = context.new_page()
        page.on("dialog", lambda dialog: (fired.append(dialog.message), dialog.dismiss()))
        sign_in(page, url, f"{persona}@example.org")
        for path in paths:
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            injected = page.locator("[onerror], [onload], script:not([src])").count()
            assert injected == 0, f"{persona} {path}: {injected} injected elements"
        page.goto(f"{url}/projects/{project_id}")
        page.wait_for_load_state("networkidle")
        assert "onerror=alert('title')" in page.inner_text("body")  # shown as the text it is
        context.close()
    assert not fired, fired


# --- property-based fuzzing of the whole public API (schemathesis on /api/v1/openapi.json) ------------------------
# Examples per operation: small in `make test`, larger in `make fuzz` (FUZZ_EXAMPLES=...). Runs last in this module:
# it may change or delete the world's data.
FUZZ_SKIPPED = {("POST", "/api/v1/auth/logout")}  # would end the fuzzing credential itself


def fuzz_operation(operation: Any, world: World, headers: dict[str, str], examples: int, errors: list[str]) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: a failure here is reproducible
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy())
    def call(case: Any) -> None:
        response = case.call(base_url=world.url, headers=headers, timeout=60)
        if response.status_code >= 500:
            errors.append(
                f"{operation.method.upper()} {case.formatted_path} query={case.query} body={case.body!r:.300} "
                f"-> {response.status_code}: {response.text[:200]}"
            )

    call()


@pytest.mark.timeout(1800)  # a whole system and hundreds of calls; slow on a shared machine
def test_fuzzing_the_api_finds_no_server_error(world: World) -> None:
    import os

    import schemathesis

    examples = int(os.environ.get("FUZZ_EXAMPLES", "3"))
    schema = schemathesis.openapi.from_url(f"{world.url}/api/v1/openapi.json")
    headers = world.headers("organiser")  # the widest access: most calls get past the access checks
    server_errors: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in FUZZ_SKIPPED:
            continue
        operations += 1
        fuzz_operation(operation, world, headers, examples, server_errors)
    assert operations > 100, operations  # the document covers the API
    assert not server_errors, "\n".join(server_errors[:30])
