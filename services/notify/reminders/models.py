"""The table of reminders that fell due: the truth about what was (or will never be) sent.

A row is made once its time has come (the beat scan materialises it from CalendarEntry x the person's offsets),
keyed uniquely by (user, entry, offset, the entry's sequence): a second scan, a redelivered task or a worker killed
mid-way cannot make a second one, and a moved entry (new sequence) gets a new one while the old one is void.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.adapters.orm import Base
from shared.events import utcnow

PENDING, SENT, SKIPPED, VOID = "pending", "sent", "skipped", "void"
STATUSES = (PENDING, SENT, SKIPPED, VOID)


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("user_id", "entry_id", "offset_minutes", "sequence", name="uq_reminders_key"),
        Index("ix_reminders_status_due_at", "status", "due_at"),
        CheckConstraint("status IN ('pending', 'sent', 'skipped', 'void')", name="ck_reminders_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int] = mapped_column(Integer, index=True)  # calendar_entries.id (rows are never deleted)
    offset_minutes: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)  # the entry's sequence it was made for
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # pending: due, not yet handed to outgoing.notify; sent: handed (the notification and its email exist);
    # skipped: never to be sent (why in `reason`); void: the entry moved or was cancelled before the send.
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    reason: Mapped[str] = mapped_column(String(40), default="", server_default="")
    notification_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
