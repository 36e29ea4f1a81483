"""Events the follow-up feature applies, each event_id at most once (notify's inbox), then pushes and mails what
it made once committed. EventEnded only plans the digests (batches); Celery tasks write them, so a 10,000-person
day does not hold the bus consumer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from services.notify import outgoing
from services.notify.adapters.orm import ProcessedEvent
from services.notify.followup import service
from services.notify.followup.tasks import enqueue_batches, settings_of
from shared.bus import Handler
from shared.events import (
    ChatHeld,
    ContactAccepted,
    Envelope,
    EventEnded,
    FollowUpActionDone,
    FollowUpActionNoted,
    ProjectDeleted,
    ProjectPublished,
    ProjectUpdated,
    ProjectViewed,
    QuestionAnswered,
    QuestionAsked,
)
from shared.inbox import idempotent


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]

    def notifying(apply: Callable[[Session, Any], list[int]]) -> Handler:
        def handle(envelope: Envelope) -> None:
            made: list[int] = []
            idempotent(db, ProcessedEvent, lambda session, event: made.extend(apply(session, event)))(envelope)
            outgoing.after_commit(app, made)

        return handle

    def on_event_ended(envelope: Envelope) -> None:
        survey_days, batch_size = settings_of(app)
        planned: list[int] = []

        def apply(session: Session, event: EventEnded) -> None:
            planned.extend(service.apply_event_ended(session, event, survey_days, batch_size))

        idempotent(db, ProcessedEvent, apply)(envelope)
        # A lost enqueue (crash right here) is picked up by the beat's resume of stale batches.
        enqueue_batches(app.extensions["celery"], planned)

    def plain(apply: Callable[[Session, Any], None]) -> Handler:
        return idempotent(db, ProcessedEvent, apply)

    return {
        EventEnded.__name__: on_event_ended,
        ChatHeld.__name__: plain(service.apply_chat_held),
        FollowUpActionNoted.__name__: plain(service.apply_action_noted),
        FollowUpActionDone.__name__: plain(service.apply_action_done),
        ProjectViewed.__name__: plain(service.apply_project_viewed),
        ProjectPublished.__name__: plain(service.keep_project),
        ProjectUpdated.__name__: plain(service.keep_project),
        ProjectDeleted.__name__: plain(service.forget_project),
        QuestionAsked.__name__: notifying(service.apply_question_asked),
        QuestionAnswered.__name__: notifying(service.apply_question_answered),
        ContactAccepted.__name__: notifying(service.apply_contact_accepted),
    }
