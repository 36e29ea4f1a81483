"""Use cases of author approval: the organiser switch per insight day, approving and un-approving an author.
Every project whose visibility changes is announced (ProjectUpdated with a new revision), like a hide/unhide."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.posters.adapters.orm import KnownEvent, Outbox, ProjectRow
from services.posters.approval.hold import approval_required, hold, is_approved, is_held, release
from services.posters.approval.models import ApprovedAuthor, AuthorApprovalSetting
from services.posters.domain.viewer import Viewer
from services.posters.service import Forbidden, NotFound, bump_search_version, next_revision, project_updated
from shared import outbox
from shared.db import Database
from shared.events import utcnow


@dataclass(frozen=True)
class Author:
    user_id: int
    name: str
    approved_at: datetime | None
    held_projects: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class Overview:
    required: bool
    authors: list[Author]


def _organiser_of(session: Session, viewer: Viewer, event_id: int) -> None:
    if not viewer.is_organiser:
        raise Forbidden("only organisers decide which authors are approved")
    if session.get(KnownEvent, event_id) is None:
        raise NotFound("event")


def _apply(session: Session, rows: list[ProjectRow], change: Callable[[ProjectRow], bool]) -> int:
    changed = 0
    for row in rows:
        if change(row):
            next_revision(row)
            outbox.record(session, Outbox, project_updated(row))
            changed += 1
    if changed:
        bump_search_version(session, rows[0].event_id)
    return changed


def _projects(session: Session, event_id: int, owner_id: int | None = None) -> list[ProjectRow]:
    query = select(ProjectRow).where(ProjectRow.event_id == event_id).order_by(ProjectRow.id).with_for_update()
    if owner_id is not None:
        query = query.where(ProjectRow.owner_id == owner_id)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def set_required(db: Database, viewer: Viewer, event_id: int, required: bool) -> int:
    """Switch the rule; returns how many projects were hidden (on) or shown again (off). Switching it on holds the
    existing projects of every author not approved yet, except the switching organiser's own (posters does not
    know who else is an organiser: another organiser's projects wait for one click of approval)."""
    with db.unit_of_work() as session:
        _organiser_of(session, viewer, event_id)
        setting = session.get(AuthorApprovalSetting, event_id)
        if setting is None:
            setting = AuthorApprovalSetting(event_id=event_id, required=required, changed_by=viewer.user_id)
            session.add(setting)
        setting.required, setting.changed_by, setting.changed_at = required, viewer.user_id, utcnow()
        rows = _projects(session, event_id)
        if not required:
            return _apply(session, rows, release)
        pending = [r for r in rows if r.owner_id != viewer.user_id and not is_approved(session, event_id, r.owner_id)]
        return _apply(session, pending, hold)


def set_approved(db: Database, viewer: Viewer, event_id: int, user_id: int, approved: bool) -> int:
    """Approve an author (their held projects are shown) or take the approval back (hidden again while the day
    requires approval). Returns how many projects changed."""
    with db.unit_of_work() as session:
        _organiser_of(session, viewer, event_id)
        existing = session.get(ApprovedAuthor, (event_id, user_id))
        if approved and existing is None:
            session.add(ApprovedAuthor(event_id=event_id, user_id=user_id, approved_by=viewer.user_id))
        elif not approved and existing is not None:
            session.delete(existing)
        rows = _projects(session, event_id, user_id)
        if approved:
            return _apply(session, rows, release)
        return _apply(session, rows, hold) if approval_required(session, event_id) else 0


def overview(db: Database, viewer: Viewer, event_id: int) -> Overview:
    """The switch, and every author of the day with their approval and the projects still held."""
    with db.unit_of_work() as session:
        _organiser_of(session, viewer, event_id)
        approved = {
            a.user_id: a.approved_at
            for a in session.scalars(select(ApprovedAuthor).where(ApprovedAuthor.event_id == event_id))
        }
        authors: dict[int, Author] = {}
        for row in session.scalars(select(ProjectRow).where(ProjectRow.event_id == event_id).order_by(ProjectRow.id)):
            author = authors.setdefault(row.owner_id, Author(row.owner_id, row.owner_name, approved.get(row.owner_id)))
            if is_held(row):
                author.held_projects.append({"id": row.id, "title": row.title})
        for user_id, approved_at in approved.items():
            authors.setdefault(user_id, Author(user_id, "", approved_at))
        return Overview(approval_required(session, event_id), sorted(authors.values(), key=lambda a: a.user_id))
