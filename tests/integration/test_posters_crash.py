"""Crashes around `posters.process_upload`, with a real worker and a real redis-server: a killed pool child, a
killed worker, a restarted Redis. Each time the upload must end `ready` exactly once (one PosterReady, each page
stored once, no blob nobody refers to).

The worker is killed at a known point, not by racing a slow file: with POSTERS_CRASH_TEST_PAUSE_DIR set, the task
writes `<id>.paused` (its pid) once it has counted the attempt and written the page blobs, and waits there for
`<id>.go` (`uploads._crash_test_pause`)."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from services.posters.adapters.orm import PosterRow
from services.posters.blobs import blobs_of
from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import create_project, outbox_types, upload
from tests.fixtures.posters.worker_stack import PostersStack, posters_stack, settle
from tests.support.processes import RedisServer, wait_until

pytestmark = pytest.mark.integration

PAGES = 4
VISIBILITY_TIMEOUT_S = 600  # shared/celery_app.py broker_transport_options


@pytest.fixture
def pause_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pause"
    directory.mkdir()
    return directory


@pytest.fixture
def paused_stack(redis_server: RedisServer, tmp_path: Path, pause_dir: Path) -> Iterator[PostersStack]:
    with posters_stack(redis_server, tmp_path / "var", POSTERS_CRASH_TEST_PAUSE_DIR=str(pause_dir)) as stack:
        yield stack


def _upload_pdf(app: Flask) -> int:
    client = app.test_client()
    response = upload(client, app, create_project(client, app), files.pdf(PAGES), "crash.pdf")
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def _paused_pid(pause_dir: Path, poster_id: int) -> int:
    """Wait until a pool child holds the poster at the pause point; its pid."""
    path = pause_dir / f"{poster_id}.paused"
    return wait_until(lambda: int(path.read_text()), what=f"poster {poster_id} paused mid-task")  # type: ignore[return-value]


def _parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _attempts(app: Flask, poster_id: int) -> int:
    with app.extensions["db"].unit_of_work() as session:
        return session.get(PosterRow, poster_id).attempts  # type: ignore[union-attr]


def assert_ready_once(app: Flask, poster_id: int, attempts: int) -> None:
    body = settle(app, poster_id)
    assert (body["status"], body["page_count"], len(body["pages"])) == ("ready", PAGES, PAGES), body
    assert _attempts(app, poster_id) == attempts  # the killed run counted, then exactly one more
    assert outbox_types(app).count("PosterReady") == 1
    storage = app.extensions["storage"]
    with app.extensions["db"].unit_of_work() as session:
        row = session.scalars(select(PosterRow)).one()
        assert sorted(p.number for p in row.pages) == list(range(1, PAGES + 1))
        referenced = blobs_of(row)
    stored = {p.name for p in storage.root.rglob("*") if p.is_file()}  # temp files too: they would be orphans
    assert stored == referenced  # original PDF, 4 pages, thumbnail: each once, nothing else
    assert len(referenced) == PAGES + 2


def _succeeded(worker_log: str) -> int:
    return sum("posters.process_upload[" in line and "] succeeded" in line for line in worker_log.splitlines())


def _broker_settled(redis_server: RedisServer) -> bool:
    r = redis_server.client()
    return r.llen("posters") == 0 and r.hlen("unacked") == 0


def test_pool_child_killed_mid_task_is_redelivered_and_ends_ready_once(
    paused_stack: PostersStack, pause_dir: Path, redis_server: RedisServer
) -> None:
    app, worker = paused_stack.app, paused_stack.workers[0]
    poster_id = _upload_pdf(app)
    child = _paused_pid(pause_dir, poster_id)
    assert child != worker.proc.pid and _parent_pid(child) == worker.proc.pid  # a pool child, not the worker

    os.kill(child, signal.SIGKILL)
    (pause_dir / f"{poster_id}.go").touch()

    assert_ready_once(app, poster_id, attempts=2)
    assert int((pause_dir / f"{poster_id}.paused").read_text()) != child  # redelivered to a new pool child
    assert worker.alive() and "WorkerLostError" in worker.output()
    wait_until(lambda: _broker_settled(redis_server), what="message acked, nothing left to deliver")


def test_upload_that_kills_the_pool_child_three_times_is_rejected(
    paused_stack: PostersStack, pause_dir: Path, redis_server: RedisServer
) -> None:
    """Each crash is redelivered at once; the 4th delivery sees 3 counted attempts and rejects instead of looping."""
    app = paused_stack.app
    poster_id = _upload_pdf(app)
    paused = pause_dir / f"{poster_id}.paused"
    killed: set[int] = set()
    for _ in range(3):
        child = wait_until(lambda: (pid := int(paused.read_text())) not in killed and pid, what="a new pool child")
        os.kill(child, signal.SIGKILL)  # type: ignore[arg-type]
        killed.add(child)  # type: ignore[arg-type]

    body = settle(app, poster_id)
    assert (body["status"], body["reason"]) == ("rejected", "the file could not be processed")
    assert _attempts(app, poster_id) == 4
    assert [t for t in outbox_types(app) if t.startswith("Poster")] == ["PosterRejected"]
    assert not app.extensions["storage"].exists(hashlib.sha256(files.pdf(PAGES)).hexdigest())
    wait_until(lambda: _broker_settled(redis_server), what="message acked")


def test_worker_killed_mid_task_comes_back_through_requeue_stale(
    redis_server: RedisServer, tmp_path: Path, pause_dir: Path
) -> None:
    """The killed worker cannot reject its message: it stays in kombu's `unacked` hash, which kombu re-queues only
    once it is older than the visibility timeout (10 min). `posters.requeue_stale` (beat) brings the poster back;
    here its staleness is 0 s and we send it the way beat does."""
    settings = {"POSTERS_CRASH_TEST_PAUSE_DIR": str(pause_dir), "POSTER_STALE_AFTER_S": "0"}
    with posters_stack(redis_server, tmp_path / "var", **settings) as stack:
        app, r = stack.app, redis_server.client()
        poster_id = _upload_pdf(app)
        _paused_pid(pause_dir, poster_id)
        stack.workers[0].kill()  # the whole process group: main process and pool child
        (lost,) = r.hkeys("unacked")
        assert r.llen("posters") == 0
        (pause_dir / f"{poster_id}.go").touch()

        worker = stack.start_worker()
        app.extensions["celery"].send_task("posters.requeue_stale", queue="posters")

        assert_ready_once(app, poster_id, attempts=2)
        assert lost in r.hkeys("unacked")  # kombu has not brought it back: requeue_stale did

        # Ten minutes later kombu's sweep re-queues the parked message; do what it does now: a no-op delivery.
        with app.extensions["celery"].connection_for_write() as connection:
            connection.default_channel.qos.restore_by_tag(lost)
        wait_until(lambda: _succeeded(worker.output()) == 2, what="the late duplicate delivered")
        wait_until(lambda: _broker_settled(redis_server), what="duplicate acked")
        assert_ready_once(app, poster_id, attempts=2)


def test_worker_killed_mid_task_comes_back_after_the_visibility_timeout(
    redis_server: RedisServer, tmp_path: Path, pause_dir: Path
) -> None:
    """Without beat: kombu re-queues an unacked message older than the visibility timeout when a worker sweeps
    (at its start, then every ~100 s). The message's delivery time is set back by the timeout instead of waiting."""
    with posters_stack(redis_server, tmp_path / "var", POSTERS_CRASH_TEST_PAUSE_DIR=str(pause_dir)) as stack:
        app, r = stack.app, redis_server.client()
        poster_id = _upload_pdf(app)
        _paused_pid(pause_dir, poster_id)
        stack.workers[0].kill()
        (lost,) = r.hkeys("unacked")
        (pause_dir / f"{poster_id}.go").touch()

        delivered_at = r.zscore("unacked_index", lost)
        r.zadd("unacked_index", {lost: delivered_at - VISIBILITY_TIMEOUT_S - 1})
        stack.start_worker()

        assert_ready_once(app, poster_id, attempts=2)
        wait_until(lambda: _broker_settled(redis_server), what="restored message acked")


def test_upload_queued_across_a_redis_crash_is_processed(redis_server: RedisServer, tmp_path: Path) -> None:
    """Redis is SIGKILLed while the upload waits in the queue (no worker yet): the AOF keeps the message."""
    with posters_stack(redis_server, tmp_path / "var", start_worker=False) as stack:
        app, r = stack.app, redis_server.client()
        poster_id = _upload_pdf(app)
        assert r.llen("posters") == 1

        redis_server.restart()
        assert redis_server.client().llen("posters") == 1

        stack.start_worker()
        assert_ready_once(app, poster_id, attempts=1)
        wait_until(lambda: _broker_settled(redis_server), what="message acked")
