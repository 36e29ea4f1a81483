"""Tables of the follow-up feature: what notify keeps from other services' events to write digests, and the
digest fan-out, survey and action-reminder bookkeeping."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.adapters.orm import Base
from shared.events import utcnow


class EndedDay(Base):
    """An insight day that ended (from EventEnded): who took part, who allows contact, and the survey's date."""

    __tablename__ = "followup_days"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attendee_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    contactable_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    survey_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    survey_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DigestBatch(Base):
    """A slice of one day's attendees whose digests one task writes. The fan-out is many small tasks so several
    workers share it; a batch left pending (a lost enqueue, a killed worker) is sent again by the beat."""

    __tablename__ = "followup_digest_batches"
    __table_args__ = (Index("ix_followup_digest_batches_done_enqueued", "done", "enqueued_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    user_ids: Mapped[list[int]] = mapped_column(JSON)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProjectNote(Base):
    """A copy of a project (title, the authors' learnings) from ProjectPublished/Updated/Deleted. `revision`
    keeps a late older snapshot from overwriting a newer one; a deleted project stays as a tombstone."""

    __tablename__ = "followup_projects"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300), default="")
    learnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class ProjectView(Base):
    __tablename__ = "followup_project_views"
    __table_args__ = (
        UniqueConstraint("user_id", "project_id", name="uq_followup_project_views_user_project"),
        Index("ix_followup_project_views_event_user", "event_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int] = mapped_column(Integer)
    viewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HeldChat(Base):
    """A 1-1 chat that really took place (ChatHeld): its two people met."""

    __tablename__ = "followup_held_chats"

    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int | None] = mapped_column(Integer, index=True)
    project_id: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(Integer, index=True)
    attendee_id: Mapped[int] = mapped_column(Integer, index=True)
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FollowUpAction(Base):
    """A follow-up action noted in a chat; reminded to its owner until marked done."""

    __tablename__ = "followup_actions"
    __table_args__ = (Index("ix_followup_actions_open", "done_at", "last_reminded_at"),)

    action_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    room_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(Integer, index=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    other_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    text: Mapped[str] = mapped_column(Text)
    due_on: Mapped[str | None] = mapped_column(String(10), default=None)
    noted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AcceptedContact(Base):
    """Two people who accepted each other as contacts (ContactAccepted): they always see each other as met."""

    __tablename__ = "followup_contacts"

    person_low: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_high: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(Integer)
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SurveyAnswer(Base):
    """A person's answer to a day's follow-up survey (answering again replaces it)."""

    __tablename__ = "followup_survey_answers"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_followup_survey_answers_event_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    contacted_someone: Mapped[bool] = mapped_column(Boolean)
    adopted_something: Mapped[bool] = mapped_column(Boolean)
    blockers: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
