"""Events from other services that the matching service applies, each event_id at most once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from services.matching import service
from services.matching.adapters.orm import ProcessedEvent
from shared.bus import Handler
from shared.events import ProjectDeleted, ProjectPublished, ProjectUpdated
from shared.features import merge_handlers
from shared.inbox import idempotent


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]

    def on_project_changed(session: Session, event: ProjectPublished | ProjectUpdated | ProjectDeleted) -> None:
        if isinstance(event, ProjectDeleted):
            service.forget_project(session, event)
        else:
            service.keep_project(session, event)

    project_copy = idempotent(db, ProcessedEvent, on_project_changed)
    shared_handlers: dict[str, Handler] = {
        ProjectPublished.__name__: project_copy,
        ProjectUpdated.__name__: project_copy,
        ProjectDeleted.__name__: project_copy,
    }
    from services.matching.features import feature_handlers

    return merge_handlers(shared_handlers, feature_handlers(app), "matching")
