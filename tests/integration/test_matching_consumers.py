"""Matching keeps its own copy of posters' projects from their events, through the real stream."""

from __future__ import annotations

from dataclasses import fields

import pytest
from flask import Flask

from services.matching import service
from services.matching.adapters.orm import ProjectCopy
from services.matching.consumers import handlers
from shared.bus import Consumer, Publisher
from shared.events import Envelope, ProjectDeleted, ProjectPublished, ProjectUpdated

pytestmark = pytest.mark.integration


def _consume(app: Flask, *envelopes: Envelope) -> Consumer:
    consumer = Consumer(app.extensions["redis"], "matching", handlers(app))
    consumer.ensure_group()
    for envelope in envelopes:
        Publisher(app.extensions["redis"]).publish_raw(envelope)
    while consumer.run_once(block_ms=50):
        pass
    return consumer


def _copy(app: Flask, project_id: int) -> ProjectCopy | None:
    """The live copy as matching's reads see it (a tombstone reads as None)."""
    with app.extensions["db"].unit_of_work() as session:
        return service.project_copy(session, project_id)


def _listed(app: Flask, event_id: int = 1) -> list[int]:
    with app.extensions["db"].unit_of_work() as session:
        return [p.id for p in service.project_copies(session, event_id)]


def _row(app: Flask, project_id: int) -> ProjectCopy | None:
    """The stored row itself, tombstones included."""
    with app.extensions["db"].unit_of_work() as session:
        return session.get(ProjectCopy, project_id)


def test_project_copy_follows_publish_update_and_delete(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    published = ProjectPublished(project_id=5, event_id=1, owner_id=10, title="Linking", themes=["data linkage"])
    _consume(app, published.envelope())
    copy = _copy(app, 5)
    assert copy is not None and (copy.owner_id, copy.themes, copy.hidden) == (10, ["data linkage"], False)

    updated = ProjectUpdated(
        project_id=5, event_id=1, owner_id=10, title="Linking safely", themes=["privacy"], hidden=True
    ).envelope()
    consumer = _consume(app, updated, updated)  # redelivered: applied once, no error
    copy = _copy(app, 5)
    assert copy is not None and (copy.title, copy.themes, copy.hidden) == ("Linking safely", ["privacy"], True)
    assert consumer.stats.handled == 2 and consumer.stats.failed == 0

    _consume(app, ProjectDeleted(project_id=5, event_id=1, owner_id=10).envelope())
    assert _copy(app, 5) is None and _listed(app) == []
    _consume(app, ProjectDeleted(project_id=99, event_id=1, owner_id=10).envelope())  # unknown: nothing to do


def _snapshot(cls: type, revision: int | None, **changes: object) -> Envelope:
    """Project 5's event at this revision (ProjectDeleted takes only the ids)."""
    values = {"project_id": 5, "event_id": 1, "owner_id": 10, "title": "Linking", "themes": ["data linkage"]}
    values = {k: v for k, v in {**values, **changes}.items() if k in {f.name for f in fields(cls)}}
    return cls(**values, revision=revision).envelope()


def test_a_late_update_cannot_resurrect_a_deleted_project(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    # ProjectUpdated r2 failed on its first delivery; ProjectDeleted r3 went through; the retry of r2 comes last.
    late_update = _snapshot(ProjectUpdated, 2, title="Linking safely")
    consumer = _consume(
        app,
        _snapshot(ProjectPublished, 1),
        _snapshot(ProjectDeleted, 3),
        late_update,
    )
    assert consumer.stats.failed == 0 and consumer.stats.handled == 3
    assert _copy(app, 5) is None
    assert _listed(app) == []
    tombstone = _row(app, 5)
    assert tombstone is not None and (tombstone.deleted, tombstone.revision) == (True, 3)

    _consume(app, _snapshot(ProjectPublished, 1))  # the creation retried even later: still gone
    assert _copy(app, 5) is None and _listed(app) == []


def test_a_delete_before_the_publish_leaves_a_tombstone(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    _consume(app, _snapshot(ProjectDeleted, 2), _snapshot(ProjectPublished, 1))
    assert _copy(app, 5) is None and _listed(app) == []
    assert _row(app, 5) is not None


def test_older_snapshots_are_skipped_newer_ones_applied(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    _consume(
        app,
        _snapshot(ProjectPublished, 1),
        _snapshot(ProjectUpdated, 3, title="Third"),
        _snapshot(ProjectUpdated, 2, title="Second"),  # retried late
        _snapshot(ProjectUpdated, 3, title="Third again"),  # same revision: nothing newer
    )
    copy = _copy(app, 5)
    assert copy is not None and (copy.title, copy.revision) == ("Third", 3)
    _consume(app, _snapshot(ProjectUpdated, 4, title="Fourth", hidden=True))
    copy = _copy(app, 5)
    assert copy is not None and (copy.title, copy.hidden, copy.revision) == ("Fourth", True, 4)
    assert _listed(app) == [5]


def test_snapshots_without_revision_are_applied_as_before(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    legacy = {"project_id": 5, "event_id": 1, "owner_id": 10, "title": "Old", "themes": []}
    envelope = ProjectPublished(**legacy).envelope()
    wire = Envelope(type=envelope.type, payload={k: v for k, v in envelope.payload.items() if k != "revision"})
    _consume(app, _snapshot(ProjectPublished, 1), wire)  # an in-flight event from before revisions
    copy = _copy(app, 5)
    assert copy is not None and copy.title == "Old" and copy.revision == 1
