"""Issue 12, items 1 and 2 and the request id: bodies are capped before they are read, JSON cannot crash the
parser, path ids that no column can hold are 404s, a client's X-Request-Id is kept only when it looks like one."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask

from tests.conftest import identity_headers

pytestmark = pytest.mark.integration

SERVICES = ("gateway", "posters", "matching", "notify")
# One JSON-taking route per service (any JSON body must be refused by size before the view looks at it).
JSON_ROUTES = {
    "gateway": "/api/v1/auth/login",
    "posters": "/api/v1/events/1/projects",
    "matching": "/api/v1/events",
    "notify": "/api/v1/me/notifications/read-all",
}
HUGE = "1" * 30
HUGE_ID_ROUTES = {
    "posters": ("/api/v1/posters/{}", "/api/v1/projects/{}", "/api/v1/posters/{}/thumbnail.png"),
    "matching": ("/api/v1/events/{}", "/api/v1/events/{}/slots", "/api/v1/chat-slots/{}"),
    "notify": ("/api/v1/me/notifications/{}/read",),
    "gateway": ("/api/v1/users/{}", "/events/{}", "/projects/{}"),
}


@pytest.fixture(scope="module")
def apps(redis_server, tmp_path_factory) -> dict[str, Flask]:  # type: ignore[no-untyped-def]
    """One migrated app per service for the whole module (the test env of tests/conftest.py's make_app)."""
    import importlib

    from shared.db import migrate

    mp = pytest.MonkeyPatch()
    var = tmp_path_factory.mktemp("guards") / "var"
    for key, value in {"APP_ENV": "test", "REDIS_URL": redis_server.url, "VAR_DIR": str(var)}.items():
        mp.setenv(key, value)
    for service in SERVICES:
        mp.delenv(f"{service.upper()}_DATABASE_URL", raising=False)
    built = {}
    for service in SERVICES:
        app = importlib.import_module(f"services.{service}").create_app({"RATE_LIMITS": False})
        migrate(service, app.config["DATABASE_URL"])
        built[service] = app
    yield built
    for app in built.values():
        app.extensions["db"].dispose()
    mp.undo()


def organiser(app: Flask) -> dict[str, str]:
    return {**identity_headers(app, 7, "attendee", "author", "organiser"), "Content-Type": "application/json"}


def gateway_bearer(app: Flask) -> dict[str, str]:
    from services.gateway import service
    from services.gateway.adapters.passwords import Passwords

    db = app.extensions["db"]
    account = service.find_account(db, "guard-org@example.org")
    if account is None:
        new = service.NewUser(
            "guard-org@example.org", "correct horse battery", "Org", "Org A", "North", ("attendee", "organiser")
        )
        account = service.register_user(db, Passwords(app.extensions["passwords"].hasher), new)
    return {"Authorization": "Bearer " + service.issue_token(db, account.id).token}


def headers_for(service: str, app: Flask) -> dict[str, str]:
    if service == "gateway":
        return {**gateway_bearer(app), "Content-Type": "application/json"}
    return organiser(app)


@pytest.mark.parametrize("service", SERVICES)
def test_a_big_json_body_is_refused_by_its_length_before_it_is_read(apps, service) -> None:  # type: ignore[no-untyped-def]
    app = apps[service]
    body = b"[" + b"{}," * 300_000 + b"{}]"  # ~900 KB of `[{},{},...]`, the shape that cost 1.7 GB at 60 MiB
    response = app.test_client().post(JSON_ROUTES[service], data=body, headers=headers_for(service, app))
    assert response.status_code == 413, response.data[:300]
    assert response.get_json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("service", ("gateway", "posters", "matching"))  # notify's read-all never reads a body
def test_a_big_body_without_a_length_is_cut_off_while_streaming(apps, service) -> None:  # type: ignore[no-untyped-def]
    app = apps[service]
    body = b"[" + b"{}," * 300_000 + b"{}]"
    environ = {"wsgi.input_terminated": True}  # what gunicorn says for a chunked body
    response = app.test_client().post(
        JSON_ROUTES[service],
        input_stream=io.BytesIO(body),
        headers={**headers_for(service, app), "Transfer-Encoding": "chunked"},
        environ_overrides=environ,
    )
    assert response.status_code == 413, response.data[:300]


@pytest.mark.parametrize("service", ("gateway", "posters", "matching"))  # notify takes no JSON body yet
def test_deeply_nested_json_is_a_400_not_a_crash(apps, service) -> None:  # type: ignore[no-untyped-def]
    app = apps[service]
    # Both under the 64 KiB body cap, far deeper than the parser's recursion limit.
    for body in ("[" * 30_000 + "]" * 30_000, '{"a":' * 10_000 + "1" + "}" * 10_000):
        response = app.test_client().post(JSON_ROUTES[service], data=body, headers=headers_for(service, app))
        assert response.status_code == 400, response.data[:300]
        assert response.get_json()["error"]["code"] == "invalid_json"


def test_upload_routes_still_take_bodies_over_the_json_cap(apps) -> None:  # type: ignore[no-untyped-def]
    app = apps["matching"]
    csv = "email,themes\n" + "".join(f"person{i}@example.org,privacy\n" for i in range(3000))
    assert len(csv) > 64 * 1024
    response = app.test_client().post(
        "/api/v1/events/1/registrations/import", data=csv, headers={**organiser(app), "Content-Type": "text/csv"}
    )
    assert response.status_code != 413 and response.status_code < 500, response.data[:300]
    posters = apps["posters"]
    big = io.BytesIO(b"%PDF-1.4\n" + b"0" * 200_000)
    response = posters.test_client().post(
        "/api/v1/projects/1/posters",
        data={"file": (big, "poster.pdf")},
        headers=identity_headers(posters, 7, "author"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 404, response.data[:300]  # no such project: ownership is checked first


@pytest.mark.parametrize("service", SERVICES)
def test_ids_no_column_can_hold_are_404(apps, service) -> None:  # type: ignore[no-untyped-def]
    app = apps[service]
    client = app.test_client()
    for pattern in HUGE_ID_ROUTES[service]:
        path = pattern.format(HUGE)
        method = client.post if path.endswith("/read") else client.get
        response = method(path, headers=headers_for(service, app))
        assert response.status_code == 404, (path, response.status_code, response.data[:300])
        # The largest id that fits is an ordinary "not found", not a route miss or an overflow.
        response = method(pattern.format(2**31 - 1), headers=headers_for(service, app))
        assert response.status_code in (302, 401, 403, 404), (path, response.status_code)


def test_a_client_request_id_is_kept_only_when_it_looks_like_one(apps) -> None:  # type: ignore[no-untyped-def]
    client = apps["gateway"].test_client()
    good = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert client.get("/healthz", headers={"X-Request-Id": good}).headers["X-Request-Id"] == good
    for bad in ("short", "has space in it", "quote\"injection'1", "a" * 65, "tab\there-12345", "<script>x</script>"):
        answered = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert answered != bad and re.fullmatch(r"[0-9a-f]{32}", answered), (bad, answered)


def test_dates_past_what_utc_can_hold_are_a_400(apps) -> None:  # type: ignore[no-untyped-def]
    """Found by the fuzzer: year 1 at +01:00 (or 9999-12-31 at -01:00) has no UTC form (OverflowError, was a 500)."""
    app = apps["matching"]
    client = app.test_client()
    day = {"title": "Edge day", "starts_at": "2027-01-01T08:00:00Z", "ends_at": "2027-01-01T18:00:00Z"}
    event = client.post("/api/v1/events", json={**day, "timezone": "UTC"}, headers=organiser(app)).get_json()["id"]
    for edge in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        slot = {"starts_at": edge, "ends_at": "2027-01-01T09:00:00Z", "kind": "breakout"}
        response = client.post(f"/api/v1/events/{event}/slots", json=slot, headers=organiser(app))
        assert response.status_code == 400, response.data[:300]
        assert response.get_json()["error"]["code"] == "out_of_range"


def test_an_empty_slot_kind_is_a_400(apps) -> None:  # type: ignore[no-untyped-def]
    """Found by the fuzzer: kind "" passed validation and tripped an assertion in the service (500)."""
    app = apps["matching"]
    client = app.test_client()
    day = {"title": "Kind day", "starts_at": "2027-01-02T08:00:00Z", "ends_at": "2027-01-02T18:00:00Z"}
    event = client.post("/api/v1/events", json={**day, "timezone": "UTC"}, headers=organiser(app)).get_json()["id"]
    slot = {"starts_at": "2000-01-01T00:00:00Z", "ends_at": "2000-01-01T00:00:00Z", "kind": ""}
    response = client.post(f"/api/v1/events/{event}/slots", json=slot, headers=organiser(app))
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "kind", response.data[:300]
