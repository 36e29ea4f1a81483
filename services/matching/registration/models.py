"""Tables of registrations: who registered for which day with which ranked themes, and the copy of people (from the
gateway's UserRegistered) that lets an organiser import registrations by e-mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from shared.events import utcnow


class PersonCopy(Base):
    """What matching knows of a person: kept from UserRegistered and refreshed from the caller's signed identity.
    Matching never reads the gateway's tables. One copy for every matching feature that needs people."""

    __tablename__ = "people"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(254), index=True)  # lower case, as the gateway stores it
    display_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Registration(Base):
    """An attendee's registration for a day: 1 to 5 themes in rank order (names from the day's thesaurus), tools
    and interests. One per person and day: registering again replaces it."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_registrations_event_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(10), default="form")  # "form" or "import"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
