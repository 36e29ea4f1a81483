"""Per-person quotas, so that one self-registered author cannot fill the disk or the gallery: at most
MAX_PROJECTS_PER_USER projects (over all insight days) and MAX_STORAGE_MB_PER_USER of poster and video files that
are not rejected (a file being processed counts; a replacement counts until the old file is released).
Organisers are exempt: they are appointed, not self-registered. Checked inside the unit of work that writes, so a
refusal leaves nothing behind; the message names the limit."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.posters.adapters.orm import PosterRow, ProjectRow
from services.posters.domain.files import UploadError
from services.posters.domain.poster import REJECTED
from services.posters.domain.viewer import Viewer
from shared.errors import ApiError

MiB = 1024 * 1024


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
    used = bytes_of(session, owner_id)
    if used + new_bytes > max_bytes:
        raise UploadError(
            413,
            "quota_exceeded",
            f"storage quota reached: your files use {size_text(used)} of the {size_text(max_bytes)} one person "
            f"may store, and this file needs {size_text(new_bytes)}; delete a file first",
        )
