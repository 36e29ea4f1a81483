"""Project Q&A and first project views through the posters API (real SQLite, real Redis for the app)."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import select

from services.posters.adapters.orm import Outbox
from tests.fixtures.posters.helpers import (
    ATTENDEE,
    OTHER_AUTHOR,
    announce_event,
    attendee,
    author,
    create_project,
    organiser,
    outbox_types,
)

pytestmark = pytest.mark.integration

OTHER_ATTENDEE = 21


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False)
    announce_event(app, 1)
    return app


def _events(app: Flask, kind: str) -> list[dict]:  # type: ignore[type-arg]
    with app.extensions["db"].unit_of_work() as session:
        bodies = session.scalars(select(Outbox.body).where(Outbox.type == kind).order_by(Outbox.id)).all()
    return [json.loads(b)["payload"] for b in bodies]


def _ask(app: Flask, project: int, text: str, headers: dict[str, str], anonymous: bool = False):  # type: ignore[no-untyped-def]
    return app.test_client().post(
        f"/api/v1/projects/{project}/questions", json={"text": text, "anonymous": anonymous}, headers=headers
    )


def test_ask_list_upvote_answer(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    asked = _ask(app, project, "How did you get consent?", attendee(app))
    assert asked.status_code == 201, asked.get_json()
    question = asked.get_json()
    assert question["asker"] == {"id": ATTENDEE, "name": f"User {ATTENDEE}"} and question["mine"] is True
    [event] = _events(app, "QuestionAsked")
    assert event["question_id"] == question["id"] and event["owner_id"] == 10 and event["asker_id"] == ATTENDEE
    assert event["text"] == "How did you get consent?" and event["anonymous"] is False

    # Upvoting twice counts once; the question with more votes comes first.
    second = _ask(app, project, "Which tools?", attendee(app, OTHER_ATTENDEE)).get_json()
    for _ in range(2):
        voted = client.post(f"/api/v1/questions/{second['id']}/upvote", headers=attendee(app))
        assert voted.status_code == 200 and voted.get_json() == {
            "question_id": second["id"], "upvotes": 1, "upvoted": True
        }
    listing = client.get(f"/api/v1/projects/{project}/questions", headers=attendee(app)).get_json()
    assert [q["id"] for q in listing["items"]] == [second["id"], question["id"]]
    assert listing["items"][0]["upvoted"] is True and listing["items"][1]["upvoted"] is False
    assert listing["can_ask"] is True and listing["can_answer"] is False
    removed = client.delete(f"/api/v1/questions/{second['id']}/upvote", headers=attendee(app)).get_json()
    assert removed["upvotes"] == 0
    assert client.delete(f"/api/v1/questions/{second['id']}/upvote", headers=attendee(app)).get_json()["upvotes"] == 0

    # Only the project's author answers; the asker is told the first time only.
    answer_url = f"/api/v1/questions/{question['id']}/answer"
    denied = client.put(answer_url, json={"text": "Not mine"}, headers=author(app, OTHER_AUTHOR))
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "forbidden"
    assert client.put(answer_url, json={"text": "Organiser"}, headers=organiser(app)).status_code == 403
    assert client.put(answer_url, json={"text": "x"}, headers=attendee(app)).status_code == 403
    for text in ("Through the ethics board.", "Through the ethics board (2024)."):
        answered = client.put(answer_url, json={"text": text}, headers=author(app))
        assert answered.status_code == 200 and answered.get_json()["answer"] == text
    assert len(_events(app, "QuestionAnswered")) == 1
    assert _events(app, "QuestionAnswered")[0]["asker_id"] == ATTENDEE
    mine = client.get(f"/api/v1/projects/{project}/questions", headers=author(app)).get_json()
    assert mine["can_answer"] is True and mine["can_ask"] is False
    assert [q["answer"] for q in mine["items"] if q["id"] == question["id"]] == ["Through the ethics board (2024)."]


def test_anonymous_hides_the_asker_from_attendees_and_the_author_not_organisers(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    asked = _ask(app, project, "Is the data shared?", attendee(app), anonymous=True).get_json()
    assert asked["asker"]["id"] == ATTENDEE  # the asker sees their own name

    def asker_seen_by(headers: dict[str, str]) -> object:
        items = client.get(f"/api/v1/projects/{project}/questions", headers=headers).get_json()["items"]
        return items[0]["asker"]

    assert asker_seen_by(attendee(app, OTHER_ATTENDEE)) is None
    assert asker_seen_by(author(app)) is None
    assert asker_seen_by(organiser(app)) == {"id": ATTENDEE, "name": f"User {ATTENDEE}"}
    # The author's notification event says who asked (notify decides what to show), and that it was anonymous.
    assert _events(app, "QuestionAsked")[0]["anonymous"] is True


def test_bad_input_changes_nothing(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    for body, field in [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"text": "ok", "anonymous": "perhaps"}, "anonymous"),
        ({"text": "ok", "asker_id": 3}, "asker_id"),
        ({}, "text"),
    ]:
        response = client.post(f"/api/v1/projects/{project}/questions", json=body, headers=attendee(app))
        assert response.status_code == 400, (body, response.get_json())
        assert response.get_json()["error"]["field"] == field
    assert client.post(f"/api/v1/projects/{project}/questions", data="x", headers=attendee(app)).status_code == 400
    assert _ask(app, project, "No sign-in", {}).status_code == 401
    assert _ask(app, project, "Asking myself", author(app)).status_code == 403
    assert _ask(app, 9999, "Nobody home", attendee(app)).status_code == 404
    assert client.post("/api/v1/questions/9999/upvote", headers=attendee(app)).status_code == 404
    assert client.put("/api/v1/questions/9999/answer", json={"text": "x"}, headers=author(app)).status_code == 404
    assert client.get(f"/api/v1/projects/{project}/questions").status_code == 401
    assert "QuestionAsked" not in outbox_types(app)

    # Markup is stored and returned as the text it is (pages render it with textContent).
    script = "<script>alert(1)</script>"
    created = _ask(app, project, script, attendee(app)).get_json()
    assert created["text"] == script
    question_id = created["id"]
    answer = client.put(f"/api/v1/questions/{question_id}/answer", json={"text": ""}, headers=author(app))
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "text"
    too_long = client.put(f"/api/v1/questions/{question_id}/answer", json={"text": "y" * 4001}, headers=author(app))
    assert too_long.status_code == 400


def test_hidden_project_questions_are_not_found_to_attendees(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    question = _ask(app, project, "Before hiding", attendee(app)).get_json()
    assert client.post(f"/api/v1/projects/{project}/hide", json={}, headers=organiser(app)).status_code == 200
    assert client.get(f"/api/v1/projects/{project}/questions", headers=attendee(app)).status_code == 404
    assert client.post(f"/api/v1/questions/{question['id']}/upvote", headers=attendee(app)).status_code == 404
    assert client.get(f"/api/v1/projects/{project}/questions", headers=organiser(app)).status_code == 200


def test_project_viewed_once_per_person_and_not_for_the_author(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    for _ in range(3):
        assert client.get(f"/api/v1/projects/{project}", headers=attendee(app)).status_code == 200
    client.get(f"/api/v1/projects/{project}", headers=author(app))
    client.get(f"/api/v1/projects/{project}", headers=attendee(app, OTHER_ATTENDEE))
    views = _events(app, "ProjectViewed")
    assert sorted(v["user_id"] for v in views) == [ATTENDEE, OTHER_ATTENDEE]
    assert all(v["project_id"] == project and v["event_id"] == 1 for v in views)


def test_the_asker_or_an_organiser_deletes_a_question(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    first = _ask(app, project, "Taken back later", attendee(app)).get_json()
    second = _ask(app, project, "Off topic", attendee(app)).get_json()
    assert first["can_delete"] is True
    client.post(f"/api/v1/questions/{first['id']}/upvote", headers=attendee(app, OTHER_ATTENDEE))
    seen_by_other = client.get(f"/api/v1/projects/{project}/questions", headers=attendee(app, OTHER_ATTENDEE))
    assert [q["can_delete"] for q in seen_by_other.get_json()["items"]] == [False, False]
    for headers in (attendee(app, OTHER_ATTENDEE), author(app)):  # not even the project's author
        denied = client.delete(f"/api/v1/questions/{first['id']}", headers=headers)
        assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "forbidden"
    assert client.delete(f"/api/v1/questions/{first['id']}", headers=attendee(app)).status_code == 204
    assert client.delete(f"/api/v1/questions/{second['id']}", headers=organiser(app)).status_code == 204
    assert client.get(f"/api/v1/projects/{project}/questions", headers=attendee(app)).get_json()["items"] == []
    assert client.delete(f"/api/v1/questions/{first['id']}", headers=attendee(app)).status_code == 404
    with app.extensions["db"].unit_of_work() as session:  # the upvote went with its question
        from services.posters.qa.models import QuestionVote

        assert session.scalars(select(QuestionVote)).all() == []
