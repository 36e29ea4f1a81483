"""Facts other services announce that only the outcome report needs (copies from their events)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base


class PosterView(Base):
    """A person opened a project page (posters' ProjectViewed: once per person and project)."""

    __tablename__ = "outcome_poster_views"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    viewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HeldChat(Base):
    """A booked 1-1 chat in which both people wrote (the gateway's ChatHeld)."""

    __tablename__ = "outcome_held_chats"

    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    author_id: Mapped[int] = mapped_column(Integer)
    attendee_id: Mapped[int] = mapped_column(Integer)
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FollowUpNote(Base):
    """A follow-up action noted in a chat (the gateway's FollowUpActionNoted): who will do something."""

    __tablename__ = "outcome_followup_actions"

    action_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    owner_id: Mapped[int] = mapped_column(Integer)
    noted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SurveyResult(Base):
    """The latest follow-up survey answer of a person for a day (notify's SurveyAnswered)."""

    __tablename__ = "outcome_survey_answers"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    contacted_someone: Mapped[bool] = mapped_column(Boolean)
    adopted_something: Mapped[bool] = mapped_column(Boolean)
    blockers: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
