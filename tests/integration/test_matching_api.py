"""Insight days in the matching service: who may do what, validation, events recorded in the outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.matching.adapters.orm import InsightDayRow, Outbox
from shared.events import Envelope, EventCreated, EventUpdated

pytestmark = pytest.mark.integration

DAY = {
    "title": "Health data insight day",
    "starts_at": "2026-12-01T09:00:00+01:00",
    "ends_at": "2026-12-01T17:00:00+01:00",
    "timezone": "Europe/Paris",
}


@pytest.fixture
def app(make_app):  # type: ignore[no-untyped-def]
    return make_app("matching")


def _outbox(app) -> list[Envelope]:  # type: ignore[no-untyped-def]
    with app.extensions["db"].unit_of_work() as session:
        return [Envelope.from_json(r.body) for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def test_organiser_creates_edits_and_everyone_signed_in_reads(app, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    organiser = as_user(app, 1, "organiser")
    created = client.post("/api/v1/events", json=DAY, headers=organiser)
    assert created.status_code == 201
    day_id = created.json["id"]
    assert created.json["starts_at"] == "2026-12-01T08:00:00+00:00"

    edited = client.patch(f"/api/v1/events/{day_id}", json={"title": "Renamed day"}, headers=organiser)
    assert edited.status_code == 200 and edited.json["title"] == "Renamed day"

    attendee = as_user(app, 2, "attendee")
    assert client.get(f"/api/v1/events/{day_id}", headers=attendee).json["title"] == "Renamed day"
    assert [d["id"] for d in client.get("/api/v1/events", headers=attendee).json["items"]] == [day_id]

    events = [e.parse() for e in _outbox(app)]
    assert [type(e) for e in events] == [EventCreated, EventUpdated]
    assert events[1].title == "Renamed day" and events[1].event_id == day_id


def test_every_change_of_a_day_takes_the_next_revision(app, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    organiser = as_user(app, 1, "organiser")
    day_id = client.post("/api/v1/events", json=DAY, headers=organiser).json["id"]
    for title in ("Second title", "Third title"):
        assert client.patch(f"/api/v1/events/{day_id}", json={"title": title}, headers=organiser).status_code == 200
    refused = client.patch(f"/api/v1/events/{day_id}", json={"ends_at": "2026-11-30T09:00:00+00:00"}, headers=organiser)
    assert refused.status_code == 400  # refused: nothing changed, nothing announced, no revision taken
    events = [e.parse() for e in _outbox(app)]
    assert [(type(e), e.title, e.revision) for e in events] == [  # type: ignore[attr-defined]
        (EventCreated, DAY["title"], 1),
        (EventUpdated, "Second title", 2),
        (EventUpdated, "Third title", 3),
    ]
    with app.extensions["db"].unit_of_work() as session:
        assert session.get(InsightDayRow, day_id).revision == 3


def test_unauthenticated_is_401_and_wrong_role_is_403(app, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.get("/api/v1/events").status_code == 401
    assert client.post("/api/v1/events", json=DAY).status_code == 401
    forged = {"X-Internal-Identity": "eyJ1c2VyX2lkIjoxfQ.forged.signature"}
    assert client.post("/api/v1/events", json=DAY, headers=forged).status_code == 401
    attendee = as_user(app, 2, "attendee", "author")
    response = client.post("/api/v1/events", json=DAY, headers=attendee)
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert client.patch("/api/v1/events/1", json={"title": "x" * 10}, headers=attendee).status_code == 403
    assert _outbox(app) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**DAY, "title": ""}, "title"),
        ({**DAY, "starts_at": "tomorrow"}, "starts_at"),
        ({**DAY, "ends_at": "2026-12-01T08:00:00+01:00"}, "ends_at"),
        ({**DAY, "timezone": "Nowhere/Land"}, "timezone"),
        ({**DAY, "organiser_id": 5}, "organiser_id"),
        ({k: v for k, v in DAY.items() if k != "title"}, "title"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(app, as_user, body, field) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().post("/api/v1/events", json=body, headers=as_user(app, 1, "organiser"))
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    with app.extensions["db"].unit_of_work() as session:
        assert session.scalars(select(InsightDayRow)).first() is None
    assert _outbox(app) == []


def test_non_json_body_is_400(app, as_user) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().post(
        "/api/v1/events",
        data="title=x",
        content_type="application/x-www-form-urlencoded",
        headers=as_user(app, 1, "organiser"),
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


def test_edit_that_breaks_the_schedule_is_refused(app, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    organiser = as_user(app, 1, "organiser")
    day_id = client.post("/api/v1/events", json=DAY, headers=organiser).json["id"]
    response = client.patch(f"/api/v1/events/{day_id}", json={"ends_at": "2026-11-30T10:00:00Z"}, headers=organiser)
    assert response.status_code == 400 and response.json["error"]["field"] == "ends_at"
    assert client.patch("/api/v1/events/999", json={"title": "Whatever"}, headers=organiser).status_code == 404
    assert len(_outbox(app)) == 1
