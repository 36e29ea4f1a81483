"""Use case of the day's end: announce each insight day whose end has passed, once, through the outbox.

The announcement row and the `EventEnded` outbox row commit together, so the event goes out exactly when the day
is marked announced (a crash in between loses or doubles nothing)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.matching.adapters.orm import InsightDayRow, Outbox, ProjectCopy
from services.matching.chat_slots.models import ChatBooking, ChatSlot
from services.matching.day_end import domain
from services.matching.day_end.models import DayEndAnnouncement
from services.matching.directory.domain import FIELDS
from services.matching.directory.models import Profile
from services.matching.registration.models import Registration
from shared import outbox
from shared.db import Database
from shared.events import EventEnded, as_utc

log = logging.getLogger(__name__)
BATCH = 50


def due_days(db: Database, now: datetime, limit: int = BATCH) -> list[int]:
    """Days whose end has passed and that were not handled yet, oldest end first."""
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(InsightDayRow.id)
                .outerjoin(DayEndAnnouncement, DayEndAnnouncement.event_id == InsightDayRow.id)
                .where(DayEndAnnouncement.event_id.is_(None), InsightDayRow.ends_at <= now)
                .order_by(InsightDayRow.ends_at, InsightDayRow.id)
                .limit(limit)
            )
        )


def attendees_of(session: Session, event_id: int) -> list[int]:
    """Everyone who took part: registered for the day, booked one of its chats, or authors one of its projects."""
    registered = session.scalars(select(Registration.user_id).where(Registration.event_id == event_id))
    booked = session.scalars(
        select(ChatBooking.attendee_id)
        .join(ChatSlot, ChatSlot.id == ChatBooking.slot_id)
        .where(ChatSlot.event_id == event_id, ChatBooking.cancelled_at.is_(None))
    )
    authors = session.scalars(
        select(ProjectCopy.owner_id).where(ProjectCopy.event_id == event_id, ProjectCopy.deleted.is_(False))
    )
    return sorted({*registered, *booked, *authors})


def _visibilities(session: Session, user_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for start in range(0, len(user_ids), 500):
        for row in session.scalars(select(Profile).where(Profile.user_id.in_(user_ids[start : start + 500]))):
            found[row.user_id] = [getattr(row, f"{name}_visibility") for name in FIELDS]
    return found


def announce(db: Database, event_id: int, now: datetime, max_late: timedelta = domain.MAX_LATE) -> bool:
    """Mark one day announced and record its EventEnded in the same transaction; False if it was not due or
    another process got there first."""
    try:
        with db.unit_of_work() as session:
            day = session.get(InsightDayRow, event_id)
            if day is None or session.get(DayEndAnnouncement, event_id) is not None:
                return False
            ends_at = as_utc(day.ends_at)
            if not domain.is_due(ends_at, now):
                return False
            if domain.too_late(ends_at, now, max_late):
                session.add(DayEndAnnouncement(event_id=event_id, skipped=True, announced_at=now))
                log.info("day ended long ago: marked without a digest", extra={"insight_day": event_id})
                return False
            people = attendees_of(session, event_id)
            session.add(DayEndAnnouncement(event_id=event_id, attendees=len(people), announced_at=now))
            session.flush()  # the primary key decides a race with another beat before the event is recorded
            outbox.record(
                session,
                Outbox,
                EventEnded(
                    event_id=event_id,
                    title=day.title,
                    timezone=day.timezone,
                    ended_at=ends_at.isoformat(),
                    attendee_ids=people,
                    contactable_user_ids=domain.contactable(people, _visibilities(session, people)),
                ),
            )
    except IntegrityError:
        return False
    log.info("day ended: announced", extra={"insight_day": event_id, "attendees": len(people)})
    return True


def announce_due_days(db: Database, now: datetime, max_late: timedelta = domain.MAX_LATE) -> list[int]:
    return [event_id for event_id in due_days(db, now) if announce(db, event_id, now, max_late)]
