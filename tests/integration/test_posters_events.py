"""Posters announces every change other services keep a copy of, in the same transaction as the change."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from services.posters.adapters.orm import Outbox
from shared.events import Envelope, ProjectDeleted, ProjectPublished, ProjectUpdated
from tests.fixtures.posters.helpers import announce_event, author, create_project, organiser

pytestmark = pytest.mark.integration


def _events(app: Flask) -> list[object]:
    with app.extensions["db"].unit_of_work() as session:
        return [Envelope.from_json(r.body).parse() for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def test_create_edit_hide_delete_are_announced(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False)
    announce_event(app, 1)
    client = app.test_client()
    project_id = create_project(client, app)
    assert (
        client.patch(
            f"/api/v1/projects/{project_id}", json={"title": "A better title"}, headers=author(app)
        ).status_code
        == 200
    )
    assert client.post(f"/api/v1/projects/{project_id}/hide", json={}, headers=organiser(app)).status_code == 200
    assert client.patch(f"/api/v1/projects/{project_id}", json={"title": "x"}, headers=author(app)).status_code == 400
    assert client.delete(f"/api/v1/projects/{project_id}", headers=author(app)).status_code in (200, 204)

    events = _events(app)
    assert [type(e) for e in events] == [ProjectPublished, ProjectUpdated, ProjectUpdated, ProjectDeleted]
    edited, hidden = events[1], events[2]
    assert isinstance(edited, ProjectUpdated) and edited.title == "A better title" and edited.hidden is False
    assert isinstance(hidden, ProjectUpdated) and hidden.hidden is True
    assert events[3] == ProjectDeleted(project_id=project_id, event_id=1, owner_id=edited.owner_id)
