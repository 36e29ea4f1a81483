"""SQLAlchemy 2.0 typed mappings of the matching service's own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.events import utcnow
from shared.orm import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(InboxMixin, Base):
    pass


class InsightDayRow(Base):
    __tablename__ = "insight_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    organiser_id: Mapped[int] = mapped_column(Integer, index=True)
    # +1 on every change; the EventCreated/EventUpdated snapshot carries it so copies apply only newer ones.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ProjectCopy(Base):
    """What matching needs of posters' projects (who authors what, on which themes), kept from their events.
    Author chat slots and themed breakouts use it; matching never reads the posters database.

    `revision` is the revision of the last snapshot applied (older ones are skipped). A deleted project stays as
    a tombstone (`deleted`, at the ProjectDeleted revision) so a late older snapshot cannot bring it back: every
    read must leave tombstones out (`service.project_copies` / `service.project_copy`)."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(300))
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # The project's text (summary, top learnings), for spin-off suggestions; empty for copies kept before.
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    learnings: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


# Each feature's tables live beside its code (services/matching/<feature>/models.py) on this same Base.
from services.matching.features import import_models  # noqa: E402 - after Base, which the feature models use

import_models()
