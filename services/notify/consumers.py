"""Events from other services that the notify service applies, each event_id at most once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from services.notify import service, verification
from services.notify.adapters.orm import ProcessedEvent
from services.notify.adapters.push import Pusher
from services.notify.serialize import notification_push
from services.notify.tasks import enqueue_send
from shared.bus import Handler
from shared.events import Envelope, EventCreated, EventUpdated, PosterReady, PosterRejected, UserRegistered
from shared.features import merge_handlers
from shared.inbox import idempotent


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]
    public_url = app.config["SETTINGS"].public_url
    pusher: Pusher = app.extensions["notify_pusher"]
    celery = app.extensions["celery"]

    def after_commit(source_event_id: str, *, push: bool) -> None:
        """Work that must only happen once the notification is committed: the push and the email task.

        Runs on a redelivery too (the first try may have died right after its commit); the email task is
        idempotent, and if this enqueue is lost the sweep sends the email later.
        """
        notifications, email_ids = service.from_source(db, source_event_id)
        if push:
            for row in notifications:
                pusher.emit_to_user(row.user_id, "notification", notification_push(row))
        for email_id in email_ids:
            enqueue_send(celery, email_id)

    def notifying(apply_event: Callable[[Session, Any, str], None]) -> Handler:
        """A handler that stores notifications idempotently, then pushes and mails them after the commit."""

        def handle(envelope: Envelope) -> None:
            applied: list[bool] = []

            def apply(session: Session, event: Any) -> None:
                apply_event(session, event, envelope.event_id)
                applied.append(True)

            idempotent(db, ProcessedEvent, apply)(envelope)
            after_commit(envelope.event_id, push=bool(applied))

        return handle

    def on_user_registered(session: Session, event: UserRegistered, source_event_id: str) -> None:
        service.apply_user_registered(session, event, source_event_id, public_url)

    def on_event_changed(session: Session, event: Any) -> None:
        assert isinstance(event, EventCreated | EventUpdated)
        service.apply_event_changed(session, event)

    known_events = idempotent(db, ProcessedEvent, on_event_changed)
    root: dict[str, Handler] = {
        UserRegistered.__name__: notifying(on_user_registered),
        PosterReady.__name__: notifying(service.apply_poster_processed),
        PosterRejected.__name__: notifying(service.apply_poster_processed),
        EventCreated.__name__: known_events,
        EventUpdated.__name__: known_events,
        "VerificationRequested": verification.handler(app),  # the gateway's sign-up mails (no user text)
    }
    from services.notify.features import FEATURES

    return merge_handlers(root, FEATURES.handlers(app), "notify")
