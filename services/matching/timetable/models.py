"""Tables of timetable runs (inputs digest, progress with the best clash-free share so far, the placement and its
figures) and of breakouts locked to a slot by the organiser."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from services.matching.runs import RunRowMixin
from shared.events import utcnow


class TimetableRun(RunRowMixin, Base):
    __tablename__ = "timetable_runs"

    stage: Mapped[str] = mapped_column(String(80), default="queued")
    best_share: Mapped[float | None] = mapped_column(Float, default=None)  # best clash-free share found so far
    top_k: Mapped[int] = mapped_column(Integer, default=3)
    time_limit: Mapped[float] = mapped_column(Float, default=30.0)
    # What the run was computed from, per part (slots, breakouts, registrations, locks): applying a run whose
    # inputs changed since is refused with what changed, so a timetable never silently ignores a late change.
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    placement: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # str(breakout id) -> slot id
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class TimetableLock(Base):
    """The organiser keeps this breakout in this slot in every later run. `slot_id` is deliberately not a foreign
    key: a lock to a slot deleted since stays, and the next run explains it instead of silently dropping it."""

    __tablename__ = "timetable_locks"
    __table_args__ = (UniqueConstraint("event_id", "breakout_id", name="uq_timetable_locks_breakout"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    breakout_id: Mapped[int] = mapped_column(ForeignKey("breakouts.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
