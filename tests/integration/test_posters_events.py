"""Posters announces every change other services keep a copy of, in the same transaction as the change."""

from __future__ import annotations

import threading
import uuid

import pytest
from flask import Flask
from sqlalchemy import select

from services.matching import service as matching
from services.matching.consumers import handlers as matching_handlers
from services.posters import service
from services.posters.adapters.orm import Outbox, ProjectRow
from services.posters.domain.viewer import Viewer
from shared import outbox
from shared.events import Envelope, ProjectDeleted, ProjectPublished, ProjectUpdated
from tests.fixtures.posters.helpers import ORGANISER, announce_event, author, create_project, organiser
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration


def _envelopes(app: Flask) -> list[Envelope]:
    with app.extensions["db"].unit_of_work() as session:
        return [Envelope.from_json(r.body) for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def _events(app: Flask) -> list[object]:
    return [e.parse() for e in _envelopes(app)]


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
    assert events[3] == ProjectDeleted(project_id=project_id, event_id=1, owner_id=edited.owner_id, revision=4)
    # create -> 1, each announced change +1 (the refused edit counts nothing), the delete carries the next one
    assert [e.revision for e in events] == [1, 2, 3, 4]  # type: ignore[attr-defined]


def test_revisions_follow_the_row_and_reach_matching_in_any_order(make_app) -> None:  # type: ignore[no-untyped-def]
    """Posters' real events, fed to matching's real consumer with the update retried after the delete."""
    app = make_app("posters", RATE_LIMITS=False)
    announce_event(app, 1)
    client = app.test_client()
    project_id = create_project(client, app)
    for title in ("Second title", "Third title"):
        assert (
            client.patch(f"/api/v1/projects/{project_id}", json={"title": title}, headers=author(app)).status_code
            == 200
        )
    with app.extensions["db"].unit_of_work() as session:
        assert session.get(ProjectRow, project_id).revision == 3
    assert client.delete(f"/api/v1/projects/{project_id}", headers=author(app)).status_code in (200, 204)
    published, second, third, deleted = _envelopes(app)
    assert [e.parse().revision for e in (published, second, third, deleted)] == [1, 2, 3, 4]  # type: ignore[attr-defined]

    other = make_app("matching")
    apply = matching_handlers(other)
    for envelope in (published, third, deleted, second):  # `second` failed at first and is retried last
        apply[envelope.type](envelope)
    with other.extensions["db"].unit_of_work() as session:
        assert matching.project_copy(session, project_id) is None
        assert matching.project_copies(session, 1) == []


def test_a_change_locks_the_project_row_on_postgres(  # type: ignore[no-untyped-def]
    make_app, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two changes of one project at once: the second waits for the first's commit and takes the next revision,
    so no two events share a revision and the newest revision is the newest state."""
    monkeypatch.setenv("POSTERS_DATABASE_URL", postgres_server.create_database(f"posters_{uuid.uuid4().hex[:8]}"))
    app = make_app("posters", RATE_LIMITS=False)
    db = app.extensions["db"]
    announce_event(app, 1)
    project_id = create_project(app.test_client(), app)
    done = threading.Event()
    hidden: list[ProjectRow] = []

    def hide() -> None:
        hidden.append(service.set_hidden(db, Viewer(user_id=ORGANISER, is_organiser=True), project_id, True, "spam"))
        done.set()

    with db.unit_of_work() as session:
        row = service.get_project(session, project_id, for_update=True)
        worker = threading.Thread(target=hide)
        worker.start()
        assert not done.wait(0.5), "the hide did not wait for the row lock"
        row.title = "Renamed while locked"
        service.next_revision(row)
        outbox.record(session, Outbox, service.project_updated(row))
    worker.join(10)
    assert done.is_set() and hidden[0].revision == 3
    updates = [e.parse() for e in _envelopes(app)][1:]
    assert [(e.title, e.hidden, e.revision) for e in updates] == [  # type: ignore[attr-defined]
        ("Renamed while locked", False, 2),
        ("Renamed while locked", True, 3),
    ]


def test_a_deleted_projects_id_is_never_given_again(make_app) -> None:  # type: ignore[no-untyped-def]
    """SQLite would hand the newest project's id to the next one after its delete; matching keeps a tombstone of
    that id at its last revision and would ignore the newcomer's ProjectPublished (revision 1)."""
    app = make_app("posters", RATE_LIMITS=False)
    assert app.extensions["db"].engine.dialect.name == "sqlite"
    announce_event(app, 1)
    client = app.test_client()
    first = create_project(client, app)
    assert client.delete(f"/api/v1/projects/{first}", headers=author(app)).status_code in (200, 204)
    second = create_project(client, app)
    assert second > first

    other = make_app("matching")
    apply = matching_handlers(other)
    for envelope in _envelopes(app):
        apply[envelope.type](envelope)
    with other.extensions["db"].unit_of_work() as session:
        assert [p.id for p in matching.project_copies(session, 1)] == [second]
