"""Content-addressed blob storage. Blobs are named by their SHA-256, so no caller-chosen name ever becomes a
path, and identical files are stored once.

`LocalBlobStorage` (a directory, STORAGE_DIR) is the default; another backend (S3, ...) implements the same
methods (`BlobStorage`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

_SHA = re.compile(r"^[0-9a-f]{64}$")


class BlobMissing(LookupError):
    pass


class BlobStorage(Protocol):
    def put(self, data: bytes) -> str: ...
    def read(self, sha: str) -> bytes: ...
    def open(self, sha: str) -> BinaryIO: ...
    def exists(self, sha: str) -> bool: ...
    def size(self, sha: str) -> int: ...
    def delete(self, sha: str) -> None: ...
    def older_than(self, seconds: float) -> Iterator[str]: ...


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalBlobStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, sha: str) -> Path:
        if not _SHA.match(sha):
            raise ValueError("not a blob id")  # defence in depth: only our own hashes reach here
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, data: bytes) -> str:
        sha = sha256(data)
        path = self._path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename: a reader never sees half a blob, a crash leaves only a temp.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def read(self, sha: str) -> bytes:
        try:
            return self._path(sha).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(sha) from None

    def open(self, sha: str) -> BinaryIO:
        try:
            return self._path(sha).open("rb")
        except FileNotFoundError:
            raise BlobMissing(sha) from None

    def exists(self, sha: str) -> bool:
        return self._path(sha).exists()

    def size(self, sha: str) -> int:
        try:
            return self._path(sha).stat().st_size
        except FileNotFoundError:
            raise BlobMissing(sha) from None

    def delete(self, sha: str) -> None:
        self._path(sha).unlink(missing_ok=True)

    def older_than(self, seconds: float) -> Iterator[str]:
        """Ids of blobs (and crashed writers' temp files, as paths) last written more than `seconds` ago."""
        if not self.root.exists():
            return
        cutoff = time.time() - seconds
        for path in self.root.glob("*/*/*"):
            try:
                old = path.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue  # deleted meanwhile
            if not old:
                continue
            if path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)  # a writer died mid-write; nothing refers to a temp file
            elif _SHA.match(path.name):
                yield path.name

    def count(self) -> int:
        """Number of blobs stored (tests check that refused uploads leave nothing behind)."""
        if not self.root.exists():
            return 0
        return sum(1 for p in self.root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))
