"""Tables of author chat slots. The rules that must hold under any concurrency are unique keys, checked by the
database on SQLite and Postgres alike:

- one active booking per slot: `chat_bookings.active_slot_id` is unique; it is the slot id while the booking
  stands and NULL once cancelled (NULLs never collide);
- nobody in two chats at once: `chat_cells` has one row per (person, 5-minute cell) a person is busy in, keyed by
  both; an author's open slot and an attendee's booking insert their cells in their own transaction;
- at most CHAT_SLOTS_PER_AUTHOR open slots per author per insight day: each open slot holds a `quota_seat`
  number, unique per (author, day), NULL once cancelled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from shared.events import utcnow


class ChatSlot(Base):
    __tablename__ = "chat_slots"
    __table_args__ = (UniqueConstraint("author_id", "event_id", "quota_seat", name="uq_chat_slots_author_seat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, index=True)
    event_id: Mapped[int] = mapped_column(Integer, index=True)  # the insight day
    author_id: Mapped[int] = mapped_column(Integer, index=True)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    minutes: Mapped[int] = mapped_column(Integer)
    quota_seat: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # +1 on every change of the slot or its booking; every change starts by bumping it with a guarded UPDATE, so
    # changes of one slot take turns and its events carry increasing revisions.
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatBooking(Base):
    __tablename__ = "chat_bookings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("chat_slots.id"), index=True)
    active_slot_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    attendee_id: Mapped[int] = mapped_column(Integer, index=True)
    attendee_name: Mapped[str] = mapped_column(String(200), default="")
    room_id: Mapped[str] = mapped_column(String(64), unique=True)
    from_waitlist: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ChatCell(Base):
    """A person is busy in this 5-minute cell (see domain.py): because of an open slot they author (booking_id
    NULL) or a booking they hold."""

    __tablename__ = "chat_cells"

    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cell: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    slot_id: Mapped[int] = mapped_column(ForeignKey("chat_slots.id"), index=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("chat_bookings.id"), nullable=True, index=True)


class ChatWaitlistEntry(Base):
    __tablename__ = "chat_waitlist"
    __table_args__ = (UniqueConstraint("slot_id", "person_id", name="uq_chat_waitlist_slot_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # order of joining
    slot_id: Mapped[int] = mapped_column(ForeignKey("chat_slots.id"), index=True)
    person_id: Mapped[int] = mapped_column(Integer, index=True)
    person_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
