"""Per-person quotas, so that one self-registered author cannot fill the disk or the gallery: at most
MAX_PROJECTS_PER_USER projects (over all insight days) and MAX_STORAGE_MB_PER_USER of poster and video files that
are not rejected (a file being processed counts; a replacement counts until the old file is released).
Organisers are exempt: they are appointed, not self-registered. Checked inside the unit of work that writes, so a
refusal leaves nothing behind; the message names the limit."""

from __future__ import annotations

from sqlalchemy import false, func, select, text, update
from sqlalchemy.orm import Session

from services.posters.adapters.orm import PosterRow, ProjectRow
from services.posters.domain.files import UploadError
from services.posters.domain.poster import REJECTED
from services.posters.domain.viewer import Viewer
from shared.errors import ApiError

MiB = 1024 * 1024
_QUOTA_LOCK_CLASS = 7_410  # first key of the two-key advisory locks: one lock per owner (blob locks use one key)


def _serialise_owner(session: Session, owner_id: int) -> None:
    """Two uploads (or project creations) of one person at once must not both pass the check: they take turns.
    PostgreSQL: a transaction-scoped advisory lock per owner. SQLite: the database write lock (a no-op UPDATE takes
    it, as in blobs.lock_blobs), after which the counts read below are the newest."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:kind, :owner)"), {"kind": _QUOTA_LOCK_CLASS, "owner": owner_id}
        )
    elif dialect == "sqlite":
        table = ProjectRow.__table__
        session.execute(update(table).where(false()).values(owner_id=table.c.owner_id))


def size_text(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n / 1024:.1f} KiB"


def projects_of(session: Session, owner_id: int) -> int:
    return int(session.scalar(select(func.count(ProjectRow.id)).where(ProjectRow.owner_id == owner_id)) or 0)


def bytes_of(session: Session, owner_id: int) -> int:
    total = select(func.coalesce(func.sum(PosterRow.byte_size), 0)).where(
        PosterRow.owner_id == owner_id, PosterRow.status != REJECTED
    )
    return int(session.scalar(total) or 0)


def check_project_quota(session: Session, viewer: Viewer, max_projects: int | None) -> None:
    if max_projects is None or viewer.is_organiser:
        return
    _serialise_owner(session, viewer.user_id)
    if projects_of(session, viewer.user_id) >= max_projects:
        raise ApiError(
            403,
            "quota_exceeded",
            f"project quota reached: one person may create at most {max_projects} projects; "
            "delete one or ask an organiser",
        )


def check_storage_quota(session: Session, viewer: Viewer, owner_id: int, new_bytes: int, max_bytes: int) -> None:
    if viewer.is_organiser:
        return
    _serialise_owner(session, owner_id)
    used = bytes_of(session, owner_id)
    if used + new_bytes > max_bytes:
        raise UploadError(
            413,
            "quota_exceeded",
            f"storage quota reached: your files use {size_text(used)} of the {size_text(max_bytes)} one person "
            f"may store, and this file needs {size_text(new_bytes)}; delete a file first",
        )
