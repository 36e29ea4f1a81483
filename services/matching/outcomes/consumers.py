"""Keep the facts the outcome report needs from other services' events, each event_id at most once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from services.matching.adapters.orm import ProcessedEvent
from services.matching.outcomes.models import FollowUpNote, HeldChat, PosterView, SurveyResult
from shared.bus import Handler
from shared.events import ChatHeld, FollowUpActionNoted, ProjectViewed, SurveyAnswered, as_utc
from shared.inbox import idempotent


def _time(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def apply(session: Session, event: Any) -> None:
    if isinstance(event, ProjectViewed):
        if session.get(PosterView, (event.user_id, event.project_id)) is None:
            session.add(
                PosterView(
                    user_id=event.user_id,
                    project_id=event.project_id,
                    event_id=event.event_id,
                    viewed_at=_time(event.viewed_at),
                )
            )
    elif isinstance(event, ChatHeld):
        if session.get(HeldChat, event.room_id) is None:
            session.add(
                HeldChat(
                    room_id=event.room_id,
                    event_id=event.event_id,
                    author_id=event.author_id,
                    attendee_id=event.attendee_id,
                    held_at=_time(event.held_at),
                )
            )
    elif isinstance(event, FollowUpActionNoted):
        if session.get(FollowUpNote, event.action_id) is None:
            session.add(
                FollowUpNote(
                    action_id=event.action_id,
                    event_id=event.event_id,
                    owner_id=event.owner_id,
                    noted_at=_time(event.noted_at),
                )
            )
    elif isinstance(event, SurveyAnswered):
        answered_at = _time(event.answered_at)
        row = session.get(SurveyResult, (event.event_id, event.user_id))
        if row is None:
            session.add(
                SurveyResult(
                    event_id=event.event_id,
                    user_id=event.user_id,
                    answered_at=answered_at,
                    contacted_someone=event.contacted_someone,
                    adopted_something=event.adopted_something,
                    blockers=event.blockers,
                )
            )
        elif as_utc(row.answered_at) < answered_at:  # the latest answer counts, whatever order they arrive in
            row.contacted_someone = event.contacted_someone
            row.adopted_something = event.adopted_something
            row.blockers = event.blockers
            row.answered_at = answered_at


def handlers(app: Flask) -> dict[str, Handler]:
    handle = idempotent(app.extensions["db"], ProcessedEvent, apply)
    return {cls.__name__: handle for cls in (ProjectViewed, ChatHeld, FollowUpActionNoted, SurveyAnswered)}
