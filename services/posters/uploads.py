"""Use cases about poster files: accept an upload, process it (the Celery task's body), replace, reorder,
delete, and the organisers' list of failures."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.posters import quotas
from services.posters.adapters import processing
from services.posters.adapters.inspection import Rejected
from services.posters.adapters.orm import KnownEvent, Outbox, PosterPage, PosterRow, ProjectRow
from services.posters.adapters.search import SearchIndex
from services.posters.adapters.storage import BlobMissing, BlobStorage
from services.posters.blobs import blobs_of, lock_blobs, release_blobs, restore_missing
from services.posters.domain import files
from services.posters.domain.poster import MAX_ATTEMPTS, PROCESSING, READY, REJECTED, OrderError, can_view, check_order
from services.posters.domain.project import ProjectRuleError
from services.posters.domain.viewer import Viewer
from services.posters.service import Conflict, NotFound, get_project, owned_project, reindex
from services.posters.settings import Limits
from shared import outbox
from shared.db import Database
from shared.events import PosterReady, PosterRejected

log = logging.getLogger(__name__)
TASK_NAME = "posters.process_upload"


@dataclass(frozen=True)
class Upload:
    file_name: str | None
    data: bytes


# --- accepting an upload (in the request) ---------------------------------------------------------------
def _live_posters(session: Session, project_id: int) -> list[PosterRow]:
    return list(
        session.scalars(
            select(PosterRow)
            .where(PosterRow.project_id == project_id, PosterRow.status != REJECTED)
            .order_by(PosterRow.position, PosterRow.id)
        ).all()
    )


def check_may_upload(db: Database, viewer: Viewer, project_id: int) -> None:
    """Ownership first, before the body is even looked at: a stranger learns nothing about our file checks."""
    with db.unit_of_work() as session:
        owned_project(session, viewer, project_id)


def accept_upload(
    db: Database,
    storage: BlobStorage,
    limits: Limits,
    viewer: Viewer,
    project_id: int,
    upload: Upload,
    replaces_id: int | None = None,
) -> PosterRow:
    """Fast checks (name, size, magic bytes, limits), then store the blob and a `processing` row together."""
    name = files.check_file_name(upload.file_name)
    kind = files.classify(
        name,
        upload.data[: files.SNIFF_BYTES],
        len(upload.data),
        max_poster_bytes=limits.max_poster_bytes,
        max_video_bytes=limits.max_video_bytes,
    )
    sha: str | None = None
    try:
        with db.unit_of_work() as session:
            project = owned_project(session, viewer, project_id)
            position = _position_for(session, limits, project, kind, replaces_id)
            sha = storage.put(upload.data)
            lock_blobs(session, [sha])  # a concurrent release of the same bytes waits for our commit (blobs.py)
            # After the blob lock: on SQLite both take the write lock, and taking it before `put` made a release of
            # the same bytes wait on us while we waited on it. Refused here, the blob is released below.
            quotas.check_storage_quota(
                session, viewer, project.owner_id, len(upload.data), limits.max_storage_bytes_per_user
            )
            row = PosterRow(
                project_id=project.id,
                event_id=project.event_id,
                owner_id=project.owner_id,
                kind=kind.value,
                media=kind.media,
                position=position,
                status=PROCESSING,
                file_name=name,
                byte_size=len(upload.data),
                blob_sha=sha,
                replaces_id=replaces_id,
                page_count=0,
                text="",
                attempts=0,
            )
            session.add(row)
    except BaseException:
        if sha:  # the row did not commit: the blob must not stay behind
            release_blobs(db, storage, [sha])
        raise
    assert sha is not None  # the row committed, so the blob was stored
    restore_missing(storage, {sha: upload.data})  # a release may have deleted it before our lock (blobs.py)
    return row


def _position_for(
    session: Session, limits: Limits, project: ProjectRow, kind: files.Kind, replaces_id: int | None
) -> int:
    """Where the new file goes; refuses uploads over the project's limits."""
    live = _live_posters(session, project.id)
    if replaces_id is not None:
        old = session.get(PosterRow, replaces_id)
        if old is None or old.project_id != project.id or old.status == REJECTED or old.replaces_id:
            raise NotFound("poster")
        if old.media != kind.media:
            raise files.UploadError(400, "wrong_media", f"a {old.media} can only be replaced by a {old.media}")
        if any(p.replaces_id == old.id for p in live):
            raise Conflict("a replacement for this poster is already being processed")
        return old.position
    if kind.media == "video":
        if any(p.media == "video" for p in live):
            raise Conflict("the project already has a video; replace or delete it first")
    elif sum(p.media == "poster" and not p.replaces_id for p in live) >= limits.posters_per_project:
        raise Conflict(f"a project may have at most {limits.posters_per_project} posters")
    return max((p.position for p in live), default=-1) + 1


# --- processing (the Celery task) -----------------------------------------------------------------------
def process_poster(db: Database, storage: BlobStorage, index: SearchIndex, limits: Limits, poster_id: int) -> str:
    """Validate deeply, render, extract text; returns the final status. Idempotent: a poster that is no longer
    `processing` (done, deleted) is left alone, so a redelivered task does nothing."""
    with db.unit_of_work() as session:
        row = session.get(PosterRow, poster_id)
        if row is None or row.status != PROCESSING:
            return row.status if row else "gone"
        row.attempts += 1  # committed before the risky part: a file that kills the worker is counted
        attempts, kind, sha = row.attempts, files.Kind(row.kind), row.blob_sha
    if attempts > MAX_ATTEMPTS:
        return _reject(db, storage, poster_id, "the file could not be processed")
    try:
        data = storage.read(sha) if sha else b""
        result = processing.process(kind, data, limits)
    except BlobMissing:
        return _reject(db, storage, poster_id, "the uploaded file was lost; upload it again")
    except Rejected as exc:
        return _reject(db, storage, poster_id, exc.reason)
    except SoftTimeLimitExceeded:
        return _reject(db, storage, poster_id, "the file took too long to process; try a simpler export")
    except Exception:  # noqa: BLE001 - a decoder failing on hostile input is a rejection, not a crash loop
        log.exception("processing failed", extra={"poster_id": poster_id})
        return _reject(db, storage, poster_id, "the file is damaged and cannot be read")
    return _mark_ready(db, storage, index, poster_id, result)


def _reject(db: Database, storage: BlobStorage, poster_id: int, reason: str) -> str:
    with db.unit_of_work() as session:
        # Row lock (Postgres): two runs of one poster cannot both finish it (SQLite has a single writer anyway).
        row = session.get(PosterRow, poster_id, with_for_update=True)
        if row is None or row.status != PROCESSING:
            return row.status if row else "gone"
        shas = blobs_of(row)
        row.status, row.reason, row.processed_at = REJECTED, reason[:500], datetime.now(UTC)
        row.blob_sha = row.thumbnail_sha = None
        row.pages.clear()
        outbox.record(
            session,
            Outbox,
            PosterRejected(
                poster_id=row.id,
                project_id=row.project_id,
                event_id=row.event_id,
                owner_id=row.owner_id,
                reason=row.reason,
            ),
        )
    release_blobs(db, storage, shas)  # nothing of a refused file stays on disk
    log.info("poster rejected", extra={"poster_id": poster_id, "reason": reason})
    return REJECTED


def _mark_ready(
    db: Database, storage: BlobStorage, index: SearchIndex, poster_id: int, result: processing.Processed
) -> str:
    pages = [(storage.put(p.png), p) for p in result.pages]
    thumbnail = storage.put(result.thumbnail) if result.thumbnail else None
    blobs = {sha: p.png for sha, p in pages} | ({thumbnail: result.thumbnail} if thumbnail else {})
    written = set(blobs)
    released: set[str] = set()
    _crash_test_pause(poster_id)
    with db.unit_of_work() as session:
        lock_blobs(session, written)  # a concurrent release of a shared page waits for our commit (blobs.py)
        row = session.get(PosterRow, poster_id, with_for_update=True)  # one finishing run per poster, as in _reject
        if row is None or row.status != PROCESSING:  # deleted while we rendered: drop what we wrote
            status = row.status if row else "gone"
            released = written
        else:
            status = READY
            if not result.keep_original and row.blob_sha:
                released.add(row.blob_sha)  # images: only the re-encoded copy (no EXIF/GPS) is kept
                row.blob_sha = None
            row.pages = [
                PosterPage(number=i + 1, sha=sha, width=p.width, height=p.height) for i, (sha, p) in enumerate(pages)
            ]
            row.thumbnail_sha, row.page_count, row.text = thumbnail, result.page_count, result.text
            row.duration_s = result.duration_s
            row.status, row.processed_at = READY, datetime.now(UTC)
            if row.replaces_id:
                old = session.get(PosterRow, row.replaces_id)
                if old is not None:
                    released |= blobs_of(old)
                    row.position = old.position
                    session.delete(old)
                row.replaces_id = None
            reindex(session, index, get_project(session, row.project_id))
            outbox.record(
                session,
                Outbox,
                PosterReady(
                    poster_id=row.id,
                    project_id=row.project_id,
                    event_id=row.event_id,
                    owner_id=row.owner_id,
                    page_count=row.page_count,
                ),
            )
    if status == READY:
        restore_missing(storage, blobs)  # a release may have deleted a shared page before our lock
    release_blobs(db, storage, released)
    return status


# Test hook for tests/integration/test_posters_crash.py, off unless that test sets the variable: the task says
# "paused" (with its pid) at the riskiest point (attempt counted, page blobs written, nothing committed) and waits
# for a "go" file, so the test can kill the worker exactly there instead of racing a slow file.
CRASH_TEST_PAUSE_DIR_ENV = "POSTERS_CRASH_TEST_PAUSE_DIR"


def _crash_test_pause(poster_id: int) -> None:
    directory = os.environ.get(CRASH_TEST_PAUSE_DIR_ENV)
    if not directory:
        return
    Path(directory, f"{poster_id}.paused").write_text(str(os.getpid()))
    while not Path(directory, f"{poster_id}.go").exists():
        time.sleep(0.02)


def requeue_stale(db: Database, older_than_s: int) -> list[int]:
    """Posters stuck in `processing` (their task was lost, e.g. Redis down when enqueuing)."""
    cutoff = datetime.now(UTC).timestamp() - older_than_s
    with db.unit_of_work() as session:
        rows = session.scalars(select(PosterRow).where(PosterRow.status == PROCESSING)).all()
        return [r.id for r in rows if _utc(r.created_at).timestamp() < cutoff]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- managing posters -----------------------------------------------------------------------------------
def poster_for(db: Database, viewer: Viewer, poster_id: int) -> tuple[PosterRow, ProjectRow]:
    with db.unit_of_work() as session:
        row = session.get(PosterRow, poster_id)
        if row is None:
            raise NotFound("poster")
        project = get_project(session, row.project_id)
        if not can_view(
            status=row.status,
            hidden=project.hidden,
            is_owner=viewer.owns(project.owner_id),
            is_organiser=viewer.is_organiser,
        ):
            raise NotFound("poster")
        return row, project


def delete_poster(db: Database, storage: BlobStorage, index: SearchIndex, viewer: Viewer, poster_id: int) -> None:
    with db.unit_of_work() as session:
        row = session.get(PosterRow, poster_id)
        if row is None:
            raise NotFound("poster")
        project = owned_project(session, viewer, row.project_id)
        shas = blobs_of(row)
        pending = session.scalars(select(PosterRow).where(PosterRow.replaces_id == row.id)).all()
        for replacement in pending:  # a replacement of a deleted poster has nothing left to replace
            replacement.replaces_id = None
        session.delete(row)
        if row.status == READY:
            reindex(session, index, project)
    release_blobs(db, storage, shas)


def reorder(db: Database, viewer: Viewer, project_id: int, poster_ids: list[int]) -> list[PosterRow]:
    with db.unit_of_work() as session:
        project = owned_project(session, viewer, project_id)
        current = [p for p in _live_posters(session, project.id) if p.media == "poster" and not p.replaces_id]
        by_id = {p.id: p for p in current}
        try:
            order = check_order(list(by_id), poster_ids)
        except OrderError as exc:
            raise ProjectRuleError("poster_ids", str(exc)) from None
        for position, pid in enumerate(order):
            by_id[pid].position = position
        # Pending replacements follow the poster they replace.
        for pending in session.scalars(
            select(PosterRow).where(PosterRow.project_id == project.id, PosterRow.replaces_id.is_not(None))
        ):
            if pending.replaces_id in by_id:
                pending.position = by_id[pending.replaces_id].position
        return [by_id[pid] for pid in order]


def upload_failures(db: Database, viewer: Viewer, event_id: int, page: int, per_page: int) -> tuple[list, int]:
    with db.unit_of_work() as session:
        if session.get(KnownEvent, event_id) is None:
            raise NotFound("event")
        stmt = (
            select(PosterRow, ProjectRow)
            .join(ProjectRow, ProjectRow.id == PosterRow.project_id)
            .where(PosterRow.event_id == event_id, PosterRow.status == REJECTED)
        )
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.execute(
            stmt.order_by(PosterRow.processed_at.desc(), PosterRow.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        return [(p, pr) for p, pr in rows], total
