"""Tables of author approval (on posters' own metadata, so its migrations see them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer
from sqlalchemy.orm import Mapped, mapped_column

from services.posters.adapters.orm import Base
from shared.events import utcnow


class AuthorApprovalSetting(Base):
    """Present (required=True) when an organiser switched "authors need approval" on for this insight day."""

    __tablename__ = "author_approval_settings"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApprovedAuthor(Base):
    __tablename__ = "approved_authors"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    approved_by: Mapped[int] = mapped_column(Integer)
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
