"""Tables of assignment runs: each run's inputs digest, progress, result and quality; organisers' locks; and the
published placements that attendees' schedules read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from services.matching.runs import RunRowMixin
from shared.events import utcnow


class AssignmentRun(RunRowMixin, Base):
    __tablename__ = "assignment_runs"

    stage: Mapped[str] = mapped_column(String(40), default="queued")
    org_share: Mapped[float] = mapped_column(Float, default=0.3)
    org_weight: Mapped[float] = mapped_column(Float, default=0.0)
    # What the run was computed from (slots, breakouts, registrations, locks): publishing a run whose inputs have
    # changed since is refused, so a schedule never silently ignores a late change.
    inputs_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    assignment: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # user id -> breakout id per slot
    objective: Mapped[float | None] = mapped_column(Float, default=None)
    bound: Mapped[float | None] = mapped_column(Float, default=None)
    bound_method: Mapped[str | None] = mapped_column(String(200), default=None)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AssignmentLock(Base):
    """An organiser placed this person in this breakout by hand; every later run keeps it."""

    __tablename__ = "assignment_locks"
    __table_args__ = (UniqueConstraint("event_id", "user_id", "slot_id", name="uq_assignment_locks_person_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"))
    breakout_id: Mapped[int] = mapped_column(ForeignKey("breakouts.id", ondelete="CASCADE"))
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Placement(Base):
    """A published place: what attendees' schedules show until the next publication replaces it."""

    __tablename__ = "placements"
    __table_args__ = (UniqueConstraint("event_id", "user_id", "slot_id", name="uq_placements_person_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("assignment_runs.id"))
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    slot_id: Mapped[int] = mapped_column(Integer)
    breakout_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))
