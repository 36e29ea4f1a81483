"""Use cases of the matching service. Each runs in one unit of work and records its events in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.adapters.orm import InsightDayRow, Outbox, ProjectCopy
from services.matching.domain.insight_day import Schedule
from shared import outbox
from shared.db import Database
from shared.events import EventCreated, EventUpdated, ProjectPublished, ProjectUpdated


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class InsightDayChanges:
    title: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _announce(row: InsightDayRow, cls: type[EventCreated] | type[EventUpdated]) -> EventCreated | EventUpdated:
    return cls(
        event_id=row.id,
        title=row.title,
        starts_at=_utc(row.starts_at).isoformat(),
        ends_at=_utc(row.ends_at).isoformat(),
        timezone=row.timezone,
        organiser_id=row.organiser_id,
    )


def create_insight_day(db: Database, organiser_id: int, title: str, schedule: Schedule) -> InsightDayRow:
    with db.unit_of_work() as session:
        row = InsightDayRow(
            title=title,
            starts_at=schedule.starts_at,
            ends_at=schedule.ends_at,
            timezone=schedule.timezone,
            organiser_id=organiser_id,
        )
        session.add(row)
        session.flush()
        outbox.record(session, Outbox, _announce(row, EventCreated))
        return row


def update_insight_day(db: Database, day_id: int, changes: InsightDayChanges) -> InsightDayRow:
    with db.unit_of_work() as session:
        row = _get(session, day_id)
        schedule = Schedule.of(
            changes.starts_at or _utc(row.starts_at),
            changes.ends_at or _utc(row.ends_at),
            changes.timezone or row.timezone,
        )
        row.title = changes.title or row.title
        row.starts_at, row.ends_at, row.timezone = schedule.starts_at, schedule.ends_at, schedule.timezone
        session.flush()
        outbox.record(session, Outbox, _announce(row, EventUpdated))
        return row


def list_insight_days(db: Database) -> list[InsightDayRow]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(InsightDayRow).order_by(InsightDayRow.starts_at)).all())


def get_insight_day(db: Database, day_id: int) -> InsightDayRow:
    with db.unit_of_work() as session:
        return _get(session, day_id)


def _get(session: Session, day_id: int) -> InsightDayRow:
    row = session.get(InsightDayRow, day_id)
    if row is None:
        raise NotFound(f"event {day_id}")
    return row


# --- applied from posters' events (inside the inbox's unit of work) ---------------------------------------
def keep_project(session: Session, event: ProjectPublished | ProjectUpdated) -> None:
    session.merge(
        ProjectCopy(
            id=event.project_id,
            event_id=event.event_id,
            owner_id=event.owner_id,
            title=event.title,
            themes=list(event.themes),
            hidden=getattr(event, "hidden", False),
        )
    )


def forget_project(session: Session, project_id: int) -> None:
    row = session.get(ProjectCopy, project_id)
    if row is not None:
        session.delete(row)
