"""Projects of authors an organiser has not approved yet are hidden while the day requires approval.

They reuse the project's `hidden` flag, so the gallery, search, similar projects, files and Q&A all treat them like
a hidden project (404 to everyone but the owner and organisers), with a reason the owner can read. What marks a
hold rather than an organiser's own decision to hide: `hidden_by` is empty and the reason is AWAITING_APPROVAL.
An organiser's hide is never undone by an approval, and a hold is never mistaken for one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from services.posters.adapters.orm import ProjectRow
from services.posters.approval.models import ApprovedAuthor, AuthorApprovalSetting
from services.posters.domain.viewer import Viewer

AWAITING_APPROVAL = "waiting for an organiser to approve the author"


def approval_required(session: Session, event_id: int) -> bool:
    setting = session.get(AuthorApprovalSetting, event_id)
    return bool(setting and setting.required)


def is_approved(session: Session, event_id: int, user_id: int) -> bool:
    return session.get(ApprovedAuthor, (event_id, user_id)) is not None


def is_held(row: ProjectRow) -> bool:
    return bool(row.hidden) and row.hidden_by is None and row.hidden_reason == AWAITING_APPROVAL


def hold(row: ProjectRow) -> bool:
    """Hide the project until approval; False when it already is hidden (held, or hidden by an organiser)."""
    if row.hidden:
        return False
    row.hidden, row.hidden_reason, row.hidden_by, row.hidden_at = True, AWAITING_APPROVAL, None, datetime.now(UTC)
    return True


def release(row: ProjectRow) -> bool:
    if not is_held(row):
        return False
    row.hidden, row.hidden_reason, row.hidden_at = False, None, None
    return True


def hold_if_unapproved(session: Session, row: ProjectRow, viewer: Viewer) -> bool:
    """For a project just created by `viewer`: held when the day requires approval and they have none.
    Organisers' own projects are never held."""
    if viewer.is_organiser or not approval_required(session, row.event_id):
        return False
    if is_approved(session, row.event_id, row.owner_id):
        return False
    return hold(row)
