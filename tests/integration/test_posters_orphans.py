"""Files a killed worker wrote but never committed are swept; files any poster refers to never are."""

from __future__ import annotations

import os
import time

import pytest
from flask import Flask

from services.posters.blobs import sweep_orphans
from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import announce_event, create_project, process_in_process, upload

pytestmark = pytest.mark.integration

DAY = 24 * 3600


def _age(storage, sha: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    past = time.time() - seconds
    os.utime(storage._path(sha), (past, past))


def test_only_old_unreferenced_blobs_are_swept(make_app) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("posters", RATE_LIMITS=False)
    announce_event(app, 1)
    storage, db = app.extensions["storage"], app.extensions["db"]
    client = app.test_client()
    project = create_project(client, app)
    assert upload(client, app, project, files.pdf(2), "kept.pdf").status_code == 202
    process_in_process(app)
    kept = set(storage.older_than(-1))
    assert kept  # the original, its pages and thumbnail

    old_orphan = storage.put(b"pages a killed worker rendered")
    young_orphan = storage.put(b"pages of an upload still in progress")
    for sha in (*kept, old_orphan):
        _age(storage, sha, 2 * DAY)
    tmp = storage._path(old_orphan).parent / ".tmp-dead-writer"
    tmp.write_bytes(b"half a file")
    os.utime(tmp, (time.time() - 2 * DAY,) * 2)

    assert sweep_orphans(db, storage, DAY) == 1
    assert not storage.exists(old_orphan) and not tmp.exists()
    assert storage.exists(young_orphan)  # too young: an upload may be about to commit it
    assert all(storage.exists(sha) for sha in kept)  # referenced, however old
    assert sweep_orphans(db, storage, DAY) == 0
