"""Table of each person's notification preferences (a row only once they chose something)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.adapters.orm import Base
from services.notify.preferences.domain import DEFAULT_DIGEST_HOUR
from shared.events import utcnow


class NotificationSettings(Base):
    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # {category: {"in_app": bool, "email": "now"|"daily"|"off"}}; a missing category means all on.
    channels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Minutes before a chat/breakout/coffee; NULL: the defaults (1 day, 15 min); []: no reminders.
    reminder_offsets: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True), default=None, nullable=True)
    digest_hour: Mapped[int] = mapped_column(Integer, default=DEFAULT_DIGEST_HOUR)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DailyDigest(Base):
    """One bundle mail per person and local day: its key makes a second run of the digest task a no-op."""

    __tablename__ = "daily_digests"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # the person's local date, YYYY-MM-DD
    notification_id: Mapped[int | None] = mapped_column(Integer, default=None)
    bundled: Mapped[int] = mapped_column(Integer, default=0)  # how many held mails went into it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
