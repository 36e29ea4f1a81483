"""Tables of the 1-1 chat rooms the gateway owns: rooms, messages, read markers, mutes, follow-up actions, AMAs.

The rules that must hold under concurrency (two gateway processes, retries) are unique keys:
- a message is stored once per (room, sender, client id): a client re-sending after a reconnect gets the same row;
- one ask-me-anything room per (project, attendee), so an AMA stays 1-1;
- `held_at` is set by a conditional UPDATE, so ChatHeld is recorded once per room.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.adapters.orm import Base
from shared.events import utcnow


class ChatRoomRow(Base):
    __tablename__ = "chat_rooms"
    __table_args__ = (
        UniqueConstraint("ama_project_id", "attendee_id", name="uq_chat_rooms_ama_attendee"),
        Index("ix_chat_rooms_author", "author_id"),
        Index("ix_chat_rooms_attendee", "attendee_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # matching's random room id, or "ama-..."
    kind: Mapped[str] = mapped_column(String(10))  # "booked" | "ama"
    status: Mapped[str] = mapped_column(String(12), default="open")  # "open" | "cancelled" | "closed"
    event_id: Mapped[int | None] = mapped_column(Integer, default=None)
    slot_id: Mapped[int | None] = mapped_column(Integer, default=None)
    project_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # Only set on AMA rooms: NULL never collides, so booked rooms are not bound by the AMA unique key.
    ama_project_id: Mapped[int | None] = mapped_column(Integer, default=None)
    author_id: Mapped[int] = mapped_column(Integer)
    attendee_id: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    revision: Mapped[int | None] = mapped_column(Integer, default=None)
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatMessageRow(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("room_id", "sender_id", "client_id", name="uq_chat_messages_client_id"),
        Index("ix_chat_messages_room_id_id", "room_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # the server id, increasing
    room_id: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatReadMarkerRow(Base):
    """The last message a user has seen in a room; unread = later messages from others."""

    __tablename__ = "chat_read_markers"

    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_read_id: Mapped[int] = mapped_column(Integer, default=0)


class ChatMuteRow(Base):
    __tablename__ = "chat_mutes"

    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    muted_by: Mapped[int] = mapped_column(Integer)
    muted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FollowUpActionRow(Base):
    __tablename__ = "chat_follow_up_actions"
    __table_args__ = (Index("ix_chat_follow_up_actions_room", "room_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(Integer)
    noted_by: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))
    due_on: Mapped[date | None] = mapped_column(Date, default=None)
    noted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AmaSessionRow(Base):
    """An author's "ask me anything" on one of their projects; attendees each get their own 1-1 room in it."""

    __tablename__ = "chat_ama_sessions"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int | None] = mapped_column(Integer, default=None)
    project_title: Mapped[str] = mapped_column(String(300), default="")
    open: Mapped[bool] = mapped_column(default=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
