"""Tables of a day's set-up: its markers (thesaurus revision, registration deadline, publication), the thesaurus,
slots and breakouts. Times are stored in UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from shared.events import utcnow


class DaySetup(Base):
    """One row per insight day that has been set up; locked by every set-up change of the day (see service)."""

    __tablename__ = "day_setups"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("insight_days.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # The thesaurus' own revision (+1 per change); ThesaurusUpdated carries it.
    thesaurus_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Attendees may change their registration until then (None: until the day ends).
    registration_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Set by the assignment feature when it publishes a schedule; slot/breakout changes after that need ?force=1
    # and set needs_rerun, which the next published run clears.
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    needs_rerun: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ThesaurusTheme(Base):
    """A theme of a day's thesaurus; `key` is its name folded (case, spacing) for lookups."""

    __tablename__ = "thesaurus_themes"
    __table_args__ = (UniqueConstraint("event_id", "key", name="uq_thesaurus_themes_event_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)


class Slot(Base):
    __tablename__ = "slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20))
    rooms: Mapped[int | None] = mapped_column(Integer, default=None)  # breakouts it can hold at once (None: no limit)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Breakout(Base):
    __tablename__ = "breakouts"
    __table_args__ = (CheckConstraint("capacity >= 1", name="ck_breakouts_capacity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    # None until a slot is chosen by hand or by an applied timetable run (services/matching/timetable).
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id"), index=True, default=None)
    title: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(String(100))  # a theme's name from the day's thesaurus
    capacity: Mapped[int] = mapped_column(Integer)
    meeting_url: Mapped[str | None] = mapped_column(String(500), default=None)
    # Timetabling constraints. Plain ids, not foreign keys: a reference to a slot or breakout deleted since stays
    # visible, and the timetable pre-check says so in words instead of it vanishing.
    not_before_slot_id: Mapped[int | None] = mapped_column(Integer, default=None)
    not_after_slot_id: Mapped[int | None] = mapped_column(Integer, default=None)
    same_slot_as_id: Mapped[int | None] = mapped_column(Integer, default=None)  # a breakout of the same day
    not_same_slot_as_id: Mapped[int | None] = mapped_column(Integer, default=None)
    presenter: Mapped[str | None] = mapped_column(String(200), default=None)  # cannot be in two places at once
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
