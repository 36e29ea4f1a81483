"""Events the registration feature applies: the gateway's UserRegistered keeps matching's copy of people (the CSV
import finds people by e-mail in it). Each event_id is applied at most once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from services.matching.adapters.orm import ProcessedEvent
from services.matching.registration import service
from shared.bus import Handler
from shared.events import UserRegistered
from shared.inbox import idempotent


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]

    def on_user_registered(session: Session, event: UserRegistered) -> None:
        service.keep_registered_user(session, event)

    return {UserRegistered.__name__: idempotent(db, ProcessedEvent, on_user_registered)}
