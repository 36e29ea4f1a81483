"""Use cases of author chat slots: open, list, book, cancel, wait. One unit of work each, events in the outbox.

Who may hold what is decided by the database's unique keys (models.py): a losing insert raises IntegrityError,
which becomes a Conflict naming what was lost. Every change of an existing slot or its booking starts with one
UPDATE of the slot row (`revision + 1`): it makes changes of one slot take turns (Postgres row lock; SQLite's write
lock) and the state read after it is current, so "cancelled" or "has a booking" cannot change underneath.

Waitlist: when a booking is cancelled (by its attendee or by the author, not when the author withdraws the
slot), the earliest waiting person who is free at that time is booked in the same transaction and announced with
ChatSlotBooked like any booking; waiting people busy at that time stay on the list for the next time it frees up.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.matching import service as root
from services.matching.adapters.orm import InsightDayRow, Outbox, ProjectCopy
from services.matching.chat_slots import domain
from services.matching.chat_slots.models import ChatBooking, ChatCell, ChatSlot, ChatWaitlistEntry
from shared import outbox
from shared.db import Database
from shared.events import ChatSlotBooked, ChatSlotCancelled

NotFound = root.NotFound
TAKEN = "this chat slot was just taken"
OVERLAP = "you already have a chat at that time"


class NotYet(LookupError):
    """A project matching has not heard of (yet): posters announces a new project a moment after creating it."""


class Conflict(Exception):
    """A unique key said no (or the state of the slot did): 409 unless `status` says otherwise."""

    def __init__(self, code: str, message: str, field: str | None = "slot", status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    organiser: bool = False


@dataclass(frozen=True)
class SlotView:
    slot: ChatSlot
    booking: ChatBooking | None
    waiting: int  # people on the waitlist
    my_position: int | None  # the viewer's place on it (1 = next), None if not on it


@dataclass(frozen=True)
class ProjectSlots:
    project: ProjectCopy
    day: InsightDayRow | None
    slots: list[SlotView]


@dataclass(frozen=True)
class BookingView:
    booking: ChatBooking
    slot: ChatSlot
    project_title: str
    timezone: str
    as_author: bool


# --- opening and withdrawing slots -------------------------------------------------------------------------------
def create_slot(
    db: Database, project_id: int, author: Person, starts_at: datetime, minutes: int, now: datetime, cap: int
) -> ChatSlot:
    """Open a slot on the author's project. Overlap with the author's other slots (or chats they booked) is the
    cells' unique key's to refuse; the per-day cap is the seat number's."""
    for _attempt in range(3):
        cells: list[int] = []
        try:
            with db.unit_of_work() as session:
                project = _project(session, project_id, author)
                if project.owner_id != author.id:
                    raise Conflict("forbidden", "only the project's author can open chat slots on it", None, 403)
                day = session.get(InsightDayRow, project.event_id)
                if day is None:
                    raise NotFound(f"insight day {project.event_id}")
                times = domain.plan_slot(starts_at, minutes, day.starts_at, day.ends_at, now)
                cells = times.cells
                seat = domain.free_seat(_seats(session, author.id, day.id), cap)
                if seat is None:
                    raise Conflict(
                        "too_many_slots", f"you already have {cap} open chat slots on this insight day", "starts_at"
                    )
                slot = ChatSlot(
                    project_id=project.id,
                    event_id=day.id,
                    author_id=author.id,
                    author_name=author.name,
                    starts_at=times.starts_at,
                    ends_at=times.ends_at,
                    minutes=times.minutes,
                    quota_seat=seat,  # unique per (author, day): two slots cannot take the last seat together
                    revision=1,
                )
                session.add(slot)
                session.flush()
                # unique (person, cell): a slot overlapping the author's other slots or booked chats fails here
                session.add_all(ChatCell(person_id=author.id, cell=c, slot_id=slot.id) for c in cells)
                session.flush()
                return slot
        except IntegrityError:
            if _busy(db, author.id, cells):
                raise Conflict(
                    "overlap", "you already have a chat slot or a booked chat at that time", "starts_at"
                ) from None
            # else another slot took the same seat at the same moment: count again
    raise Conflict("busy", "too many changes at once; try again", "starts_at")


def cancel_slot(db: Database, slot_id: int, by: Person, now: datetime) -> None:
    """The author withdraws a slot: its booking is cancelled (announced), its waitlist and cells released."""
    with db.unit_of_work() as session:
        slot = _lock(session, slot_id)
        if slot.author_id != by.id:
            raise Conflict("forbidden", "only the slot's author can cancel it", None, 403)
        try:
            domain.check_changeable(_state(slot), now)
        except domain.Refused as exc:
            raise Conflict(exc.code, exc.message, "slot", exc.status) from None
        slot.cancelled_at = now
        slot.quota_seat = None
        booking = _active_booking(session, slot.id)
        if booking is not None:
            _end_booking(session, slot, booking, "slot_cancelled", now)
        session.execute(delete(ChatCell).where(ChatCell.slot_id == slot.id))
        session.execute(delete(ChatWaitlistEntry).where(ChatWaitlistEntry.slot_id == slot.id))


# --- booking ---------------------------------------------------------------------------------------------------
def book(db: Database, slot_id: int, attendee: Person, now: datetime) -> ChatBooking:
    """Book the slot. Whether it is still free and whether the attendee is free then is decided by the unique
    keys at insert time: the loser of a race gets a Conflict, never a second booking."""
    try:
        with db.unit_of_work() as session:
            slot = _lock(session, slot_id)
            _visible(session, slot, attendee)
            _check_bookable(slot, attendee, now)
            booking = _insert_booking(session, slot, attendee, from_waitlist=False)
            session.execute(
                delete(ChatWaitlistEntry).where(
                    ChatWaitlistEntry.slot_id == slot.id, ChatWaitlistEntry.person_id == attendee.id
                )
            )
            return booking
    except IntegrityError:
        raise _lost(db, slot_id, attendee) from None


def cancel_booking(db: Database, slot_id: int, by: Person, now: datetime) -> ChatBooking | None:
    """The booker or the author cancels the booking; the slot goes to the first free person on the waitlist
    (returned), or is free again (None)."""
    with db.unit_of_work() as session:
        slot = _lock(session, slot_id)
        try:
            domain.check_changeable(_state(slot), now)
        except domain.Refused as exc:
            raise Conflict(exc.code, exc.message, "slot", exc.status) from None
        booking = _active_booking(session, slot.id)
        if booking is None or by.id not in (booking.attendee_id, slot.author_id):
            raise NotFound(f"booking of chat slot {slot_id}")  # someone else's booking is none of the caller's
        reason = "attendee_cancelled" if by.id == booking.attendee_id else "author_cancelled"
        _end_booking(session, slot, booking, reason, now)
        return _offer_to_waitlist(session, slot)


def _insert_booking(session: Session, slot: ChatSlot, attendee: Person, *, from_waitlist: bool) -> ChatBooking:
    booking = ChatBooking(
        slot_id=slot.id,
        active_slot_id=slot.id,  # unique: the second booking of a slot fails here
        attendee_id=attendee.id,
        attendee_name=attendee.name,
        room_id=secrets.token_urlsafe(16),
        from_waitlist=from_waitlist,
    )
    session.add(booking)
    session.flush()
    # unique (person, cell): a second chat of the same person at the same time fails here
    session.add_all(
        ChatCell(person_id=attendee.id, cell=c, slot_id=slot.id, booking_id=booking.id) for c in _cells(slot)
    )
    session.flush()
    outbox.record(
        session,
        Outbox,
        ChatSlotBooked(
            slot_id=slot.id,
            room_id=booking.room_id,
            project_id=slot.project_id,
            event_id=slot.event_id,
            author_id=slot.author_id,
            attendee_id=attendee.id,
            starts_at=domain.utc(slot.starts_at).isoformat(),
            ends_at=domain.utc(slot.ends_at).isoformat(),
            revision=slot.revision,
        ),
    )
    return booking


def _end_booking(session: Session, slot: ChatSlot, booking: ChatBooking, reason: str, now: datetime) -> None:
    booking.active_slot_id = None
    booking.cancelled_at = now
    booking.cancel_reason = reason
    session.execute(delete(ChatCell).where(ChatCell.booking_id == booking.id))
    session.flush()  # the slot's unique key is free before anyone else is booked in this transaction
    outbox.record(
        session,
        Outbox,
        ChatSlotCancelled(
            slot_id=slot.id,
            room_id=booking.room_id,
            author_id=slot.author_id,
            attendee_id=booking.attendee_id,
            starts_at=domain.utc(slot.starts_at).isoformat(),
            ends_at=domain.utc(slot.ends_at).isoformat(),
            reason=reason,
            project_id=slot.project_id,
            event_id=slot.event_id,
            revision=slot.revision,
        ),
    )


def _offer_to_waitlist(session: Session, slot: ChatSlot) -> ChatBooking | None:
    entries = session.scalars(
        select(ChatWaitlistEntry).where(ChatWaitlistEntry.slot_id == slot.id).order_by(ChatWaitlistEntry.id)
    ).all()
    for entry in entries:
        slot.revision += 1  # the booking is a change after the cancellation: its event carries the next revision
        try:
            with session.begin_nested():  # a savepoint: a busy waiter's cells roll back alone
                booking = _insert_booking(session, slot, Person(entry.person_id, entry.person_name), from_waitlist=True)
                session.delete(entry)
                session.flush()
        except IntegrityError:
            continue  # busy at that time: stays on the list
        return booking
    return None


# --- waitlist --------------------------------------------------------------------------------------------------
def join_waitlist(db: Database, slot_id: int, person: Person, now: datetime) -> int:
    """Wait for a taken slot; returns the place on the list (1 = next). Joining twice keeps the first place."""
    with db.unit_of_work() as session:
        slot = _lock(session, slot_id)
        _visible(session, slot, person)
        _check_bookable(slot, person, now)
        booking = _active_booking(session, slot.id)
        if booking is None:
            raise Conflict("free", "this chat slot is free: book it instead of waiting")
        if booking.attendee_id == person.id:
            raise Conflict("yours", "you already hold this chat slot")
        entry = session.scalars(
            select(ChatWaitlistEntry).where(
                ChatWaitlistEntry.slot_id == slot.id, ChatWaitlistEntry.person_id == person.id
            )
        ).one_or_none()
        if entry is None:
            entry = ChatWaitlistEntry(slot_id=slot.id, person_id=person.id, person_name=person.name)
            session.add(entry)
            session.flush()
        return _position(session, entry)


def leave_waitlist(db: Database, slot_id: int, person: Person) -> None:
    with db.unit_of_work() as session:
        gone = session.execute(
            delete(ChatWaitlistEntry).where(
                ChatWaitlistEntry.slot_id == slot_id, ChatWaitlistEntry.person_id == person.id
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"your place on the waitlist of chat slot {slot_id}")


# --- reading ---------------------------------------------------------------------------------------------------
def project_slots(db: Database, project_id: int, viewer: Person) -> ProjectSlots:
    """The project's slots that are not withdrawn, in time order, as the viewer may see them."""
    with db.unit_of_work() as session:
        if session.get(ProjectCopy, project_id) is None:  # a deleted one leaves a tombstone: that is NotFound
            raise NotYet(f"project {project_id}")
        project = _project(session, project_id, viewer)
        slots = session.scalars(
            select(ChatSlot)
            .where(ChatSlot.project_id == project.id, ChatSlot.cancelled_at.is_(None))
            .order_by(ChatSlot.starts_at, ChatSlot.id)
        ).all()
        return ProjectSlots(project, session.get(InsightDayRow, project.event_id), _views(session, slots, viewer))


def get_slot(db: Database, slot_id: int, viewer: Person) -> tuple[SlotView, InsightDayRow | None]:
    with db.unit_of_work() as session:
        slot = session.get(ChatSlot, slot_id)
        if slot is None:
            raise NotFound(f"chat slot {slot_id}")
        _visible(session, slot, viewer)
        return _views(session, [slot], viewer)[0], session.get(InsightDayRow, slot.event_id)


def my_bookings(db: Database, person_id: int) -> tuple[list[BookingView], list[tuple[SlotView, str, str]]]:
    """The person's standing bookings, as attendee and as author, in time order; and the slots they wait for
    (with the project's title and the day's timezone)."""
    with db.unit_of_work() as session:
        rows = session.execute(
            select(ChatBooking, ChatSlot)
            .join(ChatSlot, ChatBooking.active_slot_id == ChatSlot.id)
            .where((ChatBooking.attendee_id == person_id) | (ChatSlot.author_id == person_id))
            .order_by(ChatSlot.starts_at, ChatSlot.id)
        ).all()
        bookings = [
            BookingView(b, s, *_title_and_zone(session, s), as_author=s.author_id == person_id) for b, s in rows
        ]
        waited = session.scalars(
            select(ChatSlot)
            .join(ChatWaitlistEntry, ChatWaitlistEntry.slot_id == ChatSlot.id)
            .where(ChatWaitlistEntry.person_id == person_id, ChatSlot.cancelled_at.is_(None))
            .order_by(ChatSlot.starts_at, ChatSlot.id)
        ).all()
        viewer = Person(person_id, "")
        waiting = [(v, *_title_and_zone(session, v.slot)) for v in _views(session, waited, viewer)]
        return bookings, waiting


# --- helpers ---------------------------------------------------------------------------------------------------
def _lock(session: Session, slot_id: int) -> ChatSlot:
    """Bump the slot's revision (the turn-taking UPDATE, see the module's doc) and read it as it is now."""
    bumped = session.execute(
        update(ChatSlot).where(ChatSlot.id == slot_id).values(revision=ChatSlot.revision + 1),
        execution_options={"synchronize_session": False},
    )
    if not bumped.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"chat slot {slot_id}")
    slot = session.get(ChatSlot, slot_id, populate_existing=True)
    assert slot is not None
    return slot


def _state(slot: ChatSlot) -> domain.SlotState:
    return domain.SlotState(slot.author_id, slot.starts_at, slot.cancelled_at is not None)


def _check_bookable(slot: ChatSlot, person: Person, now: datetime) -> None:
    try:
        domain.check_bookable(_state(slot), person.id, now)
    except domain.Refused as exc:
        raise Conflict(exc.code, exc.message, "slot", exc.status) from None


def _project(session: Session, project_id: int, viewer: Person) -> ProjectCopy:
    project = root.project_copy(session, project_id)
    if project is None or (project.hidden and project.owner_id != viewer.id and not viewer.organiser):
        # A project reaches matching by event a moment after posters created it: a clear "not (yet)".
        raise NotFound(f"project {project_id}")
    return project


def _visible(session: Session, slot: ChatSlot, viewer: Person) -> None:
    _project(session, slot.project_id, viewer)


def _active_booking(session: Session, slot_id: int) -> ChatBooking | None:
    return session.scalars(select(ChatBooking).where(ChatBooking.active_slot_id == slot_id)).one_or_none()


def _position(session: Session, entry: ChatWaitlistEntry) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ChatWaitlistEntry)
            .where(ChatWaitlistEntry.slot_id == entry.slot_id, ChatWaitlistEntry.id <= entry.id)
        )
        or 0
    )


def _views(session: Session, slots: list[ChatSlot] | tuple[ChatSlot, ...], viewer: Person) -> list[SlotView]:
    ids = [s.id for s in slots]
    if not ids:
        return []
    bookings = {
        b.active_slot_id: b
        for b in session.scalars(select(ChatBooking).where(ChatBooking.active_slot_id.in_(ids))).all()
    }
    queue: dict[int, list[int]] = {}
    for slot_id, person_id in session.execute(
        select(ChatWaitlistEntry.slot_id, ChatWaitlistEntry.person_id)
        .where(ChatWaitlistEntry.slot_id.in_(ids))
        .order_by(ChatWaitlistEntry.id)
    ):
        queue.setdefault(slot_id, []).append(person_id)
    views = []
    for slot in slots:
        waiting = queue.get(slot.id, [])
        position = waiting.index(viewer.id) + 1 if viewer.id in waiting else None
        views.append(SlotView(slot, bookings.get(slot.id), len(waiting), position))
    return views


def _title_and_zone(session: Session, slot: ChatSlot) -> tuple[str, str]:
    project = session.get(ProjectCopy, slot.project_id)  # the title even if the project was deleted since
    day = session.get(InsightDayRow, slot.event_id)
    return (project.title if project else ""), (day.timezone if day else "UTC")


def _busy(db: Database, person_id: int, cells: list[int]) -> bool:
    with db.unit_of_work() as session:
        found = session.scalar(
            select(func.count()).select_from(ChatCell).where(ChatCell.person_id == person_id, ChatCell.cell.in_(cells))
        )
        return bool(found)


def _lost(db: Database, slot_id: int, attendee: Person) -> Conflict:
    """Which unique key a failed booking ran into (read after the winner committed): the slot's, or the
    attendee's own time."""
    with db.unit_of_work() as session:
        slot = session.get(ChatSlot, slot_id)
        taken = _active_booking(session, slot_id) is not None
    if not taken and slot is not None and _busy(db, attendee.id, _cells(slot)):
        return Conflict("overlap", OVERLAP)
    return Conflict("taken", TAKEN)


def _cells(slot: ChatSlot) -> list[int]:
    return domain.cells(domain.utc(slot.starts_at), domain.utc(slot.ends_at))


def _seats(session: Session, author_id: int, event_id: int) -> set[int]:
    return {
        seat
        for seat in session.scalars(
            select(ChatSlot.quota_seat).where(ChatSlot.author_id == author_id, ChatSlot.event_id == event_id)
        )
        if seat is not None
    }
