"""Tables of profiles (a value and a visibility per field), the log of consent changes, and contact requests.

One profile per person (`user_id` as in matching's copy of people, `people`); a person without a row has the
default profile (organisation and region from the copy of people, shown to everyone at their events). Contact
requests are one per pair of people, whichever asked: `person_low`/`person_high` (the two ids in order) are
unique, so two people asking each other at the same moment get one request, not two."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from shared.events import utcnow

_VISIBILITY = "IN ('everyone', 'organisers', 'nobody')"
_FIELDS = ("role", "organisation", "region", "tools", "interests", "projects", "bio")


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = tuple(
        CheckConstraint(f"{name}_visibility {_VISIBILITY}", name=f"ck_profiles_{name}_visibility") for name in _FIELDS
    )

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(100), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(120), default="")
    tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    projects: Mapped[list[str]] = mapped_column(JSON, default=list)
    bio: Mapped[str] = mapped_column(Text, default="")
    role_visibility: Mapped[str] = mapped_column(String(10), default="nobody")
    organisation_visibility: Mapped[str] = mapped_column(String(10), default="everyone")
    region_visibility: Mapped[str] = mapped_column(String(10), default="everyone")
    tools_visibility: Mapped[str] = mapped_column(String(10), default="nobody")
    interests_visibility: Mapped[str] = mapped_column(String(10), default="nobody")
    projects_visibility: Mapped[str] = mapped_column(String(10), default="nobody")
    bio_visibility: Mapped[str] = mapped_column(String(10), default="nobody")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ConsentChange(Base):
    """Every change of a field's visibility, kept so a person (or a data protection officer) can see when they
    allowed or withdrew what."""

    __tablename__ = "profile_consent_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    field: Mapped[str] = mapped_column(String(20))
    visibility: Mapped[str] = mapped_column(String(10))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ContactRequest(Base):
    __tablename__ = "contact_requests"
    __table_args__ = (
        UniqueConstraint("person_low", "person_high", name="uq_contact_requests_pair"),
        CheckConstraint("status IN ('pending', 'accepted', 'declined')", name="ck_contact_requests_status"),
        CheckConstraint("requester_id <> recipient_id", name="ck_contact_requests_not_self"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[int] = mapped_column(Integer, index=True)
    recipient_id: Mapped[int] = mapped_column(Integer, index=True)
    person_low: Mapped[int] = mapped_column(Integer)
    person_high: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
