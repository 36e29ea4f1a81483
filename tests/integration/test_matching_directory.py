"""Profiles, the people directory and contact requests in the matching service: every field is shown only to whom
its owner allows (checked per field, for an attendee and an organiser viewing, filters included), withdrawal
takes effect with the next request, only people registered for the day are listed, and a contact request never
reveals an e-mail address. Bad input gets a 4xx naming the field and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from services.matching.adapters.orm import Outbox
from services.matching.directory.models import ConsentChange, ContactRequest, Profile
from shared.events import Envelope

pytestmark = pytest.mark.integration

ORGANISER, SUBJECT, VIEWER, OTHER = 1, 2, 3, 4
DAY = {
    "title": "People day",
    "starts_at": "2030-06-03T08:00:00+00:00",
    "ends_at": "2030-06-03T17:00:00+00:00",
    "timezone": "Europe/London",
}
ALL_NOBODY = {
    name: {"visibility": "nobody"}
    for name in ("role", "organisation", "region", "tools", "interests", "projects", "bio")
}
# A value per field with a word found nowhere else, and the query parameter that filters on the field (if any).
MARKED: dict[str, tuple[Any, str | None, str]] = {
    "role": ("Analyst zqxrole", None, "zqxrole"),
    "organisation": ("Zqxorganisation Trust", "organisation", "Zqxorganisation Trust"),
    "region": ("Zqxregion Coast", "region", "Zqxregion Coast"),
    "tools": (["zqxtools"], "tool", "zqxtools"),
    "interests": (["zqxinterests"], "interest", "zqxinterests"),
    "projects": (["Project zqxprojects"], None, "zqxprojects"),
    "bio": ("I like zqxbio.", None, "zqxbio"),
}


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("matching")


@pytest.fixture
def day(app: Flask, as_user) -> int:  # type: ignore[no-untyped-def]
    client = app.test_client()
    organiser = as_user(app, ORGANISER, "organiser")
    day_id = int(client.post("/api/v1/events", json=DAY, headers=organiser).json["id"])
    client.put(f"/api/v1/events/{day_id}/thesaurus", json={"themes": ["privacy", "equity"]}, headers=organiser)
    return day_id


def _register(app: Flask, as_user, day: int, user_id: int, organisation: str = "Org A") -> dict[str, str]:  # type: ignore[no-untyped-def]
    headers = as_user(app, user_id, "attendee", organisation=organisation)
    put = app.test_client().put(f"/api/v1/events/{day}/registration", json={"themes": ["privacy"]}, headers=headers)
    assert put.status_code == 200, put.json
    return headers


def _people(app: Flask, day: int, headers: dict[str, str], **params: str):  # type: ignore[no-untyped-def]
    return app.test_client().get(f"/api/v1/events/{day}/people", query_string=params, headers=headers)


def _card(response, user_id: int) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    return next((c for c in response.json["items"] if c["user_id"] == user_id), None)


def _outbox(app: Flask) -> list[Envelope]:
    with app.extensions["db"].unit_of_work() as session:
        return [Envelope.from_json(r.body) for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def _count(app: Flask, model) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["db"].unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- profiles ------------------------------------------------------------------------------------------------
def test_a_new_profile_shows_organisation_and_region_to_everyone_and_nothing_else(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    subject = _register(app, as_user, day, SUBJECT, "Navy Analytics")
    viewer = _register(app, as_user, day, VIEWER)
    mine = app.test_client().get("/api/v1/me/profile", headers=subject).json
    assert mine["saved"] is False
    assert {n: f["visibility"] for n, f in mine["fields"].items()} == {
        "role": "nobody",
        "organisation": "everyone",
        "region": "everyone",
        "tools": "nobody",
        "interests": "nobody",
        "projects": "nobody",
        "bio": "nobody",
    }
    assert mine["fields"]["organisation"]["value"] == "Navy Analytics"
    assert mine["preview"]["everyone"] == {"organisation": "Navy Analytics", "region": "North"}
    card = _card(_people(app, day, viewer), SUBJECT)
    assert card == {
        "user_id": SUBJECT,
        "display_name": f"User {SUBJECT}",
        "fields": {"organisation": "Navy Analytics", "region": "North"},
        "contact": {"status": "none", "request_id": None},
    }


def test_saving_changes_only_the_fields_given_and_logs_consent(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    subject = _register(app, as_user, day, SUBJECT)
    client = app.test_client()
    body = {"role": {"value": "  Data   analyst ", "visibility": "everyone"}, "tools": {"value": ["R", "r", " SQL "]}}
    saved = client.put("/api/v1/me/profile", json=body, headers=subject)
    assert saved.status_code == 200, saved.json
    fields = saved.json["fields"]
    assert (fields["role"]["value"], fields["role"]["visibility"]) == ("Data analyst", "everyone")
    assert (fields["tools"]["value"], fields["tools"]["visibility"]) == (["R", "SQL"], "nobody")
    assert fields["organisation"] == {**fields["organisation"], "value": "Org A", "visibility": "everyone"}
    assert [(h["field"], h["visibility"]) for h in saved.json["history"]] == [("role", "everyone")]
    again = client.put("/api/v1/me/profile", json={"bio": {"value": "Hello"}}, headers=subject).json
    assert again["fields"]["role"]["value"] == "Data analyst" and again["fields"]["tools"]["value"] == ["R", "SQL"]


# --- the directory never shows, matches or counts a hidden field ------------------------------------------------
@pytest.mark.parametrize("field", list(MARKED))
def test_each_field_is_shown_and_searchable_only_as_its_owner_allows(app, day, as_user, field: str) -> None:  # type: ignore[no-untyped-def]
    subject = _register(app, as_user, day, SUBJECT)
    attendee = _register(app, as_user, day, VIEWER)
    organiser = as_user(app, ORGANISER, "organiser")  # organisers browse any day
    value, filter_name, filter_value = MARKED[field]
    marker = MARKED[field][2].split()[0].lower()
    client = app.test_client()
    for visibility in ("nobody", "organisers", "everyone"):
        body = {**ALL_NOBODY, field: {"value": value, "visibility": visibility}}
        assert client.put("/api/v1/me/profile", json=body, headers=subject).status_code == 200
        for viewer_name, viewer in (("attendee", attendee), ("organiser", organiser)):
            allowed = visibility == "everyone" or (visibility == "organisers" and viewer_name == "organiser")
            where = f"{field} {visibility} seen by {viewer_name}"
            listed = _people(app, day, viewer)
            assert listed.status_code == 200, listed.json
            card = _card(listed, SUBJECT)
            assert card is not None, where  # the person is listed, with only what is allowed
            assert (field in card["fields"]) is allowed, where
            assert set(card["fields"]) <= {field}, where
            assert (marker in listed.get_data(as_text=True).lower()) is allowed, where  # not in facets either
            by_text = _people(app, day, viewer, q=marker)
            assert [c["user_id"] for c in by_text.json["items"]] == ([SUBJECT] if allowed else []), where
            assert marker not in by_text.get_data(as_text=True).lower() or allowed, where
            if filter_name:
                by_filter = _people(app, day, viewer, **{filter_name: filter_value})
                assert by_filter.json["total"] == (1 if allowed else 0), where
                assert [c["user_id"] for c in by_filter.json["items"]] == ([SUBJECT] if allowed else []), where


def test_withdrawing_consent_takes_effect_at_once_everywhere(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    subject = _register(app, as_user, day, SUBJECT)
    viewer = _register(app, as_user, day, VIEWER)
    client = app.test_client()
    body = {
        "interests": {"value": ["record linkage"], "visibility": "everyone"},
        "bio": {"value": "Hi", "visibility": "everyone"},
    }
    client.put("/api/v1/me/profile", json=body, headers=subject)
    # the two become contacts: withdrawal must reach "My contacts" too
    asked = client.post(
        f"/api/v1/events/{day}/people/{SUBJECT}/contact-requests", json={"message": "hi"}, headers=viewer
    )
    client.post(f"/api/v1/contact-requests/{asked.json['id']}/accept", headers=subject)
    assert _people(app, day, viewer, interest="Record Linkage").json["total"] == 1
    contact = client.get("/api/v1/me/contact-requests", headers=viewer).json["contacts"][0]["person"]
    assert contact["fields"]["interests"] == ["record linkage"]

    withdraw = client.put("/api/v1/me/profile", json=ALL_NOBODY, headers=subject)
    assert withdraw.status_code == 200 and withdraw.json["preview"] == {"everyone": {}, "organisers": {}}
    assert _card(_people(app, day, viewer), SUBJECT)["fields"] == {}  # type: ignore[index]
    assert _people(app, day, viewer, interest="record linkage").json["total"] == 0
    assert _people(app, day, viewer, q="linkage").json["total"] == 0
    assert client.get("/api/v1/me/contact-requests", headers=viewer).json["contacts"][0]["person"]["fields"] == {}
    with app.extensions["db"].unit_of_work() as session:
        logged = session.scalars(select(ConsentChange.field).where(ConsentChange.visibility == "nobody")).all()
    assert sorted(logged) == ["bio", "interests", "organisation", "region"]


def test_only_people_registered_for_the_day_are_listed_and_may_look(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    organiser = as_user(app, ORGANISER, "organiser")
    other_day = client.post("/api/v1/events", json={**DAY, "title": "Another day"}, headers=organiser).json["id"]
    client.put(f"/api/v1/events/{other_day}/thesaurus", json={"themes": ["privacy"]}, headers=organiser)
    viewer = _register(app, as_user, day, VIEWER)
    _register(app, as_user, day, SUBJECT)
    _register(app, as_user, other_day, OTHER)  # registered elsewhere, with a profile for everyone
    client.put("/api/v1/me/profile", json={"bio": {"value": "x", "visibility": "everyone"}}, headers=as_user(app, 5))
    listed = _people(app, day, viewer).json
    assert [c["user_id"] for c in listed["items"]] == [SUBJECT]  # not the viewer, not 4 (other day), not 5
    assert listed["registered"] == 1
    outsider = _people(app, other_day, viewer)
    assert outsider.status_code == 403 and outsider.json["error"]["code"] == "not_registered"
    assert [c["user_id"] for c in _people(app, other_day, organiser).json["items"]] == [OTHER]


def test_pages_of_twenty_by_name(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    viewer = _register(app, as_user, day, VIEWER)
    for user_id in range(10, 35):
        _register(app, as_user, day, user_id)
    first, second = _people(app, day, viewer).json, _people(app, day, viewer, page="2").json
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (25, 2, 20, 5)
    assert {c["user_id"] for c in first["items"]} | {c["user_id"] for c in second["items"]} == set(range(10, 35))


# --- contact requests ----------------------------------------------------------------------------------------
def test_contact_request_flow_never_reveals_an_email(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    requester = _register(app, as_user, day, VIEWER)
    recipient = _register(app, as_user, day, SUBJECT)
    client = app.test_client()
    path = f"/api/v1/events/{day}/people/{SUBJECT}/contact-requests"
    asked = client.post(path, json={"message": " Your linkage work looks great "}, headers=requester)
    assert asked.status_code == 201, asked.json
    request_id = asked.json["id"]
    assert asked.json["message"] == "Your linkage work looks great"
    responses = [asked]
    responses.append(_people(app, day, requester))
    assert _card(responses[-1], SUBJECT)["contact"] == {"status": "requested", "request_id": request_id}  # type: ignore[index]
    responses.append(client.get("/api/v1/me/contact-requests", headers=recipient))
    incoming = responses[-1].json["incoming"]
    assert [(i["id"], i["person"]["user_id"], i["message"]) for i in incoming] == [
        (request_id, VIEWER, "Your linkage work looks great")
    ]
    assert _card(_people(app, day, recipient), VIEWER)["contact"]["status"] == "asked_me"  # type: ignore[index]

    # the requester cannot accept their own request; the recipient can, once
    assert client.post(f"/api/v1/contact-requests/{request_id}/accept", headers=requester).status_code == 403
    accepted = client.post(f"/api/v1/contact-requests/{request_id}/accept", headers=recipient)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    again = client.post(f"/api/v1/contact-requests/{request_id}/decline", headers=recipient)
    assert again.status_code == 409 and again.json["error"]["code"] == "answered"
    for headers, other in ((requester, SUBJECT), (recipient, VIEWER)):
        mine = client.get("/api/v1/me/contact-requests", headers=headers)
        responses.append(mine)
        assert [c["person"]["user_id"] for c in mine.json["contacts"]] == [other]
        assert mine.json["incoming"] == []
    # nowhere an address: not in any answer, not in the events for notify
    for response in responses:
        assert "@" not in response.get_data(as_text=True)
    events = [e for e in _outbox(app) if e.type in ("ContactRequested", "ContactAccepted")]
    assert [e.type for e in events] == ["ContactRequested", "ContactAccepted"]
    assert events[0].payload == {
        "request_id": request_id,
        "event_id": day,
        "requester_id": VIEWER,
        "recipient_id": SUBJECT,
        "message": "Your linkage work looks great",
    }
    assert all("@" not in json.dumps(e.payload) for e in events)

    # one request per pair, whoever asks
    twice = client.post(path, json={"message": "again"}, headers=requester)
    assert twice.status_code == 409 and twice.json["error"]["code"] == "already_connected"


def test_a_declined_request_cannot_be_sent_again_and_a_pending_one_not_mirrored(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    a = _register(app, as_user, day, VIEWER)
    b = _register(app, as_user, day, SUBJECT)
    c = _register(app, as_user, day, OTHER)
    client = app.test_client()
    first = client.post(f"/api/v1/events/{day}/people/{SUBJECT}/contact-requests", json={"message": "hi"}, headers=a)
    mirrored = client.post(f"/api/v1/events/{day}/people/{VIEWER}/contact-requests", json={"message": "hi"}, headers=b)
    assert mirrored.status_code == 409 and mirrored.json["error"]["code"] == "asked_you"
    repeat = client.post(f"/api/v1/events/{day}/people/{SUBJECT}/contact-requests", json={"message": "hi"}, headers=a)
    assert repeat.status_code == 409 and repeat.json["error"]["code"] == "already_requested"
    assert client.post(f"/api/v1/contact-requests/{first.json['id']}/decline", headers=b).json["status"] == "declined"
    after = client.post(f"/api/v1/events/{day}/people/{SUBJECT}/contact-requests", json={"message": "hi"}, headers=a)
    assert after.status_code == 409 and after.json["error"]["code"] == "declined"
    outgoing = client.get("/api/v1/me/contact-requests", headers=a).json["outgoing"]
    assert [(o["status"], o["person"]["user_id"]) for o in outgoing] == [("declined", SUBJECT)]
    # someone else's request is none of a third person's business
    assert client.post(f"/api/v1/contact-requests/{first.json['id']}/accept", headers=c).status_code == 404
    assert [e.type for e in _outbox(app) if e.type.startswith("Contact")] == ["ContactRequested"]


# --- bad input: 4xx naming the field, nothing written ------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": {"value": "x"}}, "nickname"),
        ({"role": {"visibility": "friends"}}, "role.visibility"),
        ({"role": {"value": "x" * 101}}, "role.value"),
        ({"role": {"value": ["a", "b"]}}, "role.value"),
        ({"tools": {"value": "R, SQL"}}, "tools.value"),
        ({"tools": {"value": [f"tool {i}" for i in range(21)]}}, "tools.value"),
        ({"interests": {"value": ["ok", "y" * 201]}}, "interests.value.1"),
        ({"projects": {"value": [f"p{i}" for i in range(11)]}}, "projects.value"),
        ({"bio": {"value": "b" * 601}}, "bio.value"),
        ({"bio": {"value": "ok", "shown": True}}, "bio.shown"),
        ({"bio": "just text"}, "bio"),
        ({"region": {"value": 5}}, "region.value"),
    ],
)
def test_bad_profiles_name_the_field_and_write_nothing(app, day, as_user, body, field) -> None:  # type: ignore[no-untyped-def]
    subject = _register(app, as_user, day, SUBJECT)
    client = app.test_client()
    mixed = {"role": {"value": "Analyst", "visibility": "everyone"}, **body}  # a good field with it: not written
    response = client.put("/api/v1/me/profile", json=mixed, headers=subject)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field and response.json["error"]["message"]
    assert _count(app, Profile) == 0 and _count(app, ConsentChange) == 0


def test_a_profile_body_that_is_not_a_json_object_is_refused(app, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    for data in ("[]", "not json", ""):
        response = client.put("/api/v1/me/profile", data=data, content_type="application/json", headers=as_user(app, 2))
        assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"
    assert _count(app, Profile) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x" * 201}, "q"),
        ({"interest": "y" * 201}, "interest"),
        ({"tool": "t" * 201}, "tool"),
        ({"organisation": "o" * 201}, "organisation"),
        ({"region": "r" * 201}, "region"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
    ],
)
def test_bad_searches_name_the_parameter(app, day, as_user, params, field) -> None:  # type: ignore[no-untyped-def]
    viewer = _register(app, as_user, day, VIEWER)
    response = _people(app, day, viewer, **params)
    assert response.status_code == 400 and response.json["error"]["field"] == field


def test_searching_a_day_that_does_not_exist_is_404(app, as_user) -> None:  # type: ignore[no-untyped-def]
    response = _people(app, 999, as_user(app, ORGANISER, "organiser"))
    assert response.status_code == 404 and response.json["error"]["message"] == "event not found"


@pytest.mark.parametrize(
    ("target", "body", "status", "field"),
    [
        ("subject", {"message": ""}, 400, "message"),
        ("subject", {"message": "   "}, 400, "message"),
        ("subject", {"message": "m" * 301}, 400, "message"),
        ("subject", {}, 400, "message"),
        ("subject", {"message": "hi", "email": "me@example.org"}, 400, "email"),
        ("subject", {"message": 5}, 400, "message"),
        ("self", {"message": "hi"}, 400, "user_id"),
        ("unregistered", {"message": "hi"}, 404, None),
        ("nobody", {"message": "hi"}, 404, None),
    ],
)
def test_bad_contact_requests_are_refused_and_write_nothing(app, day, as_user, target, body, status, field) -> None:  # type: ignore[no-untyped-def]
    requester = _register(app, as_user, day, VIEWER)
    _register(app, as_user, day, SUBJECT)
    app.test_client().put("/api/v1/me/profile", json={"bio": {"value": "x"}}, headers=as_user(app, OTHER))
    user_id = {"subject": SUBJECT, "self": VIEWER, "unregistered": OTHER, "nobody": 999}[target]
    response = app.test_client().post(
        f"/api/v1/events/{day}/people/{user_id}/contact-requests", json=body, headers=requester
    )
    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field
    assert _count(app, ContactRequest) == 0
    assert not [e for e in _outbox(app) if e.type.startswith("Contact")]


def test_contact_requests_need_the_requester_at_the_day_and_an_existing_request(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    _register(app, as_user, day, SUBJECT)
    client = app.test_client()
    outsider = as_user(app, OTHER)
    response = client.post(
        f"/api/v1/events/{day}/people/{SUBJECT}/contact-requests", json={"message": "hi"}, headers=outsider
    )
    assert response.status_code == 403 and response.json["error"]["code"] == "not_registered"
    assert client.post("/api/v1/contact-requests/12345/accept", headers=outsider).status_code == 404
    missing_day = client.post(
        f"/api/v1/events/999/people/{SUBJECT}/contact-requests", json={"message": "hi"}, headers=outsider
    )
    assert missing_day.status_code == 404
    assert client.get("/api/v1/me/profile").status_code == 401
    assert _count(app, ContactRequest) == 0
