"""Use cases of reminders: materialise the rows that fell due, then send each in its own unit of work.

The table is the truth: a row is made once per (user, entry, offset, sequence) and leaves `pending` in the same
transaction that creates its notification (`outgoing.notify`, itself unique by key), so a scan that runs twice,
a worker killed half-way or a Redis that lost its queue neither sends twice nor loses a reminder: the next scan
finds what is still pending and carries on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.notify import outgoing
from services.notify.calendar.models import ACTIVE, CalendarEntry
from services.notify.preferences.domain import DEFAULT_OFFSETS_MIN, REMINDERS, offsets_from
from services.notify.preferences.models import NotificationSettings
from services.notify.reminders import domain
from services.notify.reminders.models import PENDING, SENT, SKIPPED, VOID, Reminder
from shared.db import Database
from shared.events import as_utc

log = logging.getLogger(__name__)

KIND = "reminder"


@dataclass(frozen=True)
class ScanResult:
    materialised: int
    sent: int
    void: int
    notification_ids: list[int]


def _offsets_by_user(session: Session, user_ids: set[int]) -> dict[int, list[timedelta]]:
    rows = session.execute(
        select(NotificationSettings.user_id, NotificationSettings.reminder_offsets).where(
            NotificationSettings.user_id.in_(user_ids)
        )
    )
    chosen = {user_id: offsets for user_id, offsets in rows}
    return {user_id: offsets_from(chosen.get(user_id)) for user_id in user_ids}


def _longest_offset(session: Session) -> timedelta:
    """How far ahead an entry can have a due reminder: the largest offset anyone chose (or the default)."""
    longest = max(DEFAULT_OFFSETS_MIN)
    for (minutes,) in session.execute(
        select(NotificationSettings.reminder_offsets).where(NotificationSettings.reminder_offsets.is_not(None))
    ):
        longest = max([longest, *minutes])
    return timedelta(minutes=longest)


def materialise_due(db: Database, now: datetime) -> int:
    """Make a row for every reminder of an active, future entry whose time has come and that has none yet."""
    with db.unit_of_work() as session:
        horizon = now + _longest_offset(session)
        entries = session.execute(
            select(
                CalendarEntry.id,
                CalendarEntry.user_id,
                CalendarEntry.starts_at,
                CalendarEntry.created_at,
                CalendarEntry.sequence,
            ).where(CalendarEntry.status == ACTIVE, CalendarEntry.starts_at > now, CalendarEntry.starts_at <= horizon)
        ).all()
        if not entries:
            return 0
        entry_ids = [e.id for e in entries]
        known: set[tuple[int, int, int]] = set()
        sent_before: dict[int, set[tuple[int, datetime]]] = defaultdict(set)
        for entry_id, offset, sequence, status, due_at in session.execute(
            select(
                Reminder.entry_id, Reminder.offset_minutes, Reminder.sequence, Reminder.status, Reminder.due_at
            ).where(Reminder.entry_id.in_(entry_ids))
        ):
            known.add((entry_id, offset, sequence))
            if status == SENT:
                sent_before[entry_id].add((offset, as_utc(due_at)))
        offsets = _offsets_by_user(session, {e.user_id for e in entries})
        made = 0
        for entry in entries:
            for due in domain.due_now(
                starts_at=as_utc(entry.starts_at),
                created_at=as_utc(entry.created_at),
                offsets=offsets[entry.user_id],
                now=now,
                already_sent=frozenset(sent_before[entry.id]),
            ):
                if (entry.id, due.offset_minutes, entry.sequence) in known:
                    continue
                session.add(
                    Reminder(
                        user_id=entry.user_id,
                        entry_id=entry.id,
                        offset_minutes=due.offset_minutes,
                        sequence=entry.sequence,
                        due_at=due.due_at,
                        status=PENDING if due.action == domain.SEND else SKIPPED,
                        reason=due.reason,
                        decided_at=None if due.action == domain.SEND else now,
                    )
                )
                made += 1
        try:
            session.flush()
        except IntegrityError:
            # Another scan made the same rows a moment ago (two workers): theirs stand; the next scan goes on.
            session.rollback()
            log.info("reminders materialised concurrently; leaving it to that scan")
            return 0
        return made


def pending_ids(db: Database) -> list[int]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(Reminder.id).where(Reminder.status == PENDING).order_by(Reminder.due_at)))


def send_one(db: Database, reminder_id: int, now: datetime, settings_url: str) -> int | None:
    """Hand one pending reminder to outgoing.notify; the id of the notification made, if any."""
    with db.unit_of_work() as session:
        return _send_in(session, reminder_id, now, settings_url)


def send_batch(db: Database, reminder_ids: list[int], now: datetime, settings_url: str) -> list[int]:
    """Several pending reminders in one transaction (one commit, one fsync, instead of one each); the ids of
    the notifications made. If any of them fails, nothing of the batch is kept: the caller sends them one by one.
    """
    with db.unit_of_work() as session:
        made = [_send_in(session, reminder_id, now, settings_url) for reminder_id in reminder_ids]
        return [note_id for note_id in made if note_id is not None]


def _send_in(session: Session, reminder_id: int, now: datetime, settings_url: str) -> int | None:
    """The first statement claims the row (pending -> sent) with a write, so from there on the transaction holds
    the database's write lock (SQLite) and then the entry's row lock (PostgreSQL, FOR UPDATE): a cancellation or a
    move racing this send either committed before (seen here: the reminder turns void) or waits until after.
    """
    claimed = session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.status == PENDING)
        .values(status=SENT, decided_at=now)
    ).rowcount
    if claimed != 1:
        return None  # another scan has it, or it is void already
    reminder = session.get(Reminder, reminder_id)
    assert reminder is not None
    entry = session.get(CalendarEntry, reminder.entry_id, with_for_update=True)
    if entry is None or entry.status != ACTIVE or entry.sequence != reminder.sequence:
        reminder.status = VOID
        return None
    starts_at = as_utc(entry.starts_at)
    if starts_at <= now:
        reminder.status, reminder.reason = SKIPPED, domain.STARTED
        return None
    text = domain.reminder_text(
        kind=entry.kind,
        title=entry.title,
        starts_at=starts_at,
        timezone=entry.timezone,
        join_url=entry.join_url,
        now=now,
        settings_url=settings_url,
    )
    note = outgoing.notify(
        session,
        user_id=entry.user_id,
        kind=KIND,
        category=REMINDERS,
        subject_key=domain.subject_key(entry.id, reminder.offset_minutes),
        version=entry.sequence,
        title=text.title,
        text=text.text,
        html=text.html,
        link=entry.join_url or "/",
        summary=text.summary,
    )
    reminder.notification_id = note.id if note is not None else None
    return reminder.notification_id


def void_stale(db: Database) -> int:
    """Pending rows whose entry was cancelled or moved since: void, in one statement (the send re-checks too)."""
    with db.unit_of_work() as session:
        stale = (
            select(Reminder.id)
            .join(CalendarEntry, CalendarEntry.id == Reminder.entry_id)
            .where(
                Reminder.status == PENDING,
                (CalendarEntry.status != ACTIVE) | (CalendarEntry.sequence != Reminder.sequence),
            )
        )
        return (
            session.execute(
                update(Reminder).where(Reminder.id.in_(stale)).values(status=VOID),
                execution_options={"synchronize_session": False},
            ).rowcount
            or 0
        )
