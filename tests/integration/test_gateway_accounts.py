"""Gateway accounts against a real Redis: register, sign in, tokens, roles, rate limits, CLI, outbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from services.gateway.adapters.orm import ApiTokenRow, Outbox, UserRow
from services.gateway.service import token_digest

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


def registration(email: str = "ada@example.org", **extra: Any) -> dict[str, Any]:
    body = {
        "email": email,
        "password": PASSWORD,
        "display_name": "Ada",
        "organisation": "Org A",
        "region": "North",
    }
    body.update(extra)
    return body


def register(client: FlaskClient, email: str = "ada@example.org", **extra: Any) -> int:
    response = client.post("/api/v1/auth/register", json=registration(email, **extra))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def login(client: FlaskClient, email: str = "ada@example.org", password: str = PASSWORD) -> str:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def outbox_events(app: Flask) -> list[dict[str, Any]]:
    with app.extensions["db"].unit_of_work() as session:
        return [json.loads(row.body) for row in session.scalars(select(Outbox).order_by(Outbox.id))]


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("gateway")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_register_login_me(client: FlaskClient) -> None:
    user_id = register(client, "Ada@Example.org", role="author")
    token = login(client, "ADA@example.org ")
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {
        "id": user_id,
        "email": "ada@example.org",
        "display_name": "Ada",
        "organisation": "Org A",
        "region": "North",
        "roles": ["attendee", "author"],
    }


def test_only_the_token_digest_and_an_argon2_hash_are_stored(app: Flask, client: FlaskClient) -> None:
    register(client)
    token = login(client)
    with app.extensions["db"].unit_of_work() as session:
        user = session.scalars(select(UserRow)).one()
        stored = session.scalars(select(ApiTokenRow)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert stored.token_hash == token_digest(token) != token
        assert stored.expires_at is not None and stored.revoked_at is None


def test_duplicate_email_is_409_on_email_whatever_the_case(client: FlaskClient) -> None:
    register(client)
    response = client.post("/api/v1/auth/register", json=registration("ADA@example.org"))
    assert response.status_code == 409
    assert response.get_json()["error"]["field"] == "email"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"display_name": "   "}, "display_name"),
        ({"organisation": None}, "organisation"),
        ({"role": "organiser"}, "role"),
        ({"is_admin": True}, "is_admin"),
    ],
)
def test_bad_fields_are_400_naming_the_field_and_write_nothing(
    app: Flask, client: FlaskClient, change: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/auth/register", json=registration(**change))
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field
    with app.extensions["db"].unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(UserRow)) == 0
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0


def test_missing_field_and_non_object_body(client: FlaskClient) -> None:
    body = registration()
    del body["region"]
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "region"
    response = client.post("/api/v1/auth/register", data="[]", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


def test_user_registered_is_in_the_outbox_with_the_user(app: Flask, client: FlaskClient) -> None:
    user_id = register(client, role="author")
    events = outbox_events(app)
    assert [e["type"] for e in events] == ["UserRegistered"]
    assert events[0]["payload"] == {
        "user_id": user_id,
        "email": "ada@example.org",
        "display_name": "Ada",
        "organisation": "Org A",
        "region": "North",
        "roles": ["attendee", "author"],
    }
    # A refused registration (duplicate) adds neither a user nor an event.
    assert client.post("/api/v1/auth/register", json=registration()).status_code == 409
    assert len(outbox_events(app)) == 1


def test_a_failing_transaction_leaves_no_outbox_row(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event rides in the user's transaction: when the unique index refuses the row, the event goes too."""
    from services.gateway import service

    register(client)
    # Skip the friendly pre-check, as a concurrent registration racing past it would, so the database refuses.
    monkeypatch.setattr(service, "_user_by_email", lambda session, email: None)
    response = client.post("/api/v1/auth/register", json=registration(display_name="Twin"))
    assert response.status_code == 409 and response.get_json()["error"]["field"] == "email"
    assert [e["type"] for e in outbox_events(app)] == ["UserRegistered"]


def test_wrong_password_and_unknown_email_get_the_same_401(client: FlaskClient) -> None:
    register(client)
    wrong = client.post("/api/v1/auth/login", json={"email": "ada@example.org", "password": "wrong password!"})
    unknown = client.post("/api/v1/auth/login", json={"email": "bob@example.org", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert client.get("/api/v1/me", headers=bearer("not-a-token")).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_logout_revokes_the_token(client: FlaskClient) -> None:
    register(client)
    token, other = login(client), login(client)
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200  # other sessions live on
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 401


def test_password_hash_is_upgraded_when_parameters_change(make_app) -> None:  # type: ignore[no-untyped-def]
    weak = make_app("gateway", ARGON2_TIME_COST=1, ARGON2_MEMORY_KIB=8 * 1024, ARGON2_PARALLELISM=1)
    register(weak.test_client())
    strong = make_app("gateway", ARGON2_TIME_COST=2, ARGON2_MEMORY_KIB=16 * 1024, ARGON2_PARALLELISM=1)

    def stored_hash() -> str:
        with strong.extensions["db"].unit_of_work() as session:
            return session.scalars(select(UserRow.password_hash)).one()

    assert "t=1" in stored_hash()
    login(strong.test_client())
    assert "m=16384,t=2,p=1" in stored_hash()
    login(strong.test_client())  # the new hash verifies too


class TestRoles:
    def promote(self, client: FlaskClient, token: str, user_id: int, roles: list[str]):  # type: ignore[no-untyped-def]
        return client.put(f"/api/v1/users/{user_id}/roles", json={"roles": roles}, headers=bearer(token))

    def test_organiser_promotes_and_others_may_not(self, app: Flask, client: FlaskClient) -> None:
        runner = app.test_cli_runner()
        assert runner.invoke(args=["create-organiser", "org@example.org", "--password", PASSWORD]).exit_code == 0
        organiser = login(client, "org@example.org")
        ada_id = register(client)
        ada = login(client)

        assert self.promote(client, ada, ada_id, ["organiser"]).status_code == 403
        response = self.promote(client, organiser, ada_id, ["author"])
        assert response.status_code == 200 and response.get_json()["roles"] == ["attendee", "author"]
        assert client.get("/api/v1/me", headers=bearer(ada)).get_json()["roles"] == ["attendee", "author"]
        assert self.promote(client, organiser, ada_id, ["wizard"]).get_json()["error"]["field"] == "roles"
        assert self.promote(client, organiser, 999, ["author"]).status_code == 404
        assert self.promote(client, "", ada_id, ["author"]).status_code == 401
        found = client.get("/api/v1/users?email=ADA@example.org", headers=bearer(organiser)).get_json()["items"]
        assert [u["id"] for u in found] == [ada_id]
        assert client.get("/api/v1/users?email=ada@example.org", headers=bearer(ada)).status_code == 403
        assert [e["type"] for e in outbox_events(app)][-1] == "UserRolesChanged"

    def test_organiser_cannot_demote_themself(self, app: Flask, client: FlaskClient) -> None:
        app.test_cli_runner().invoke(args=["create-organiser", "org@example.org", "--password", PASSWORD])
        token = login(client, "org@example.org")
        me = client.get("/api/v1/me", headers=bearer(token)).get_json()
        response = self.promote(client, token, me["id"], ["attendee"])
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "roles"


class TestCreateOrganiserCommand:
    def test_creates_an_organiser_through_the_outbox(self, app: Flask, client: FlaskClient) -> None:
        result = app.test_cli_runner().invoke(
            args=["create-organiser", "Org@Example.org", "--password", PASSWORD, "--name", "Olga"]
        )
        assert result.exit_code == 0, result.output
        assert "created organiser org@example.org" in result.output and PASSWORD not in result.output
        me = client.get("/api/v1/me", headers=bearer(login(client, "org@example.org"))).get_json()
        assert me["roles"] == ["attendee", "organiser"] and me["display_name"] == "Olga"
        events = outbox_events(app)
        assert [e["type"] for e in events] == ["UserRegistered"]
        assert events[0]["payload"]["roles"] == ["attendee", "organiser"]

    def test_generates_and_prints_a_password_without_prompting(self, app: Flask, client: FlaskClient) -> None:
        result = app.test_cli_runner().invoke(args=["create-organiser", "org@example.org"], input=None)
        assert result.exit_code == 0, result.output
        password = next(line.split(": ", 1)[1] for line in result.output.splitlines() if line.startswith("password:"))
        assert len(password) >= 20
        login(client, "org@example.org", password)

    def test_promotes_an_existing_account(self, app: Flask, client: FlaskClient) -> None:
        register(client)
        token = login(client)
        result = app.test_cli_runner().invoke(args=["create-organiser", "ada@example.org"])
        assert result.exit_code == 0 and "organiser role granted" in result.output
        assert "password:" not in result.output
        assert client.get("/api/v1/me", headers=bearer(token)).get_json()["roles"] == ["attendee", "organiser"]
        assert [e["type"] for e in outbox_events(app)] == ["UserRegistered", "UserRolesChanged"]
        again = app.test_cli_runner().invoke(args=["create-organiser", "ada@example.org"])
        assert again.exit_code == 0 and "nothing changed" in again.output
        assert len(outbox_events(app)) == 2

    def test_weak_password_is_refused(self, app: Flask) -> None:
        result = app.test_cli_runner().invoke(args=["create-organiser", "org@example.org", "--password", "short"])
        assert result.exit_code != 0 and "password" in result.output
        assert outbox_events(app) == []


class TestRateLimits:
    def test_failed_logins_are_limited_per_account(self, client: FlaskClient) -> None:
        register(client, "ada@example.org")
        register(client, "bob@example.org")
        wrong = {"email": "ada@example.org", "password": "not the password"}
        for _ in range(5):
            assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
        # Successful sign-ins of the same account do not count, but after 5 failures even the right password waits.
        blocked = client.post("/api/v1/auth/login", json={"email": "ADA@example.org", "password": PASSWORD})
        assert blocked.status_code == 429
        assert blocked.get_json()["error"]["code"] == "too_many_requests"
        assert "Retry-After" in blocked.headers
        login(client, "bob@example.org")  # same address, other account: unaffected

    def test_successes_do_not_count(self, client: FlaskClient) -> None:
        register(client)
        for _ in range(7):
            login(client)

    def test_rate_limits_off(self, make_app) -> None:  # type: ignore[no-untyped-def]
        client = make_app("gateway", RATE_LIMITS=False).test_client()
        wrong = {"email": "ada@example.org", "password": "not the password"}
        for _ in range(7):
            assert client.post("/api/v1/auth/login", json=wrong).status_code == 401

    def test_per_address_limit_from_config(self, make_app) -> None:  # type: ignore[no-untyped-def]
        client = make_app("gateway", AUTH_IP_RATE_LIMIT="3/minute").test_client()
        codes = [
            client.post("/api/v1/auth/register", json=registration(f"u{i}@example.org")).status_code for i in range(4)
        ]
        assert codes == [201, 201, 201, 429]


def test_the_relay_publishes_user_registered_to_the_stream(app: Flask, client: FlaskClient) -> None:
    from shared.bus import EVENTS_STREAM
    from shared.outbox import OutboxRelay

    user_id = register(client)
    relay = OutboxRelay(app.extensions["db"], Outbox, app.extensions["publisher"])
    assert relay.relay_once() == 1
    entries = app.extensions["redis"].xrange(EVENTS_STREAM)
    assert [fields["type"] for _, fields in entries] == ["UserRegistered"]
    assert json.loads(entries[0][1]["event"])["payload"]["user_id"] == user_id
    assert relay.relay_once() == 0
