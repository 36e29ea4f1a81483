"""A day's set-up in the matching service: thesaurus (synonyms folded, revisions announced), slots and breakouts,
changes after publishing; every bad input is a 4xx that names the field and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.matching.adapters.orm import Outbox
from services.matching.setup import service as setup_service
from services.matching.setup.models import Breakout, DaySetup, Slot, ThesaurusTheme
from shared.events import Envelope, ThesaurusUpdated

pytestmark = pytest.mark.integration

DAY = {
    "title": "Health data insight day",
    "starts_at": "2026-12-01T09:00:00+00:00",
    "ends_at": "2026-12-01T17:00:00+00:00",
    "timezone": "Europe/London",
}
THEMES = [{"name": "Machine  learning", "synonyms": ["ML", "AI"]}, "data linkage", "  mental   health "]


@pytest.fixture
def app(make_app):  # type: ignore[no-untyped-def]
    return make_app("matching")


@pytest.fixture
def organiser(app, as_user):  # type: ignore[no-untyped-def]
    return as_user(app, 1, "organiser")


@pytest.fixture
def day(app, organiser) -> int:  # type: ignore[no-untyped-def]
    response = app.test_client().post("/api/v1/events", json=DAY, headers=organiser)
    assert response.status_code == 201
    return int(response.json["id"])


@pytest.fixture
def themed_day(app, organiser, day) -> int:  # type: ignore[no-untyped-def]
    assert (
        app.test_client().put(f"/api/v1/events/{day}/thesaurus", json={"themes": THEMES}, headers=organiser).status_code
        == 200
    )
    return day


def _slot(app, headers, day: int, start: str, end: str, kind: str = "breakout"):  # type: ignore[no-untyped-def]
    body = {"starts_at": f"2026-12-01T{start}:00Z", "ends_at": f"2026-12-01T{end}:00Z", "kind": kind}
    return app.test_client().post(f"/api/v1/events/{day}/slots", json=body, headers=headers)


def _count(app, model) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["db"].unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _thesaurus_events(app) -> list[ThesaurusUpdated]:  # type: ignore[no-untyped-def]
    with app.extensions["db"].unit_of_work() as session:
        rows = session.scalars(select(Outbox).where(Outbox.type == "ThesaurusUpdated").order_by(Outbox.id))
        return [Envelope.from_json(r.body).parse() for r in rows]  # type: ignore[misc]


def _error(response) -> tuple[int, str, str | None]:  # type: ignore[no-untyped-def]
    error = response.json["error"]
    return response.status_code, error["code"], error["field"]


# --- thesaurus -----------------------------------------------------------------------------------------------
def test_thesaurus_keeps_names_folds_synonyms_and_announces_each_change(app, organiser, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    put = client.put(f"/api/v1/events/{day}/thesaurus", json={"themes": THEMES}, headers=organiser)
    assert put.status_code == 200
    expected = [
        {"name": "Machine learning", "synonyms": ["ML", "AI"]},
        {"name": "data linkage", "synonyms": []},
        {"name": "mental health", "synonyms": []},
    ]
    assert put.json == {"event_id": day, "themes": expected, "revision": 1}
    got = client.get(f"/api/v1/events/{day}/thesaurus", headers=as_user(app, 7, "attendee"))
    assert got.status_code == 200 and got.json["themes"] == expected

    # The same thesaurus again (other spacing of the same names): no change, no event, no new revision.
    same = [{"name": "Machine learning", "synonyms": ["ML", "AI"]}, "data linkage", "mental health"]
    assert client.put(f"/api/v1/events/{day}/thesaurus", json={"themes": same}, headers=organiser).json["revision"] == 1
    second = client.put(
        f"/api/v1/events/{day}/thesaurus", json={"themes": [*THEMES, "privacy"]}, headers=organiser
    ).json
    assert second["revision"] == 2

    events = _thesaurus_events(app)
    assert [(e.event_id, e.revision) for e in events] == [(day, 1), (day, 2)]
    assert events[0].themes == ["Machine learning", "data linkage", "mental health"]
    assert events[1].themes[-1] == "privacy"


@pytest.mark.parametrize(
    ("themes", "field"),
    [
        (["data linkage", "Data  Linkage"], "themes.1"),
        ([{"name": "machine learning", "synonyms": ["ML"]}, {"name": "ml"}], "themes.1.name"),
        (["privacy", {"name": "machine learning", "synonyms": ["Privacy"]}], "themes.1.synonyms.0"),
        (["   "], "themes.0"),
        (["x" * 101], "themes.0"),
        (["linkage, privacy"], "themes.0"),
        ([{"name": "ok", "synonyms": "ML"}], "themes.0.synonyms"),
        ([{"name": "ok", "colour": "red"}], "themes.0.colour"),
        ([5], "themes.0"),
    ],
)
def test_bad_thesaurus_names_the_entry_and_changes_nothing(app, organiser, themed_day, themes, field) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().put(
        f"/api/v1/events/{themed_day}/thesaurus", json={"themes": themes}, headers=organiser
    )
    assert response.status_code == 400 and response.json["error"]["field"] == field, response.json
    assert _count(app, ThesaurusTheme) == 3 and len(_thesaurus_events(app)) == 1


def test_a_theme_in_use_cannot_vanish_but_can_become_a_synonym(app, organiser, themed_day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot_id = _slot(app, organiser, themed_day, "10:00", "11:00").json["id"]
    body = {"slot_id": slot_id, "title": "Linking GP records", "theme": "data linkage", "capacity": 12}
    breakout_id = client.post(f"/api/v1/events/{themed_day}/breakouts", json=body, headers=organiser).json["id"]

    removed = client.put(
        f"/api/v1/events/{themed_day}/thesaurus",
        json={"themes": ["Machine learning", "mental health"]},
        headers=organiser,
    )
    assert _error(removed) == (409, "theme_in_use", "themes")
    assert "Linking GP records" in removed.json["error"]["message"]

    merged = [{"name": "record linkage", "synonyms": ["data linkage"]}, "Machine learning", "mental health"]
    assert (
        client.put(f"/api/v1/events/{themed_day}/thesaurus", json={"themes": merged}, headers=organiser).status_code
        == 200
    )
    listed = client.get(f"/api/v1/events/{themed_day}/breakouts", headers=organiser).json["items"]
    assert [(b["id"], b["theme"]) for b in listed] == [(breakout_id, "record linkage")]
    assert [e.revision for e in _thesaurus_events(app)] == [1, 2]


def test_thesaurus_of_an_unknown_day_is_404(app, organiser) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().put("/api/v1/events/999/thesaurus", json={"themes": ["x"]}, headers=organiser)
    assert response.status_code == 404
    assert _count(app, DaySetup) == 0


# --- slots ---------------------------------------------------------------------------------------------------
def test_slots_are_created_listed_edited_and_deleted(app, organiser, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    created = _slot(app, organiser, day, "10:00", "11:00")
    assert created.status_code == 201 and created.json["id"]
    assert _slot(app, organiser, day, "11:00", "11:30", "coffee").status_code == 201  # touching is not overlapping
    assert _slot(app, organiser, day, "09:00", "10:00", "posters").status_code == 201
    listed = client.get(f"/api/v1/events/{day}/slots", headers=as_user(app, 5)).json["items"]
    assert [(s["starts_at"], s["kind"]) for s in listed] == [
        ("2026-12-01T09:00:00+00:00", "posters"),
        ("2026-12-01T10:00:00+00:00", "breakout"),
        ("2026-12-01T11:00:00+00:00", "coffee"),
    ]
    slot_id = created.json["id"]
    edited = client.patch(
        f"/api/v1/events/{day}/slots/{slot_id}", json={"ends_at": "2026-12-01T10:45:00+00:00"}, headers=organiser
    )
    assert edited.status_code == 200 and edited.json["ends_at"] == "2026-12-01T10:45:00+00:00"
    assert client.delete(f"/api/v1/events/{day}/slots/{slot_id}", headers=organiser).status_code == 204
    assert client.delete(f"/api/v1/events/{day}/slots/{slot_id}", headers=organiser).status_code == 404
    assert _count(app, Slot) == 2


@pytest.mark.parametrize(
    ("start", "end", "kind", "expected"),
    [
        ("10:30", "11:30", "breakout", (409, "slot_overlap", "starts_at")),  # overlaps 10:00-11:00
        ("09:30", "12:00", "coffee", (409, "slot_overlap", "starts_at")),  # contains it
        ("08:00", "09:30", "breakout", (400, "invalid", "starts_at")),  # starts before the day
        ("16:30", "17:30", "breakout", (400, "invalid", "ends_at")),  # ends after the day
        ("12:00", "11:00", "breakout", (400, "invalid", "ends_at")),
        ("12:00", "12:00", "breakout", (400, "invalid", "ends_at")),
        ("12:00", "13:00", "lunch", (400, "invalid", "kind")),
    ],
)
def test_bad_slots_are_refused_and_nothing_is_written(app, organiser, day, start, end, kind, expected) -> None:  # type: ignore[no-untyped-def]
    assert _slot(app, organiser, day, "10:00", "11:00").status_code == 201
    assert _error(_slot(app, organiser, day, start, end, kind)) == expected
    assert _count(app, Slot) == 1


def test_slot_times_need_an_offset_and_edits_cannot_create_an_overlap(app, organiser, day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    naive = {"starts_at": "2026-12-01T10:00:00", "ends_at": "2026-12-01T11:00:00Z", "kind": "breakout"}
    assert _error(client.post(f"/api/v1/events/{day}/slots", json=naive, headers=organiser))[2] == "starts_at"
    first = _slot(app, organiser, day, "10:00", "11:00").json["id"]
    second = _slot(app, organiser, day, "11:00", "12:00").json["id"]
    moved = client.patch(
        f"/api/v1/events/{day}/slots/{second}", json={"starts_at": "2026-12-01T10:59:00Z"}, headers=organiser
    )
    assert _error(moved) == (409, "slot_overlap", "starts_at")
    assert f"slot {first}" in moved.json["error"]["message"]
    assert (
        client.get(f"/api/v1/events/{day}/slots", headers=organiser)
        .json["items"][1]["starts_at"]
        .endswith("11:00:00+00:00")
    )


# --- breakouts -------------------------------------------------------------------------------------------------
def test_breakouts_take_a_theme_of_the_day_folded_from_synonyms(app, organiser, themed_day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot_id = _slot(app, organiser, themed_day, "10:00", "11:00").json["id"]
    body = {
        "slot_id": slot_id,
        "title": "Models  in the clinic",
        "theme": "ml",
        "capacity": 20,
        "meeting_url": "https://meet.example.org/ml",
    }
    created = client.post(f"/api/v1/events/{themed_day}/breakouts", json=body, headers=organiser)
    assert created.status_code == 201, created.json
    assert (created.json["theme"], created.json["title"]) == ("Machine learning", "Models in the clinic")
    breakout_id = created.json["id"]

    attendee_view = client.get(f"/api/v1/events/{themed_day}/breakouts", headers=as_user(app, 5)).json["items"]
    assert attendee_view[0]["title"] == "Models in the clinic" and "meeting_url" not in attendee_view[0]
    assert client.get(f"/api/v1/events/{themed_day}/breakouts", headers=organiser).json["items"][0]["meeting_url"]

    edited = client.patch(
        f"/api/v1/events/{themed_day}/breakouts/{breakout_id}",
        json={"capacity": 8, "meeting_url": None, "theme": "mental health"},
        headers=organiser,
    )
    assert edited.status_code == 200
    assert (edited.json["capacity"], edited.json["meeting_url"], edited.json["theme"]) == (8, None, "mental health")
    assert client.delete(f"/api/v1/events/{themed_day}/breakouts/{breakout_id}", headers=organiser).status_code == 204
    assert _count(app, Breakout) == 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"capacity": 0}, (400, "invalid", "capacity")),
        ({"capacity": -3}, (400, "invalid", "capacity")),
        ({"capacity": "ten"}, (400, "invalid", "capacity")),
        ({"theme": "astrology"}, (400, "invalid", "theme")),
        ({"theme": "privacy"}, (400, "invalid", "theme")),  # another day's theme
        ({"title": " "}, (400, "invalid", "title")),
        ({"meeting_url": "http://meet.example.org/x"}, (400, "invalid", "meeting_url")),
        ({"slot_id": "coffee"}, (400, "invalid", "slot_id")),  # a coffee slot: no breakouts there
        ({"slot_id": "other day"}, (400, "invalid", "slot_id")),
        ({"slot_id": 999}, (400, "invalid", "slot_id")),
        ({"room": "B12"}, (400, "invalid", "room")),
    ],
)
def test_bad_breakouts_are_refused_and_nothing_is_written(app, organiser, themed_day, changes, expected) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    other_day = client.post("/api/v1/events", json={**DAY, "title": "Another day"}, headers=organiser).json["id"]
    client.put(f"/api/v1/events/{other_day}/thesaurus", json={"themes": ["privacy"]}, headers=organiser)
    slots = {
        "breakout": _slot(app, organiser, themed_day, "10:00", "11:00").json["id"],
        "coffee": _slot(app, organiser, themed_day, "11:00", "11:30", "coffee").json["id"],
        "other day": _slot(app, organiser, other_day, "10:00", "11:00").json["id"],
    }
    body = {
        "slot_id": slots["breakout"],
        "title": "Linking records",
        "theme": "data linkage",
        "capacity": 10,
        **changes,
    }
    if isinstance(body["slot_id"], str) and body["slot_id"] in slots:
        body["slot_id"] = slots[body["slot_id"]]
    response = client.post(f"/api/v1/events/{themed_day}/breakouts", json=body, headers=organiser)
    assert _error(response) == expected, response.json
    assert _count(app, Breakout) == 0


def test_editing_a_breakout_checks_the_same_rules(app, organiser, themed_day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot_id = _slot(app, organiser, themed_day, "10:00", "11:00").json["id"]
    coffee = _slot(app, organiser, themed_day, "11:00", "11:30", "coffee").json["id"]
    body = {"slot_id": slot_id, "title": "Linking records", "theme": "data linkage", "capacity": 10}
    breakout = client.post(f"/api/v1/events/{themed_day}/breakouts", json=body, headers=organiser).json["id"]
    path = f"/api/v1/events/{themed_day}/breakouts/{breakout}"
    for changes, field in (
        ({"capacity": 0}, "capacity"),
        ({"theme": "nope"}, "theme"),
        ({"slot_id": coffee}, "slot_id"),
    ):
        assert _error(client.patch(path, json=changes, headers=organiser)) == (400, "invalid", field)
    stored = client.get(f"/api/v1/events/{themed_day}/breakouts", headers=organiser).json["items"][0]
    assert (stored["capacity"], stored["theme"], stored["slot_id"]) == (10, "data linkage", slot_id)


def test_a_slot_with_breakouts_keeps_its_kind_and_cannot_be_deleted(app, organiser, themed_day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot_id = _slot(app, organiser, themed_day, "10:00", "11:00").json["id"]
    body = {"slot_id": slot_id, "title": "Linking records", "theme": "data linkage", "capacity": 10}
    assert client.post(f"/api/v1/events/{themed_day}/breakouts", json=body, headers=organiser).status_code == 201
    path = f"/api/v1/events/{themed_day}/slots/{slot_id}"
    assert _error(client.patch(path, json={"kind": "coffee"}, headers=organiser)) == (409, "slot_has_breakouts", "kind")
    assert _error(client.delete(path, headers=organiser))[:2] == (409, "slot_has_breakouts")
    assert client.get(f"/api/v1/events/{themed_day}/slots", headers=organiser).json["items"][0]["breakout_count"] == 1


# --- after publishing -----------------------------------------------------------------------------------------
def test_changes_after_publishing_need_force_and_then_mark_a_rerun(app, organiser, themed_day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot_id = _slot(app, organiser, themed_day, "10:00", "11:00").json["id"]
    with app.extensions["db"].unit_of_work() as session:
        setup_service.mark_published(session, themed_day)  # what the assignment feature does when it publishes

    path = f"/api/v1/events/{themed_day}/slots/{slot_id}"
    refused = client.patch(path, json={"ends_at": "2026-12-01T10:30:00Z"}, headers=organiser)
    assert _error(refused) == (409, "published", None) and "force=1" in refused.json["error"]["message"]
    assert _error(_slot(app, organiser, themed_day, "12:00", "13:00"))[:2] == (409, "published")
    assert client.get(f"/api/v1/events/{themed_day}/setup", headers=organiser).json["needs_rerun"] is False

    forced = client.patch(path + "?force=1", json={"ends_at": "2026-12-01T10:30:00Z"}, headers=organiser)
    assert forced.status_code == 200 and forced.json["ends_at"] == "2026-12-01T10:30:00+00:00"
    state = client.get(f"/api/v1/events/{themed_day}/setup", headers=organiser).json
    assert state["needs_rerun"] is True and state["published_at"]

    # A refused forced change (bad input) does not mark anything either.
    with app.extensions["db"].unit_of_work() as session:
        setup_service.mark_published(session, themed_day)
    body = {"slot_id": slot_id, "title": "Linking", "theme": "data linkage", "capacity": 0}
    assert (
        _error(client.post(f"/api/v1/events/{themed_day}/breakouts?force=1", json=body, headers=organiser))[2]
        == "capacity"
    )
    assert client.get(f"/api/v1/events/{themed_day}/setup", headers=organiser).json["needs_rerun"] is False


def test_registration_deadline_lies_before_the_day_ends(app, organiser, day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    path = f"/api/v1/events/{day}/setup"
    late = client.patch(path, json={"registration_deadline": "2026-12-02T09:00:00Z"}, headers=organiser)
    assert _error(late) == (400, "invalid", "registration_deadline")
    ok = client.patch(path, json={"registration_deadline": "2026-11-30T18:00:00+01:00"}, headers=organiser)
    assert ok.status_code == 200 and ok.json["registration_deadline"] == "2026-11-30T17:00:00+00:00"
    cleared = client.patch(path, json={"registration_deadline": None}, headers=organiser)
    assert cleared.json["registration_deadline"] is None and cleared.json["registration_open"] is True


# --- who may -----------------------------------------------------------------------------------------------------
def test_only_organisers_change_the_set_up(app, organiser, themed_day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot_id = _slot(app, organiser, themed_day, "10:00", "11:00").json["id"]
    body = {"slot_id": slot_id, "title": "Linking records", "theme": "data linkage", "capacity": 10}
    breakout_id = client.post(f"/api/v1/events/{themed_day}/breakouts", json=body, headers=organiser).json["id"]
    someone = as_user(app, 9, "attendee", "author")
    base = f"/api/v1/events/{themed_day}"
    calls = [
        ("put", f"{base}/thesaurus", {"themes": ["x"]}),
        ("patch", f"{base}/setup", {"registration_deadline": None}),
        (
            "post",
            f"{base}/slots",
            {"starts_at": "2026-12-01T12:00:00Z", "ends_at": "2026-12-01T13:00:00Z", "kind": "chat"},
        ),
        ("patch", f"{base}/slots/{slot_id}", {"kind": "chat"}),
        ("delete", f"{base}/slots/{slot_id}", None),
        ("post", f"{base}/breakouts", body),
        ("patch", f"{base}/breakouts/{breakout_id}", {"capacity": 1}),
        ("delete", f"{base}/breakouts/{breakout_id}", None),
    ]
    for method, path, json in calls:
        response = getattr(client, method)(path, json=json, headers=someone)
        assert _error(response)[:2] == (403, "forbidden"), (method, path)
        assert getattr(client, method)(path, json=json).status_code == 401
    for path in ("thesaurus", "slots", "breakouts", "setup"):
        assert client.get(f"{base}/{path}", headers=someone).status_code == 200
    assert (_count(app, Slot), _count(app, Breakout), len(_thesaurus_events(app))) == (1, 1, 1)
