"""Which stored blobs are still needed. Blobs are content-addressed, so two posters may share one: a blob is
deleted only when no poster, page or thumbnail refers to it any more."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.posters.adapters.orm import PosterPage, PosterRow
from services.posters.adapters.storage import BlobStorage
from shared.db import Database


def blobs_of(poster: PosterRow) -> set[str]:
    return {s for s in (poster.blob_sha, poster.thumbnail_sha, *(p.sha for p in poster.pages)) if s}


def _in_use(session: Session, sha: str) -> bool:
    poster = select(PosterRow.id).where(or_(PosterRow.blob_sha == sha, PosterRow.thumbnail_sha == sha)).limit(1)
    page = select(PosterPage.poster_id).where(PosterPage.sha == sha).limit(1)
    return session.scalar(poster) is not None or session.scalar(page) is not None


def release_blobs(db: Database, storage: BlobStorage, shas: Iterable[str]) -> None:
    """Delete blobs no poster refers to any more (content addressing: another poster may share a blob)."""
    shas = set(shas)
    if not shas:
        return
    with db.unit_of_work() as session:
        unused = [sha for sha in shas if not _in_use(session, sha)]
    for sha in unused:
        storage.delete(sha)
