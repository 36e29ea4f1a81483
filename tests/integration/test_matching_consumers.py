"""Matching keeps its own copy of posters' projects from their events, through the real stream."""

from __future__ import annotations

import pytest
from flask import Flask

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
    assert _copy(app, 5) is None
    _consume(app, ProjectDeleted(project_id=99, event_id=1, owner_id=10).envelope())  # unknown: nothing to do
