"""Suggested spin-off workshops in the matching service, fed by posters' project events through the real stream
and consumers: similar projects are suggested together; one call turns a suggestion into a breakout and, when its
theme is new, adds the theme to the thesaurus (ThesaurusUpdated in the outbox) in the same transaction; organisers
only; a suggestion that no longer matches the projects is refused; hidden and deleted projects are left out."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from services.matching.adapters.orm import Outbox, ProjectCopy
from services.matching.consumers import handlers
from services.matching.setup import service as setup_service
from services.matching.setup.models import Breakout, ThesaurusTheme
from services.posters.adapters.orm import Outbox as PostersOutbox
from shared.bus import Consumer, Publisher
from shared.events import Envelope, ProjectDeleted, ProjectPublished, ProjectUpdated, ThesaurusUpdated
from tests.fixtures.posters.helpers import announce_event, author, create_project

pytestmark = pytest.mark.integration

DAY = {
    "title": "Spin-off day",
    "starts_at": "2026-12-01T09:00:00+00:00",
    "ends_at": "2026-12-01T17:00:00+00:00",
    "timezone": "Europe/London",
}
# (title, summary, learnings, themes): three sepsis projects, two unrelated ones.
TEXTS: dict[int, tuple[str, str, list[str], list[str]]] = {
    101: (
        "Early warning scores for sepsis in emergency departments",
        "We built an early warning score that flags sepsis risk from vital signs recorded at triage in three "
        "emergency departments.",
        ["Vital signs at triage are noisy", "Clinicians trust simple scores", "Validate on each site"],
        ["sepsis"],
    ),
    102: (
        "Predicting sepsis deterioration on hospital wards",
        "A model using routine vital signs and lab results to predict sepsis deterioration hours before clinical "
        "recognition.",
        ["Lab results arrive late", "Alert fatigue is real", "Nurses must own the alert"],
        ["sepsis", "machine learning"],
    ),
    103: (
        "Sepsis alerts in paediatric emergency care",
        "Adapting an early warning score for sepsis in children attending emergency departments, using vital signs.",
        ["Children's vital signs differ", "Parents notice first", "Small numbers need pooling"],
        ["sepsis"],
    ),
    104: (
        "Mental health app engagement among teenagers",
        "A study of how teenagers use a mental health app and what keeps them engaged.",
        ["Co-design with young people", "Notifications backfire", "Schools are key partners"],
        ["mental health"],
    ),
    105: (
        "Waiting lists dashboard for elective surgery",
        "A dashboard that shows waiting lists for elective surgery by specialty and region.",
        ["Definitions differ by trust", "Users want exports", "Update weekly"],
        ["operations"],
    ),
}
SEPSIS = [101, 102, 103]


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("matching")


@pytest.fixture
def organiser(app, as_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return as_user(app, 1, "organiser")


@pytest.fixture
def day(app, organiser) -> int:  # type: ignore[no-untyped-def]
    response = app.test_client().post("/api/v1/events", json=DAY, headers=organiser)
    assert response.status_code == 201
    return int(response.json["id"])


@pytest.fixture
def breakout_slot(app, organiser, day) -> int:  # type: ignore[no-untyped-def]
    body = {"starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T11:00:00Z", "kind": "breakout"}
    response = app.test_client().post(f"/api/v1/events/{day}/slots", json=body, headers=organiser)
    assert response.status_code == 201
    return int(response.json["id"])


def _consume(app: Flask, *events: Any) -> None:
    """Through the stream and matching's real consumer group, as the bus process would."""
    consumer = Consumer(app.extensions["redis"], "matching", handlers(app))
    consumer.ensure_group()
    for event in events:
        Publisher(app.extensions["redis"]).publish_raw(event if isinstance(event, Envelope) else event.envelope())
    while consumer.run_once(block_ms=50):
        pass
    assert consumer.stats.failed == 0


def _published(day: int, pid: int, **changes: Any) -> ProjectPublished:
    title, summary, learnings, themes = TEXTS[pid]
    values = {"title": title, "summary": summary, "learnings": learnings, "themes": themes, **changes}
    return ProjectPublished(project_id=pid, event_id=day, owner_id=pid, revision=1, **values)


def _updated(day: int, pid: int, revision: int, **changes: Any) -> ProjectUpdated:
    title, summary, learnings, themes = TEXTS[pid]
    values = {"title": title, "summary": summary, "learnings": learnings, "themes": themes, **changes}
    return ProjectUpdated(project_id=pid, event_id=day, owner_id=pid, revision=revision, **values)


def _publish_all(app: Flask, day: int) -> None:
    _consume(app, *(_published(day, pid) for pid in TEXTS))


def _suggestions(app: Flask, day: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = app.test_client().get(f"/api/v1/events/{day}/spinoff-suggestions", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["items"]


def _sepsis(items: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [s for s in items if [p["id"] for p in s["projects"]] == SEPSIS]
    return found


def _thesaurus_events(app: Flask) -> list[ThesaurusUpdated]:
    with app.extensions["db"].unit_of_work() as session:
        rows = session.scalars(select(Outbox).where(Outbox.type == "ThesaurusUpdated").order_by(Outbox.id))
        return [Envelope.from_json(r.body).parse() for r in rows]  # type: ignore[misc]


def _count(app: Flask, model: type) -> int:
    with app.extensions["db"].unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _create(app: Flask, day: int, key: str, headers: dict[str, str], query: str = "", **body: Any):  # type: ignore[no-untyped-def]
    return app.test_client().post(
        f"/api/v1/events/{day}/spinoff-suggestions/{key}/breakout{query}", json=body, headers=headers
    )


# --- suggestions -------------------------------------------------------------------------------------------------
def test_similar_published_projects_are_suggested_together(app, organiser, day) -> None:  # type: ignore[no-untyped-def]
    _publish_all(app, day)
    with app.extensions["db"].unit_of_work() as session:
        copy = session.get(ProjectCopy, 101)
        assert copy is not None and copy.summary.startswith("We built an early warning score")
        assert copy.learnings == TEXTS[101][2]

    response = app.test_client().get(f"/api/v1/events/{day}/spinoff-suggestions", headers=organiser)
    assert response.status_code == 200
    assert response.json["projects_considered"] == 5
    (suggestion,) = response.json["items"]
    assert [p["id"] for p in suggestion["projects"]] == SEPSIS
    assert suggestion["projects"][0]["title"] == TEXTS[101][0]
    assert (suggestion["theme"], suggestion["theme_source"]) == ("sepsis", "shared_theme")
    assert suggestion["theme_in_thesaurus"] is False and suggestion["breakout_exists"] is False
    assert suggestion["title"] == "Spin-off workshop: sepsis"
    assert 0 < suggestion["similarity"] <= 1 and "vital signs" in suggestion["terms"]
    assert len(suggestion["key"]) == 16
    assert _suggestions(app, day, organiser) == response.json["items"]  # same projects, same answer

    other_day = app.test_client().post("/api/v1/events", json=DAY, headers=organiser).json["id"]
    assert _suggestions(app, other_day, organiser) == []  # only that day's projects


def test_organisers_only_and_unknown_days(app, organiser, as_user, day) -> None:  # type: ignore[no-untyped-def]
    _publish_all(app, day)
    key = _sepsis(_suggestions(app, day, organiser))["key"]
    client = app.test_client()
    for headers in (as_user(app, 2, "attendee"), as_user(app, 3, "author")):
        assert client.get(f"/api/v1/events/{day}/spinoff-suggestions", headers=headers).status_code == 403
        refused = _create(app, day, key, headers, slot_id=1, capacity=10)
        assert refused.status_code == 403
    assert client.get(f"/api/v1/events/{day}/spinoff-suggestions").status_code == 401
    assert client.get("/api/v1/events/999/spinoff-suggestions", headers=organiser).status_code == 404
    assert _count(app, Breakout) == 0


def test_hidden_and_deleted_projects_are_left_out(app, organiser, day) -> None:  # type: ignore[no-untyped-def]
    _publish_all(app, day)
    _consume(app, _updated(day, 102, 2, hidden=True))
    assert [p["id"] for p in _sepsis_like(app, day, organiser)] == [101, 103]
    _consume(app, ProjectDeleted(project_id=103, event_id=day, owner_id=103, revision=2))
    assert _suggestions(app, day, organiser) == []  # 101 alone is no workshop
    _consume(app, _updated(day, 102, 3, hidden=False))
    assert [[p["id"] for p in s["projects"]] for s in _suggestions(app, day, organiser)] == [[101, 102]]
    _consume(app, _published(day, 103))  # a late retry of the deleted one's creation: still gone
    assert [[p["id"] for p in s["projects"]] for s in _suggestions(app, day, organiser)] == [[101, 102]]


def _sepsis_like(app: Flask, day: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    (suggestion,) = _suggestions(app, day, headers)
    return suggestion["projects"]


def test_older_snapshots_do_not_overwrite_newer_text(app, organiser, day) -> None:  # type: ignore[no-untyped-def]
    _consume(
        app,
        _published(day, 101),
        _updated(day, 101, 3, summary="Third summary"),
        _updated(day, 101, 2, summary="Second summary, retried late"),
    )
    with app.extensions["db"].unit_of_work() as session:
        copy = session.get(ProjectCopy, 101)
        assert copy is not None and (copy.summary, copy.revision) == ("Third summary", 3)
    legacy = _published(day, 104).envelope()
    wire = Envelope(
        type=legacy.type,
        payload={k: v for k, v in legacy.payload.items() if k not in ("summary", "learnings", "revision")},
    )
    _consume(app, wire)  # an event from before project text travelled: kept with empty text
    with app.extensions["db"].unit_of_work() as session:
        copy = session.get(ProjectCopy, 104)
        assert copy is not None and (copy.summary, copy.learnings, copy.title) == ("", [], TEXTS[104][0])


# --- one click -------------------------------------------------------------------------------------------------
def test_one_call_adds_the_theme_and_creates_the_breakout(app, organiser, day, breakout_slot) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert (
        client.put(f"/api/v1/events/{day}/thesaurus", json={"themes": ["mental health"]}, headers=organiser).status_code
        == 200
    )
    _publish_all(app, day)
    suggestion = _sepsis(_suggestions(app, day, organiser))
    assert suggestion["theme_in_thesaurus"] is False

    created = _create(app, day, suggestion["key"], organiser, slot_id=breakout_slot, capacity=20)
    assert created.status_code == 201, created.json
    assert created.json["theme_added"] is True and created.json["thesaurus_revision"] == 2
    assert (created.json["title"], created.json["theme"], created.json["capacity"]) == (
        "Spin-off workshop: sepsis",
        "sepsis",
        20,
    )
    breakouts = client.get(f"/api/v1/events/{day}/breakouts", headers=organiser).json["items"]
    assert [(b["id"], b["slot_id"], b["theme"]) for b in breakouts] == [
        (created.json["breakout_id"], breakout_slot, "sepsis")
    ]
    themes = client.get(f"/api/v1/events/{day}/thesaurus", headers=organiser).json
    assert [t["name"] for t in themes["themes"]] == ["mental health", "sepsis"] and themes["revision"] == 2
    assert [(e.themes, e.revision) for e in _thesaurus_events(app)] == [
        (["mental health"], 1),
        (["mental health", "sepsis"], 2),
    ]

    # The suggestion stays (same projects), now with its theme and breakout; a second one adds no theme again.
    again = _sepsis(_suggestions(app, day, organiser))
    assert again["key"] == suggestion["key"]
    assert again["theme_in_thesaurus"] is True and again["breakout_exists"] is True
    assert [b["id"] for b in again["breakouts"]] == [created.json["breakout_id"]]
    second = _create(app, day, again["key"], organiser, slot_id=breakout_slot, capacity=8, title="Sepsis, round two")
    assert second.status_code == 201 and second.json["theme_added"] is False
    assert second.json["title"] == "Sepsis, round two" and second.json["thesaurus_revision"] == 2
    assert len(_thesaurus_events(app)) == 2 and _count(app, Breakout) == 2


def test_a_refused_breakout_adds_no_theme(app, organiser, day, breakout_slot) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    poster_slot = client.post(
        f"/api/v1/events/{day}/slots",
        json={"starts_at": "2026-12-01T12:00:00Z", "ends_at": "2026-12-01T13:00:00Z", "kind": "posters"},
        headers=organiser,
    ).json["id"]
    _publish_all(app, day)
    key = _sepsis(_suggestions(app, day, organiser))["key"]

    for body, field in (
        ({"slot_id": breakout_slot, "capacity": 0}, "capacity"),
        ({"slot_id": poster_slot, "capacity": 10}, "slot_id"),
        ({"slot_id": 9999, "capacity": 10}, "slot_id"),
        ({"slot_id": breakout_slot, "capacity": 10, "title": "x"}, "title"),
        ({"slot_id": breakout_slot, "capacity": "10"}, "capacity"),
        ({"capacity": 10}, "slot_id"),
    ):
        refused = _create(app, day, key, organiser, **body)
        assert (refused.status_code, refused.json["error"]["field"]) == (400, field), (body, refused.json)
    assert _count(app, Breakout) == 0 and _count(app, ThesaurusTheme) == 0 and _thesaurus_events(app) == []

    # After publishing, as on the set-up page: 409 unless ?force=1, which marks the day for a re-run.
    with app.extensions["db"].unit_of_work() as session:
        setup_service.mark_published(session, day)
    refused = _create(app, day, key, organiser, slot_id=breakout_slot, capacity=10)
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "published")
    assert _count(app, ThesaurusTheme) == 0 and _thesaurus_events(app) == []
    forced = _create(app, day, key, organiser, "?force=1", slot_id=breakout_slot, capacity=10)
    assert forced.status_code == 201 and forced.json["theme_added"] is True
    setup = client.get(f"/api/v1/events/{day}/setup", headers=organiser).json
    assert setup["needs_rerun"] is True


def test_a_stale_suggestion_is_refused(app, organiser, day, breakout_slot) -> None:  # type: ignore[no-untyped-def]
    _publish_all(app, day)
    key = _sepsis(_suggestions(app, day, organiser))["key"]
    # 103 is rewritten about something else: the group is now 101 + 102, under another key.
    _consume(
        app,
        _updated(
            day,
            103,
            2,
            title="Rota planning for theatre staff",
            summary="Planning rotas for operating theatre staff with a spreadsheet tool.",
            learnings=["Start small"],
            themes=["operations"],
        ),
    )
    stale = _create(app, day, key, organiser, slot_id=breakout_slot, capacity=10)
    assert (stale.status_code, stale.json["error"]["code"]) == (409, "stale_suggestion")
    assert "load the suggestions again" in stale.json["error"]["message"]
    assert _create(app, day, "not-a-key", organiser, slot_id=breakout_slot, capacity=10).status_code == 404
    assert _count(app, Breakout) == 0 and _thesaurus_events(app) == []
    current = [s["key"] for s in _suggestions(app, day, organiser)]
    assert key not in current


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_clicks_at_once_add_the_theme_once(  # type: ignore[no-untyped-def]
    make_app, as_user, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    """Each click takes the day's set-up lock before reading the suggestion: the second sees the theme added."""
    if database == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database(f"matching_{uuid.uuid4().hex[:8]}")
        monkeypatch.setenv("MATCHING_DATABASE_URL", url)
    app = make_app("matching")
    assert app.extensions["db"].engine.dialect.name == database
    organiser = as_user(app, 1, "organiser")
    client = app.test_client()
    day = client.post("/api/v1/events", json=DAY, headers=organiser).json["id"]
    slot = {"starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T11:00:00Z", "kind": "breakout"}
    breakout_slot = client.post(f"/api/v1/events/{day}/slots", json=slot, headers=organiser).json["id"]
    _publish_all(app, day)
    key = _sepsis(_suggestions(app, day, organiser))["key"]
    statuses: list[int] = []

    def click() -> None:
        statuses.append(_create(app, day, key, organiser, slot_id=breakout_slot, capacity=10).status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [201, 201]
    assert [e.revision for e in _thesaurus_events(app)] == [1]
    assert _count(app, ThesaurusTheme) == 1 and _count(app, Breakout) == 2


# --- the producer --------------------------------------------------------------------------------------------
def test_posters_puts_the_projects_text_in_its_events(make_app) -> None:  # type: ignore[no-untyped-def]
    posters = make_app("posters", RATE_LIMITS=False)
    announce_event(posters, 1)
    client = posters.test_client()
    project_id = create_project(
        client,
        posters,
        summary="Sepsis alerts from vital signs.",
        learnings=["Alerts need owners", "Triage data is noisy", "Validate per site"],
    )
    edited = client.patch(
        f"/api/v1/projects/{project_id}", json={"summary": "Sepsis alerts, now on wards too."}, headers=author(posters)
    )
    assert edited.status_code == 200
    with posters.extensions["db"].unit_of_work() as session:
        envelopes = [
            Envelope.from_json(r.body) for r in session.scalars(select(PostersOutbox).order_by(PostersOutbox.id))
        ]
    published, updated = (e.parse() for e in envelopes)
    assert isinstance(published, ProjectPublished) and isinstance(updated, ProjectUpdated)
    assert published.summary == "Sepsis alerts from vital signs."
    assert published.learnings == ["Alerts need owners", "Triage data is noisy", "Validate per site"]
    assert (updated.summary, updated.learnings, updated.revision) == (
        "Sepsis alerts, now on wards too.",
        published.learnings,
        2,
    )

    matching = make_app("matching")
    _consume(matching, *envelopes)
    with matching.extensions["db"].unit_of_work() as session:
        copy = session.get(ProjectCopy, project_id)
        assert copy is not None and copy.summary == "Sepsis alerts, now on wards too."
        assert copy.learnings == published.learnings
