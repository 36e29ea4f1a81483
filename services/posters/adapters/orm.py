"""SQLAlchemy 2.0 typed mappings of the posters service's own tables.

The full-text index tables (`project_fts*`) are not mapped here: their shape depends on the database
(SQLite FTS5 virtual table or a Postgres tsvector table), so the migration creates them and
`adapters.search` owns them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.events import utcnow
from shared.orm import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    # The full-text tables are made by the migration, not mapped: autogenerate must leave them alone.
    metadata = MetaData(info={"unmanaged_table_prefixes": ("project_fts",)})


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(InboxMixin, Base):
    pass


class KnownEvent(Base):
    """Our copy of an insight day announced by matching (never read from matching's tables)."""

    __tablename__ = "known_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    # The event's theme thesaurus when matching has announced one; empty means themes are free labels.
    thesaurus: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Bumped whenever a searchable project of this event changes: the similarity cache key.
    search_version: Mapped[int] = mapped_column(Integer, default=0)
    # Revisions of the last EventCreated/EventUpdated and of the last ThesaurusUpdated applied (two counters
    # at matching): an older snapshot arriving late (a retried message) is skipped.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    thesaurus_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ProjectIdIssued(Base):
    """SQLite only: project ids that are never handed out twice. SQLite's INTEGER PRIMARY KEY takes max(id) + 1,
    so deleting the newest project would give its id to the next one, and matching keeps a tombstone of every
    deleted project at its last revision (it would ignore the newcomer). AUTOINCREMENT remembers the highest id
    ever issued; rows are deleted right away. Postgres's sequence never reuses an id, so it is not used there."""

    __tablename__ = "project_ids"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("known_events.id"), index=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_key: Mapped[str] = mapped_column(String(200), index=True)
    region: Mapped[str] = mapped_column(String(100))
    region_key: Mapped[str] = mapped_column(String(100), index=True)
    learning_1: Mapped[str] = mapped_column(Text)
    learning_2: Mapped[str] = mapped_column(Text)
    learning_3: Mapped[str] = mapped_column(Text)
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    video_url: Mapped[str | None] = mapped_column(String(500), default=None)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    hidden_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    hidden_by: Mapped[int | None] = mapped_column(Integer, default=None)
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # +1 on every announced change (ProjectPublished is 1); the events carry it so copies apply only newer ones.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    themes: Mapped[list[ProjectTheme]] = relationship(
        cascade="all, delete-orphan", order_by="ProjectTheme.position", lazy="selectin"
    )
    tools: Mapped[list[ProjectTool]] = relationship(
        cascade="all, delete-orphan", order_by="ProjectTool.position", lazy="selectin"
    )

    @property
    def learnings(self) -> list[str]:
        return [self.learning_1, self.learning_2, self.learning_3]


class ProjectTheme(Base):
    __tablename__ = "project_themes"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)  # casefolded, for filters
    label: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)


class ProjectTool(Base):
    __tablename__ = "project_tools"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    label: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)


class PosterRow(Base):
    """One uploaded file of a project: a poster (PDF or image) or the project's short video."""

    __tablename__ = "posters"
    # The gallery's "first ready poster of each project" lookup; without it SQLite scans every ready poster.
    __table_args__ = (Index("ix_posters_project_status_position", "project_id", "status", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # pdf | png | jpeg | webp | mp4 | webm
    media: Mapped[str] = mapped_column(String(10))  # poster | video
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), index=True)  # processing | ready | rejected
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    file_name: Mapped[str] = mapped_column(String(255))  # shown to people only; never used as a path
    byte_size: Mapped[int] = mapped_column(Integer)
    blob_sha: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    thumbnail_sha: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)  # videos, once processed
    text: Mapped[str] = mapped_column(Text, default="")
    replaces_id: Mapped[int | None] = mapped_column(Integer, default=None)  # poster this upload will replace
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    pages: Mapped[list[PosterPage]] = relationship(
        cascade="all, delete-orphan", order_by="PosterPage.number", lazy="selectin"
    )


class PosterPage(Base):
    __tablename__ = "poster_pages"

    poster_id: Mapped[int] = mapped_column(ForeignKey("posters.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1-based
    sha: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
