"""Use cases of a day's set-up: thesaurus, registration deadline, slots, breakouts. One unit of work each.

Every change of a day's set-up first takes the lock on the day's `DaySetup` row (`lock_setup`), so two changes of
one day never interleave: the overlap check sees every committed slot, the thesaurus revision never repeats, and a
breakout cannot take a theme that a concurrent thesaurus change removes. On SQLite the insert that creates the row
takes the database's write lock, which serialises the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.matching.adapters.orm import InsightDayRow, Outbox
from services.matching.registration.models import Registration
from services.matching.service import NotFound
from services.matching.setup import domain
from services.matching.setup.domain import Refused, SlotTimes, Thesaurus, utc
from services.matching.setup.models import Breakout, DaySetup, Slot, ThesaurusTheme
from shared import outbox
from shared.db import Database
from shared.events import ThesaurusUpdated, utcnow

UNSET: Any = object()  # "not in the request" (None means "clear it")


# --- the day's set-up row ----------------------------------------------------------------------------------
def day(session: Session, event_id: int) -> InsightDayRow:
    row = session.get(InsightDayRow, event_id)
    if row is None:
        raise NotFound(f"event {event_id}")
    return row


def insert_ignoring_duplicate(session: Session, model: type[Any], **values: Any) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL: creates a row unless a concurrent writer did."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def lock_setup(session: Session, event_id: int) -> DaySetup:
    """The day's set-up row, created if needed, locked until commit."""
    day(session, event_id)
    insert_ignoring_duplicate(session, DaySetup, event_id=event_id, thesaurus_revision=0, needs_rerun=False)
    stmt = select(DaySetup).where(DaySetup.event_id == event_id).with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def setup_of(session: Session, event_id: int) -> DaySetup:
    """The day's set-up as stored, or the defaults of a day nobody has set up yet (not added to the session)."""
    day(session, event_id)
    row = session.get(DaySetup, event_id)
    return row or DaySetup(event_id=event_id, thesaurus_revision=0, needs_rerun=False)


def thesaurus_of(session: Session, event_id: int) -> Thesaurus:
    rows = session.scalars(
        select(ThesaurusTheme).where(ThesaurusTheme.event_id == event_id).order_by(ThesaurusTheme.position)
    ).all()
    return Thesaurus(tuple(domain.Theme(r.name, tuple(r.synonyms or ())) for r in rows))


def registration_open(setup: DaySetup, now: datetime | None = None) -> bool:
    """Attendees may register or change their registration until the deadline (none set: always)."""
    deadline = setup.registration_deadline
    return deadline is None or (now or utcnow()) <= utc(deadline)


def mark_published(session: Session, event_id: int, at: datetime | None = None) -> DaySetup:
    """For the assignment feature, inside its unit of work: a schedule was published; later slot and breakout
    changes need ?force=1 and mark the day as needing a re-run until the next publication."""
    setup = lock_setup(session, event_id)
    setup.published_at = at or utcnow()
    setup.needs_rerun = False
    return setup


def guard_published(setup: DaySetup, force: bool) -> None:
    """For the timetable feature: the same guard as set-up changes (409 `published` unless forced)."""
    _guard_published(setup, force)


def _guard_published(setup: DaySetup, force: bool) -> None:
    if setup.published_at is None:
        return
    if not force:
        raise Refused(
            None,
            "this day's schedule is already published: after this change the assignment must be run again. "
            "Send it again with ?force=1 to change it anyway (the day is then marked as needing a re-run).",
            status=409,
            code="published",
        )
    setup.needs_rerun = True


@dataclass(frozen=True)
class SetupView:
    day: InsightDayRow
    setup: DaySetup


def get_setup(db: Database, event_id: int) -> SetupView:
    with db.unit_of_work() as session:
        return SetupView(day(session, event_id), setup_of(session, event_id))


def update_setup(db: Database, event_id: int, registration_deadline: datetime | None = UNSET) -> SetupView:
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        the_day = day(session, event_id)
        if registration_deadline is not UNSET:
            if registration_deadline is not None and utc(registration_deadline) > utc(the_day.ends_at):
                raise Refused("registration_deadline", "must not be after the insight day ends")
            setup.registration_deadline = utc(registration_deadline) if registration_deadline else None
        session.flush()
        return SetupView(the_day, setup)


# --- thesaurus ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThesaurusView:
    thesaurus: Thesaurus
    revision: int
    changed: bool = False


def get_thesaurus(db: Database, event_id: int) -> ThesaurusView:
    with db.unit_of_work() as session:
        return ThesaurusView(thesaurus_of(session, event_id), setup_of(session, event_id).thesaurus_revision)


def replace_thesaurus(db: Database, event_id: int, new: Thesaurus) -> ThesaurusView:
    """The day's thesaurus becomes `new`; announced with the next revision when it changed.

    Breakouts and registrations keep their themes through the change (a theme that became a synonym of another
    folds into that one); removing a theme that one of them still uses is refused, nothing is lost silently."""
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        if thesaurus_of(session, event_id) == new:
            return ThesaurusView(new, setup.thesaurus_revision)
        _refold_breakouts(session, event_id, new)
        _refold_registrations(session, event_id, new)
        session.execute(delete(ThesaurusTheme).where(ThesaurusTheme.event_id == event_id))
        for position, theme in enumerate(new.themes):
            session.add(
                ThesaurusTheme(
                    event_id=event_id,
                    position=position,
                    name=theme.name,
                    key=domain.label_key(theme.name),
                    synonyms=list(theme.synonyms),
                )
            )
        setup.thesaurus_revision = (setup.thesaurus_revision or 0) + 1
        session.flush()
        outbox.record(
            session, Outbox, ThesaurusUpdated(event_id=event_id, themes=new.names(), revision=setup.thesaurus_revision)
        )
        return ThesaurusView(new, setup.thesaurus_revision, changed=True)


def _refold_breakouts(session: Session, event_id: int, new: Thesaurus) -> None:
    for breakout in session.scalars(select(Breakout).where(Breakout.event_id == event_id).order_by(Breakout.id)):
        folded = new.fold(breakout.theme)
        if folded is None:
            raise Refused(
                "themes",
                f"{breakout.theme!r} is the theme of the breakout {breakout.title!r}: keep it, make it a synonym of "
                "another theme, or change the breakout first",
                status=409,
                code="theme_in_use",
            )
        breakout.theme = folded


def _refold_registrations(session: Session, event_id: int, new: Thesaurus) -> None:
    orphaned: dict[str, int] = {}
    rows = session.scalars(select(Registration).where(Registration.event_id == event_id)).all()
    for row in rows:
        folded: list[str] = []
        for theme in row.themes or []:
            name = new.fold(theme)
            if name is None:
                orphaned[theme] = orphaned.get(theme, 0) + 1
            elif name not in folded:
                folded.append(name)  # two chosen themes merged into one: it keeps the better rank
        if folded != list(row.themes or []):
            row.themes = folded
    if orphaned:
        theme, count = sorted(orphaned.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        others = f" (and {len(orphaned) - 1} more removed themes)" if len(orphaned) > 1 else ""
        raise Refused(
            "themes",
            f"{theme!r} is chosen in {count} registration{'s' if count != 1 else ''}{others}: keep it, or make it a "
            "synonym of another theme so those choices move there",
            status=409,
            code="theme_in_use",
        )


# --- slots -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotChanges:
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    kind: str | None = None
    rooms: int | None = UNSET  # None: no room limit


def _slots(session: Session, event_id: int) -> list[Slot]:
    return list(session.scalars(select(Slot).where(Slot.event_id == event_id).order_by(Slot.starts_at, Slot.id)))


def _times(slot: Slot) -> SlotTimes:
    return SlotTimes(slot.id, slot.starts_at, slot.ends_at, slot.kind)


def _slot(session: Session, event_id: int, slot_id: int) -> Slot:
    slot = session.get(Slot, slot_id)
    if slot is None or slot.event_id != event_id:
        raise NotFound(f"slot {slot_id}")
    return slot


def breakout_counts(session: Session, event_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Breakout.slot_id, func.count()).where(Breakout.event_id == event_id).group_by(Breakout.slot_id)
    )
    return {slot_id: count for slot_id, count in rows}


def list_slots(db: Database, event_id: int) -> tuple[list[Slot], dict[int, int]]:
    with db.unit_of_work() as session:
        day(session, event_id)
        return _slots(session, event_id), breakout_counts(session, event_id)


def create_slot(db: Database, event_id: int, changes: SlotChanges, *, force: bool = False) -> Slot:
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        the_day = day(session, event_id)
        assert changes.starts_at and changes.ends_at and changes.kind  # the API requires all three
        candidate = SlotTimes(None, changes.starts_at, changes.ends_at, changes.kind)
        domain.check_slot(candidate, the_day.starts_at, the_day.ends_at, map(_times, _slots(session, event_id)))
        _guard_published(setup, force)
        slot = Slot(
            event_id=event_id,
            starts_at=utc(changes.starts_at),
            ends_at=utc(changes.ends_at),
            kind=changes.kind,
            rooms=None if changes.rooms is UNSET else changes.rooms,
        )
        session.add(slot)
        session.flush()
        return slot


def update_slot(
    db: Database, event_id: int, slot_id: int, changes: SlotChanges, *, force: bool = False
) -> tuple[Slot, int]:
    """The changed slot and how many breakouts it has."""
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        the_day = day(session, event_id)
        slot = _slot(session, event_id, slot_id)
        candidate = SlotTimes(
            slot.id, changes.starts_at or slot.starts_at, changes.ends_at or slot.ends_at, changes.kind or slot.kind
        )
        domain.check_slot(candidate, the_day.starts_at, the_day.ends_at, map(_times, _slots(session, event_id)))
        breakouts = breakout_counts(session, event_id).get(slot.id, 0)
        if candidate.kind != "breakout" and breakouts:
            raise Refused(
                "kind",
                f"this slot has breakouts: move or delete them before making it a {candidate.kind} slot",
                status=409,
                code="slot_has_breakouts",
            )
        _guard_published(setup, force)
        slot.starts_at, slot.ends_at, slot.kind = utc(candidate.starts_at), utc(candidate.ends_at), candidate.kind
        if changes.rooms is not UNSET:
            slot.rooms = changes.rooms
        session.flush()
        return slot, breakouts


def delete_slot(db: Database, event_id: int, slot_id: int, *, force: bool = False) -> None:
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        slot = _slot(session, event_id, slot_id)
        count = breakout_counts(session, event_id).get(slot.id, 0)
        if count:
            raise Refused(
                None,
                f"this slot has {count} breakout{'s' if count != 1 else ''}: delete or move them first",
                status=409,
                code="slot_has_breakouts",
            )
        _guard_published(setup, force)
        session.delete(slot)


# --- breakouts ---------------------------------------------------------------------------------------------
# Timetabling constraints as the API names them -> the Breakout column that keeps each.
RULE_FIELDS = {
    "not_before_slot_id": "not_before_slot_id",
    "not_after_slot_id": "not_after_slot_id",
    "same_slot_as": "same_slot_as_id",
    "not_same_slot_as": "not_same_slot_as_id",
    "presenter": "presenter",
}


@dataclass(frozen=True)
class BreakoutChanges:
    slot_id: int | None = None
    title: str | None = None
    theme: str | None = None
    capacity: int | None = None
    meeting_url: str | None = UNSET
    rules: dict[str, Any] | None = None  # the constraints given (a None value clears one)


def _apply_rules(session: Session, event_id: int, breakout: Breakout, rules: dict[str, Any]) -> None:
    """Set the timetabling constraints given, each checked on its own (references of the same day, a window that
    leaves a slot); contradictions between breakouts are explained by the timetable run's pre-check."""
    for name, value in rules.items():
        if name == "presenter":
            value = " ".join(value.split())[:200] if value and value.strip() else None
        elif value is not None and name.endswith("slot_id"):
            _breakout_slot(session, event_id, value, field=name)
        elif value is not None:
            other = session.get(Breakout, value)
            if other is None or other.event_id != event_id:
                raise Refused(name, f"this insight day has no breakout {value}")
            if breakout.id is not None and other.id == breakout.id:
                raise Refused(name, "a breakout cannot refer to itself")
        setattr(breakout, RULE_FIELDS[name], value)
    if breakout.not_before_slot_id is not None and breakout.not_after_slot_id is not None:
        first, last = session.get(Slot, breakout.not_before_slot_id), session.get(Slot, breakout.not_after_slot_id)
        if first is not None and last is not None and utc(first.starts_at) > utc(last.starts_at):
            raise Refused(
                "not_after_slot_id",
                f"'not before' slot {first.id} starts after the 'not after' slot {last.id}: no slot would be left",
            )
    if breakout.same_slot_as_id is not None and breakout.same_slot_as_id == breakout.not_same_slot_as_id:
        raise Refused("not_same_slot_as", "a breakout cannot be in the same slot as another and also not")


def _breakout(session: Session, event_id: int, breakout_id: int) -> Breakout:
    breakout = session.get(Breakout, breakout_id)
    if breakout is None or breakout.event_id != event_id:
        raise NotFound(f"breakout {breakout_id}")
    return breakout


def _breakout_slot(session: Session, event_id: int, slot_id: int, field: str = "slot_id") -> Slot:
    slot = session.get(Slot, slot_id)
    if slot is None or slot.event_id != event_id:
        raise Refused(field, f"this insight day has no slot {slot_id}")
    if slot.kind != "breakout":
        raise Refused(field, f"slot {slot_id} is a {slot.kind} slot: breakouts go in breakout slots")
    return slot


def list_breakouts(db: Database, event_id: int, slot_id: int | None = None) -> list[tuple[Breakout, Slot]]:
    with db.unit_of_work() as session:
        day(session, event_id)
        stmt = (
            select(Breakout, Slot)
            .outerjoin(Slot, Slot.id == Breakout.slot_id)  # breakouts waiting for a slot come last
            .where(Breakout.event_id == event_id)
            .order_by(Slot.starts_at.is_(None), Slot.starts_at, Breakout.title, Breakout.id)
        )
        if slot_id is not None:
            stmt = stmt.where(Breakout.slot_id == slot_id)
        return [(b, s) for b, s in session.execute(stmt)]


def create_breakout(db: Database, event_id: int, changes: BreakoutChanges, *, force: bool = False) -> Breakout:
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        assert changes.title is not None  # the API requires them
        assert changes.theme is not None and changes.capacity is not None
        slot = _breakout_slot(session, event_id, changes.slot_id) if changes.slot_id is not None else None
        breakout = Breakout(
            event_id=event_id,
            slot_id=slot.id if slot is not None else None,
            title=domain.check_title(changes.title),
            theme=domain.breakout_theme(changes.theme, thesaurus_of(session, event_id)),
            capacity=domain.check_capacity(changes.capacity),
            meeting_url=domain.check_meeting_url(None if changes.meeting_url is UNSET else changes.meeting_url),
        )
        _apply_rules(session, event_id, breakout, changes.rules or {})
        _guard_published(setup, force)
        session.add(breakout)
        session.flush()
        return breakout


def update_breakout(
    db: Database, event_id: int, breakout_id: int, changes: BreakoutChanges, *, force: bool = False
) -> Breakout:
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        breakout = _breakout(session, event_id, breakout_id)
        slot_id = _breakout_slot(session, event_id, changes.slot_id).id if changes.slot_id is not None else None
        title = domain.check_title(changes.title) if changes.title is not None else None
        theme = (
            domain.breakout_theme(changes.theme, thesaurus_of(session, event_id)) if changes.theme is not None else None
        )
        capacity = domain.check_capacity(changes.capacity) if changes.capacity is not None else None
        meeting_url = domain.check_meeting_url(changes.meeting_url) if changes.meeting_url is not UNSET else UNSET
        _guard_published(setup, force)
        breakout.slot_id = slot_id or breakout.slot_id
        breakout.title = title or breakout.title
        breakout.theme = theme or breakout.theme
        breakout.capacity = capacity or breakout.capacity
        if meeting_url is not UNSET:
            breakout.meeting_url = meeting_url
        _apply_rules(session, event_id, breakout, changes.rules or {})
        session.flush()
        return breakout


def delete_breakout(db: Database, event_id: int, breakout_id: int, *, force: bool = False) -> None:
    with db.unit_of_work() as session:
        setup = lock_setup(session, event_id)
        breakout = _breakout(session, event_id, breakout_id)
        _guard_published(setup, force)
        # Pairings with the deleted breakout go with it (a slot deleted later is explained by the timetable instead).
        for column in (Breakout.same_slot_as_id, Breakout.not_same_slot_as_id):
            session.execute(
                update(Breakout).where(Breakout.event_id == event_id, column == breakout.id).values({column.key: None})
            )
        session.delete(breakout)
