"""One row per insight day whose end was handled: its primary key makes the announcement happen once, whichever
beat or worker gets there first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from shared.events import utcnow


class DayEndAnnouncement(Base):
    __tablename__ = "day_end_announcements"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("insight_days.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # True when the day had ended long before this feature first saw it (e.g. on the first deployment):
    # marked handled without an EventEnded, so nobody gets a digest months late.
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    attendees: Mapped[int] = mapped_column(Integer, default=0)
    announced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
