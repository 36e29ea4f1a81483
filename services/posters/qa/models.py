"""Tables of project Q&A and first project views (on posters' own metadata, so its migrations see them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.posters.adapters.orm import Base
from shared.events import utcnow


class QuestionRow(Base):
    __tablename__ = "project_questions"
    __table_args__ = (Index("ix_project_questions_project_asker", "project_id", "asker_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(Integer)
    asker_id: Mapped[int] = mapped_column(Integer)
    asker_name: Mapped[str] = mapped_column(String(200))
    # Hides the asker from other attendees and the author; organisers always see who asked.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    # Kept in step with question_votes in the same transaction, so the list needs no count query.
    upvotes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by: Mapped[int | None] = mapped_column(Integer, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuestionVote(Base):
    """One upvote per person and question: the primary key makes a repeated upvote a no-op."""

    __tablename__ = "question_votes"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("project_questions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProjectView(Base):
    """The first time a signed-in person opened a project; the key makes ProjectViewed go out once per pair."""

    __tablename__ = "project_views"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    viewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
