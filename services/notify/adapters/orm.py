"""SQLAlchemy 2.0 typed mappings of the notify service's own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.events import utcnow
from shared.orm import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(InboxMixin, Base):
    pass


class Recipient(Base):
    """Who we can notify: a copy taken from `UserRegistered` (we never read the gateway's tables)."""

    __tablename__ = "recipients"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"
    # One source event gives at most one notification per user, whatever the redeliveries.
    # A notification made by `outgoing.notify` has a deterministic key instead (user, kind, subject, version):
    # making it again is a no-op, whatever the redeliveries. NULLs never clash, so each row uses one of the two.
    __table_args__ = (
        UniqueConstraint("source_event_id", "user_id", name="uq_notifications_source_user"),
        UniqueConstraint("user_id", "kind", "subject_key", "version", name="uq_notifications_key"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    source_event_id: Mapped[str | None] = mapped_column(String(64), default=None)
    category: Mapped[str] = mapped_column(String(20), default="", server_default="")
    subject_key: Mapped[str | None] = mapped_column(String(200), default=None)
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    # False when the person switched in-app off for the category: the row stays as the record of the key.
    in_app: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Email(Base):
    """An email to send. `lease_until` marks the row as someone's until then: a worker sending it, the
    consumer about to enqueue it, or a scheduled retry; the sweep only picks rows whose lease has run out."""

    __tablename__ = "emails"
    __table_args__ = (Index("ix_emails_status_lease_until", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), unique=True, default=None
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # queued|sending|sent|failed|uncertain|held (held: waits for the person's daily digest)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    message_id: Mapped[str | None] = mapped_column(String(300), default=None)
    user_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    category: Mapped[str] = mapped_column(String(20), default="", server_default="")
    html_body: Mapped[str | None] = mapped_column(Text, default=None)
    ics: Mapped[str | None] = mapped_column(Text, default=None)  # a whole VCALENDAR (with its METHOD)
    # Where the current attempt got to, committed before each step: "connecting" (nothing handed over yet:
    # safe to send again) or "data" (the server may have the mail: never sent again automatically).
    phase: Mapped[str | None] = mapped_column(String(12), default=None)
    phase_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class KnownEvent(Base):
    """A copy of an insight day from matching's EventCreated/EventUpdated, for reminders and calendars."""

    __tablename__ = "known_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    # Revision of the last snapshot applied: an older one arriving late (a retried message) is skipped.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


from services.notify.features import FEATURES  # noqa: E402 - after Base, which the feature models use

FEATURES.import_models()
