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
from shared.events import EventCreated, EventUpdated, ProjectDeleted, ProjectPublished, ProjectUpdated, is_newer


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
    """The day's snapshot at its current revision (call after the change, on the row loaded for update)."""
    return cls(
        event_id=row.id,
        title=row.title,
        starts_at=_utc(row.starts_at).isoformat(),
        ends_at=_utc(row.ends_at).isoformat(),
        timezone=row.timezone,
        organiser_id=row.organiser_id,
        revision=row.revision,
    )


def create_insight_day(db: Database, organiser_id: int, title: str, schedule: Schedule) -> InsightDayRow:
    with db.unit_of_work() as session:
        row = InsightDayRow(
            title=title,
            starts_at=schedule.starts_at,
            ends_at=schedule.ends_at,
            timezone=schedule.timezone,
            organiser_id=organiser_id,
            revision=1,
        )
        session.add(row)
        session.flush()
        outbox.record(session, Outbox, _announce(row, EventCreated))
        return row


def update_insight_day(db: Database, day_id: int, changes: InsightDayChanges) -> InsightDayRow:
    with db.unit_of_work() as session:
        # Locked until commit (Postgres; SQLite's write lock serialises anyway): two concurrent edits get
        # distinct revisions and each event carries the row as its own revision left it.
        row = _get(session, day_id, for_update=True)
        schedule = Schedule.of(
            changes.starts_at or _utc(row.starts_at),
            changes.ends_at or _utc(row.ends_at),
            changes.timezone or row.timezone,
        )
        row.title = changes.title or row.title
        row.starts_at, row.ends_at, row.timezone = schedule.starts_at, schedule.ends_at, schedule.timezone
        row.revision = (row.revision or 0) + 1
        session.flush()
        outbox.record(session, Outbox, _announce(row, EventUpdated))
        return row


def list_insight_days(db: Database) -> list[InsightDayRow]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(InsightDayRow).order_by(InsightDayRow.starts_at)).all())


def get_insight_day(db: Database, day_id: int) -> InsightDayRow:
    with db.unit_of_work() as session:
        return _get(session, day_id)


def _get(session: Session, day_id: int, *, for_update: bool = False) -> InsightDayRow:
    if for_update:
        stmt = select(InsightDayRow).where(InsightDayRow.id == day_id).with_for_update()
        row = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
    else:
        row = session.get(InsightDayRow, day_id)
    if row is None:
        raise NotFound(f"event {day_id}")
    return row


# --- applied from posters' events (inside the inbox's unit of work) ---------------------------------------
def keep_project(session: Session, event: ProjectPublished | ProjectUpdated) -> None:
    """Take the snapshot unless the copy is already at its revision or newer (a late retry), tombstone included."""
    row = session.get(ProjectCopy, event.project_id, with_for_update=True)
    if row is not None and not is_newer(event.revision, row.revision):
        return
    if row is None:
        row = ProjectCopy(id=event.project_id, revision=0)
        session.add(row)
    row.event_id = event.event_id
    row.owner_id = event.owner_id
    row.title = event.title
    row.themes = list(event.themes)
    row.summary = event.summary or ""
    row.learnings = list(event.learnings or [])
    row.hidden = getattr(event, "hidden", False)
    row.deleted = False
    if event.revision is not None:
        row.revision = event.revision


def forget_project(session: Session, event: ProjectDeleted) -> None:
    """Leave a tombstone at the delete's revision, even for a project we never saw (its ProjectPublished may
    still be waiting for a retry): no older snapshot can bring it back."""
    row = session.get(ProjectCopy, event.project_id, with_for_update=True)
    if row is not None and not is_newer(event.revision, row.revision):
        return
    if row is None:
        if event.revision is None:
            return  # legacy delete of a project we never knew: nothing to do, as before
        row = ProjectCopy(id=event.project_id, event_id=event.event_id, owner_id=event.owner_id, title="", themes=[])
        session.add(row)
    row.deleted = True
    if event.revision is not None:
        row.revision = event.revision


def project_copies(session: Session, event_id: int) -> list[ProjectCopy]:
    """The live (not deleted) projects of an insight day, as last announced by posters."""
    return list(
        session.scalars(
            select(ProjectCopy)
            .where(ProjectCopy.event_id == event_id, ProjectCopy.deleted.is_(False))
            .order_by(ProjectCopy.id)
        ).all()
    )


def project_copy(session: Session, project_id: int) -> ProjectCopy | None:
    """One live project; a tombstone (deleted project) is None like an unknown one."""
    row = session.get(ProjectCopy, project_id)
    return None if row is None or row.deleted else row
