"""Which stored blobs are still needed, and the per-blob lock that keeps a shared blob from being lost.

Blobs are content-addressed, so two posters (or two rendered pages) may share one file: a blob is deleted only
when no poster, page or thumbnail refers to it any more. Writers store the file first and commit the row that
refers to it afterwards, so "check references, delete the file" must not interleave with "commit a reference":

- the deleter takes the lock of each blob, checks, deletes the file and only then commits (`release_blobs`);
- a writer takes the same lock in the transaction that commits its reference (`lock_blobs`), and after that
  commit writes the file again if it is missing (`restore_missing`; the writer still has the bytes).

A reference that commits first is seen by the deleter's check; one that commits after the deleter's commit finds
the file gone and writes it back. Either way a referenced blob stays on disk.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import false, or_, select, text, update
from sqlalchemy.orm import Session

from services.posters.adapters.orm import PosterPage, PosterRow
from services.posters.adapters.storage import BlobStorage
from shared.db import Database


def blobs_of(poster: PosterRow) -> set[str]:
    return {s for s in (poster.blob_sha, poster.thumbnail_sha, *(p.sha for p in poster.pages)) if s}


def _lock_key(sha: str) -> int:
    """A signed 64-bit advisory-lock key from the hash (a collision only serialises two blobs, harmlessly)."""
    return int.from_bytes(bytes.fromhex(sha[:16]), "big", signed=True)


def lock_blobs(session: Session, shas: Iterable[str]) -> None:
    """Hold the lock of these blobs until this transaction ends. Call it in any transaction that commits a
    reference to a blob, before the commit, and at the start of the deleter's transaction.

    PostgreSQL: a transaction-scoped advisory lock per blob, in sorted order (no deadlock between two lockers);
    the checks that follow see every reference committed before the lock was granted (READ COMMITTED).
    SQLite: one writer at a time, so the database write lock serves for every blob. A no-op UPDATE takes it (the
    driver opens the transaction before a write, not before a read); as the first statement of the transaction
    it also makes the following reads see the newest data."""
    shas = sorted(set(shas))
    if not shas:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        for sha in shas:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(sha)})
    elif dialect == "sqlite":
        table = PosterRow.__table__
        session.execute(update(table).where(false()).values(blob_sha=table.c.blob_sha))
    else:  # pragma: no cover - only SQLite (default) and PostgreSQL (compose) are supported
        raise NotImplementedError(f"no blob lock for {dialect}")


def restore_missing(storage: BlobStorage, blobs: dict[str, bytes]) -> None:
    """After committing references to these blobs: write back any that a release deleted before our lock."""
    for sha, data in blobs.items():
        if not storage.exists(sha):
            storage.put(data)


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
        lock_blobs(session, shas)  # first: no reference can commit between our check and our delete
        for sha in sorted(shas):
            if not _in_use(session, sha):
                storage.delete(sha)  # still under the lock; the commit releases it


def sweep_orphans(db: Database, storage: BlobStorage, older_than_s: float, batch: int = 200) -> int:
    """Delete blobs nothing refers to that are older than `older_than_s` (a worker killed after writing pages but
    before committing them leaves such files behind); returns how many were found. Old enough that no upload in
    progress still needs them, and `release_blobs` re-checks under the per-blob lock, so a blob referenced
    meanwhile stays."""
    old = set(storage.older_than(older_than_s))
    if not old:
        return 0
    with db.unit_of_work() as session:
        orphans = sorted(old - _all_referenced(session))
    for start in range(0, len(orphans), batch):  # short lock holds, not one long one
        release_blobs(db, storage, orphans[start : start + batch])
    return len(orphans)


def _all_referenced(session: Session) -> set[str]:
    referenced: set[str] = set()
    for blob, thumbnail in session.execute(select(PosterRow.blob_sha, PosterRow.thumbnail_sha)):
        referenced.update(s for s in (blob, thumbnail) if s)
    referenced.update(session.scalars(select(PosterPage.sha)))
    return referenced
