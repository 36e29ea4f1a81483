"""E-mail verification in the gateway (EMAIL_VERIFICATION on): one answer for new and taken addresses, inactive
until the signed link is confirmed, no promotion before, nothing the registrant wrote in the sign-up mails.
Flask test client against a real Redis; the mail round trip through notify and SMTP is in test_email_verification_flow.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from services.gateway.adapters.orm import Outbox, UserRow

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
SNEAKY = "Click https://evil.example now"


def registration(email: str, **extra: Any) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD, "display_name": SNEAKY, "organisation": "Org", "region": "North"}
    return {**body, **extra}


def events(app: Flask, kind: str) -> list[dict[str, Any]]:
    with app.extensions["db"].unit_of_work() as session:
        rows = session.scalars(select(Outbox).where(Outbox.type == kind).order_by(Outbox.id))
        return [json.loads(row.body)["payload"] for row in rows]


def link_token(payload: dict[str, Any]) -> str:
    return parse_qs(urlsplit(payload["link"]).query)["token"][0]


def bearer(client: FlaskClient, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("gateway", EMAIL_VERIFICATION=True, RATE_LIMITS=False)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_new_and_taken_addresses_get_the_same_answer(app: Flask, client: FlaskClient) -> None:
    first = client.post("/api/v1/auth/register", json=registration("ada@example.org"))
    confirm = events(app, "VerificationRequested")[0]
    assert client.post("/api/v1/auth/verify-email", json={"token": link_token(confirm)}).status_code == 200
    again = client.post("/api/v1/auth/register", json=registration("ADA@example.org", password="another password 1"))
    assert (first.status_code, first.get_json()) == (again.status_code, again.get_json())
    assert first.status_code == 202 and "id" not in first.get_json()
    taken = events(app, "VerificationRequested")[-1]
    assert taken["purpose"] == "address_taken" and taken["email"] == "ada@example.org"
    assert taken["link"].endswith("/login")
    bearer(client, "ada@example.org")  # the owner's password is unchanged


def test_the_account_is_inactive_until_the_link_is_confirmed(app: Flask, client: FlaskClient) -> None:
    assert client.post("/api/v1/auth/register", json=registration("bo@example.org")).status_code == 202
    early = client.post("/api/v1/auth/login", json={"email": "bo@example.org", "password": PASSWORD})
    assert early.status_code == 403 and early.get_json()["error"]["code"] == "email_not_verified"
    wrong = client.post("/api/v1/auth/login", json={"email": "bo@example.org", "password": "wrong password 1"})
    assert wrong.status_code == 401  # only the right password learns that the account waits for confirmation
    assert events(app, "UserRegistered") == []  # the other services do not know the person yet

    confirm = events(app, "VerificationRequested")[0]
    assert confirm["purpose"] == "confirm_address" and SNEAKY not in json.dumps(confirm)  # no user text mailed
    page = app.test_client().get(urlsplit(confirm["link"]).path + "?" + urlsplit(confirm["link"]).query)
    assert page.status_code == 200 and b"Confirm my address" in page.data
    assert events(app, "UserRegistered") == []  # opening the link (a mail scanner) confirms nothing
    done = client.post("/api/v1/auth/verify-email", json={"token": link_token(confirm)})
    assert done.status_code == 200 and done.get_json()["email_verified"] is True
    assert client.post("/api/v1/auth/verify-email", json={"token": link_token(confirm)}).status_code == 200
    registered = events(app, "UserRegistered")
    assert len(registered) == 1 and registered[0]["display_name"] == SNEAKY  # the welcome comes only now
    me = client.get("/api/v1/me", headers=bearer(client, "bo@example.org"))
    assert me.get_json()["email"] == "bo@example.org"


def test_forged_or_superseded_links_are_refused(app: Flask, client: FlaskClient) -> None:
    client.post("/api/v1/auth/register", json=registration("cy@example.org"))
    first = link_token(events(app, "VerificationRequested")[0])
    forged = client.post("/api/v1/auth/verify-email", json={"token": first[:-3] + "xyz"})
    assert forged.status_code == 400 and forged.get_json()["error"]["field"] == "token"
    # Someone registers the still unconfirmed address again: the newest details win, older links die.
    client.post("/api/v1/auth/register", json=registration("cy@example.org", password="the owner's own pass"))
    second = link_token(events(app, "VerificationRequested")[-1])
    stale = client.post("/api/v1/auth/verify-email", json={"token": first})
    assert stale.status_code == 400 and stale.get_json()["error"]["code"] == "invalid_link"
    assert client.post("/api/v1/auth/verify-email", json={"token": second}).status_code == 200
    ok = client.post("/api/v1/auth/login", json={"email": "cy@example.org", "password": "the owner's own pass"})
    assert ok.status_code == 200
    with app.extensions["db"].unit_of_work() as session:
        assert session.scalar(select(UserRow).where(UserRow.email == "cy@example.org")).email_verified_at is not None


def test_no_promotion_before_the_address_is_confirmed(app: Flask, client: FlaskClient) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-organiser", "boss@example.org", "--password", PASSWORD]).exit_code == 0
    organiser = bearer(client, "boss@example.org")
    # An attacker registers the future organiser's address first.
    client.post("/api/v1/auth/register", json=registration("future@example.org"))
    user_id = events(app, "VerificationRequested")[-1]["user_id"]
    refused = client.put(f"/api/v1/users/{user_id}/roles", json={"roles": ["organiser"]}, headers=organiser)
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "roles"
    cli = runner.invoke(args=["create-organiser", "future@example.org"])
    assert cli.exit_code != 0 and "confirmed" in cli.output
    with app.extensions["db"].unit_of_work() as session:
        row = session.scalar(select(UserRow).where(UserRow.email == "future@example.org"))
        assert [r.role for r in row.role_rows] == ["attendee"]


def test_the_register_page_answers_check_your_mail_for_any_address(app: Flask) -> None:
    browser = app.test_client()
    page = browser.get("/register")
    csrf = page.data.split(b'name="csrf_token" type="hidden" value="')[1].split(b'"')[0].decode()
    form = {**registration("dee@example.org"), "role": "attendee", "csrf_token": csrf}
    answer = browser.post("/register", data=form)
    assert answer.status_code == 200 and b"Check your mail" in answer.data
    signed_in = browser.get("/api/v1/me")
    assert signed_in.status_code == 401  # no session for an unconfirmed account


def test_with_verification_off_the_v1_contract_holds(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("gateway", EMAIL_VERIFICATION=False, RATE_LIMITS=False)
    client = app.test_client()
    created = client.post("/api/v1/auth/register", json=registration("eve@example.org"))
    assert created.status_code == 201 and isinstance(created.get_json()["id"], int)
    assert client.post("/api/v1/auth/register", json=registration("eve@example.org")).status_code == 409
    bearer(client, "eve@example.org")


def test_notify_mails_no_registrant_text_and_warns_an_owner_at_most_hourly(make_app) -> None:  # type: ignore[no-untyped-def]
    from services.notify.adapters.orm import Email
    from services.notify.verification import record_mail
    from shared.events import VerificationRequested

    notify = make_app("notify")
    db = notify.extensions["db"]
    confirm = VerificationRequested(7, "new@example.org", "confirm_address", "http://x/verify-email?token=abc", "")
    taken = VerificationRequested(8, "owner@example.org", "address_taken", "http://x/login")
    unknown = VerificationRequested(9, "who@example.org", "welcome_with_text", "http://x/")
    with db.unit_of_work() as session:
        mails = [record_mail(session, e) for e in (confirm, taken, taken, unknown)]
    assert [m is not None for m in mails] == [True, True, False, False]  # the 2nd warning within the hour: none
    with db.unit_of_work() as session:
        rows = session.scalars(select(Email).order_by(Email.id)).all()
        assert [(r.to_address, r.category, r.status) for r in rows] == [
            ("new@example.org", "account", "queued"),
            ("owner@example.org", "account", "queued"),
        ]
        assert "http://x/verify-email?token=abc" in rows[0].body and rows[0].notification_id is None
