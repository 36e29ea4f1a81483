"""Tables of the calendar feature.

`CalendarEntry` is notify's picture of what is in each person's day: one row per (user, kind, subject), kept up to
date from matching's events by the deliveries feature. Other features read it: the iCal feed, the reminders (which
start times to remind of; `status` cancelled means never), the digest ("people met": two people with an entry of the
same kind and subject_id met there).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.adapters.orm import Base
from shared.events import utcnow

CHAT, BREAKOUT, COFFEE = "chat", "breakout", "coffee"
KINDS = (CHAT, BREAKOUT, COFFEE)
ACTIVE, CANCELLED = "active", "cancelled"


class CalendarEntry(Base):
    __tablename__ = "calendar_entries"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "subject_id", name="uq_calendar_entries_user_kind_subject"),
        Index("ix_calendar_entries_status_starts_at", "status", "starts_at"),
        Index("ix_calendar_entries_kind_subject_id", "kind", "subject_id"),
        CheckConstraint("kind IN ('chat', 'breakout', 'coffee')", name="ck_calendar_entries_kind"),
        CheckConstraint("status IN ('active', 'cancelled')", name="ck_calendar_entries_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(10))  # chat | breakout | coffee
    # chat: the room id; breakout: the breakout id; coffee: the coffee group id (as text)
    subject_id: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[int] = mapped_column(Integer, index=True)  # the insight day
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # UTC
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # UTC
    timezone: Mapped[str] = mapped_column(String(64))  # the day's IANA zone, to show the times in
    join_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    status: Mapped[str] = mapped_column(String(10), default=ACTIVE, server_default=ACTIVE)
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # +1 on every change (iCal)
    # The source's own ordering (a chat slot's revision, a publication's time as an integer): an older event
    # arriving late changes nothing.
    source_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Who else is in it (the author or attendee of a chat, the coffee partners), for texts and "people met".
    with_user_ids: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def with_users(self) -> list[int]:
        return [int(part) for part in self.with_user_ids.split(",") if part]


class CalendarToken(Base):
    """The secret of a person's subscribable feed URL, stored hashed (SHA-256: the token is 256 random bits, so a
    slow hash buys nothing). One per person; creating a new one replaces the old, revoking deletes it."""

    __tablename__ = "calendar_tokens"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
