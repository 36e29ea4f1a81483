"""A shared blob is never deleted under a poster that refers to it (services/posters/blobs.py).

Blobs are content-addressed: the same bytes uploaded twice, or the same page rendered twice, are one file. The
race: a release checks "no reference", a writer (upload request or worker) stores the file (a no-op: it exists)
and commits its reference, then the release deletes the file. These tests force exactly that order on a real
database (SQLite by default, PostgreSQL as in compose) and real files:

- the releasing thread is held inside `storage.delete` (after its reference check, before the unlink);
- the writing thread is held in its own `storage.put` until then, so its put finds the file still there;
- the release may go on only once the writer has committed (or has reached the per-blob lock, where a fixed
  writer must wait for the release to finish);
- while held, a separate connection checks that the blob's lock is taken (the release deletes under it).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.posters import blobs, uploads
from services.posters.adapters.orm import PosterRow
from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import (
    announce_event,
    attendee,
    author,
    create_project,
    process_in_process,
    upload,
)
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration

HANG_GUARD_S = 60  # only so a broken run fails instead of hanging; never reached when the code is right


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, make_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("POSTERS_DATABASE_URL", server.create_database(f"posters_{uuid.uuid4().hex[:8]}"))
    app = make_app("posters", RATE_LIMITS=False)
    assert app.extensions["db"].engine.dialect.name == ("postgresql" if request.param == "postgres" else "sqlite")
    announce_event(app, 1)
    yield app


def _wait(event: threading.Event, what: str) -> None:
    if not event.wait(HANG_GUARD_S):
        raise AssertionError(f"timed out waiting for {what}")


def _lock_is_taken(app: Flask, sha: str) -> bool | None:
    """Would a writer have to wait for this blob's lock right now? (A separate connection that does not wait.)"""
    lock = getattr(blobs, "lock_blobs", None)
    if lock is None:  # code without the per-blob lock
        return None
    url = app.extensions["db"].url
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, connect_args={"timeout": 0} if sqlite else {})
    try:
        with Session(engine) as session:
            if not sqlite:
                session.execute(text("SET LOCAL lock_timeout = '50ms'"))
            try:
                lock(session, [sha])
            except OperationalError:
                return True
            finally:
                session.rollback()
            return False
    finally:
        engine.dispose()


class Race:
    """Holds a release between its check and its delete, and a writer in its put, in the order of the bug."""

    def __init__(self, app: Flask, monkeypatch: pytest.MonkeyPatch, shas: set[str]) -> None:
        self.shas = shas
        self.release_paused = threading.Event()
        self.writer_progressed = threading.Event()  # the writer committed, or reached the blob lock
        self.writer_thread: threading.Thread | None = None
        self.errors: list[BaseException] = []
        self.locked_while_deleting: bool | None = None
        storage = app.extensions["storage"]
        real_put, real_delete = storage.put, storage.delete
        real_lock = getattr(blobs, "lock_blobs", None)

        def delete(sha: str) -> None:
            if sha in self.shas and not self.release_paused.is_set():
                self.locked_while_deleting = _lock_is_taken(app, sha)
                self.release_paused.set()
                _wait(self.writer_progressed, "the writer to commit or to wait for the blob lock")
            real_delete(sha)

        def put(data: bytes) -> str:
            if threading.current_thread() is self.writer_thread:
                _wait(self.release_paused, "the release to pass its reference check")
            return real_put(data)

        def lock(session, shas) -> None:  # type: ignore[no-untyped-def]
            if threading.current_thread() is self.writer_thread:
                self.writer_progressed.set()  # about to wait for the release's lock (a fixed writer)
            if real_lock is not None:
                real_lock(session, shas)

        monkeypatch.setattr(storage, "put", put)
        monkeypatch.setattr(storage, "delete", delete)
        monkeypatch.setattr(uploads, "lock_blobs", lock, raising=False)

    def _thread(self, body: Callable[[], None], name: str, on_exit: threading.Event | None = None) -> threading.Thread:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # re-raised in the test's thread by run()
                self.errors.append(exc)
            finally:
                if on_exit is not None:
                    on_exit.set()

        return threading.Thread(target=run, name=name, daemon=True)

    def run(self, release: Callable[[], None], write: Callable[[], None]) -> None:
        releaser = self._thread(release, "release")
        self.writer_thread = self._thread(write, "writer", on_exit=self.writer_progressed)
        self.writer_thread.start()
        releaser.start()
        for thread in (releaser, self.writer_thread):
            thread.join(HANG_GUARD_S * 2)
            assert not thread.is_alive(), f"{thread.name} hung"
        if self.errors:
            raise self.errors[0]
        assert self.release_paused.is_set(), "the release never reached its delete: the race was not exercised"
        assert self.locked_while_deleting, "the release deleted a blob without holding its lock"


def _poster(app: Flask, poster_id: int) -> PosterRow:
    with app.extensions["db"].unit_of_work() as session:
        row = session.get(PosterRow, poster_id)
        assert row is not None
        return row


def _assert_served(app: Flask, poster_id: int) -> None:
    client = app.test_client()
    for path in ("thumbnail.png", "pages/1.png"):
        response = client.get(f"/api/v1/posters/{poster_id}/{path}", headers=attendee(app))
        assert response.status_code == 200, (path, response.get_json())
        assert response.data.startswith(b"\x89PNG")


def test_upload_of_the_same_bytes_during_a_release_keeps_the_file(app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    data = files.pdf(1, ["Shared bytes"])
    first, second = create_project(client, app, title="First"), create_project(client, app, title="Second")
    deleted = upload(client, app, first, data, "a.pdf").get_json()["id"]
    sha = _poster(app, deleted).blob_sha
    assert sha is not None
    race = Race(app, monkeypatch, {sha})
    uploaded: dict[str, int] = {}

    def release() -> None:  # deleting the only poster with these bytes releases the blob
        response = app.test_client().delete(f"/api/v1/posters/{deleted}", headers=author(app))
        assert response.status_code == 204

    def write() -> None:  # the upload request: put (file still there), commit a reference
        response = upload(app.test_client(), app, second, data, "b.pdf")
        assert response.status_code == 202, response.get_json()
        uploaded["id"] = response.get_json()["id"]

    race.run(release, write)

    assert _poster(app, uploaded["id"]).blob_sha == sha
    assert app.extensions["storage"].exists(sha)
    assert process_in_process(app) == {uploaded["id"]: "ready"}  # not "the uploaded file was lost"
    _assert_served(app, uploaded["id"])


def test_rendering_the_same_pages_during_a_release_keeps_them(app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    data = files.pdf(1, ["Shared pages"])
    first, second = create_project(client, app, title="First"), create_project(client, app, title="Second")
    deleted = upload(client, app, first, data, "a.pdf").get_json()["id"]
    assert process_in_process(app) == {deleted: "ready"}
    rendered = blobs.blobs_of(_poster(app, deleted)) - {_poster(app, deleted).blob_sha}
    assert len(rendered) == 2  # one page, one thumbnail
    waiting = upload(client, app, second, data, "b.pdf").get_json()["id"]  # shares the original, not yet pages
    race = Race(app, monkeypatch, rendered)
    outcome: dict[int, str] = {}

    def release() -> None:  # the pages and thumbnail of the deleted poster are referenced by no one yet
        response = app.test_client().delete(f"/api/v1/posters/{deleted}", headers=author(app))
        assert response.status_code == 204

    def write() -> None:  # the worker's use case: render, put (files still there), commit the pages
        outcome.update(process_in_process(app))

    race.run(release, write)

    assert outcome == {waiting: "ready"}
    row = _poster(app, waiting)
    assert blobs.blobs_of(row) - {row.blob_sha} == rendered  # the same files: the race really was on them
    assert all(app.extensions["storage"].exists(sha) for sha in rendered)
    _assert_served(app, waiting)
