"""Fair queuing in the posters worker: one person's 500 waiting uploads do not starve another's single upload.
A real Redis broker and a real Celery worker (one process, as slow as it comes); the order is read from the rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from services.posters.adapters.orm import PosterRow
from services.posters.fair_queue import LEVELS, priority_for_waiting
from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import OTHER_AUTHOR, create_project, upload
from tests.fixtures.posters.worker_stack import posters_stack
from tests.support.processes import RedisServer, wait_until

pytestmark = pytest.mark.integration

BULK = 500
PER_PROJECT = 20  # the default cap of posters per project


def test_priority_grows_with_the_owners_waiting_uploads() -> None:
    assert [priority_for_waiting(n) for n in (0, 1, 5, 9, 10, 500)] == [0, 1, 5, 9, 9, 9]
    assert LEVELS == 10


def test_a_single_upload_overtakes_a_bulk_uploaders_backlog(redis_server: RedisServer, tmp_path: Path) -> None:
    settings = {"POSTERS_MAX_PROJECTS_PER_USER": str(BULK // PER_PROJECT), "POSTERS_MAX_STORAGE_MB_PER_USER": "100"}
    with posters_stack(redis_server, tmp_path / "var", start_worker=False, **settings) as stack:
        app, client = stack.app, stack.app.test_client()
        bulk_projects = [create_project(client, app) for _ in range(BULK // PER_PROJECT)]
        for i in range(BULK):  # distinct files (content-addressed storage would share identical ones)
            project = bulk_projects[i // PER_PROJECT]
            response = upload(client, app, project, files.png(40, 30, (i % 256, i // 256, 7)), f"p{i}.png")
            assert response.status_code == 202, response.get_json()
        single_project = create_project(client, app, user_id=OTHER_AUTHOR)
        single = upload(client, app, single_project, files.png(40, 30, (1, 2, 3)), "mine.png", user_id=OTHER_AUTHOR)
        single_id = single.get_json()["id"]

        stack.start_worker()
        db = app.extensions["db"]

        def single_done() -> bool:
            with db.unit_of_work() as session:
                return session.get(PosterRow, single_id).status != "processing"

        wait_until(single_done, timeout=120, what="the single upload to be processed")
        with db.unit_of_work() as session:
            bulk_done = session.scalars(
                select(PosterRow.id).where(PosterRow.project_id.in_(bulk_projects), PosterRow.status != "processing")
            ).all()
        # First come, first served would process all 500 first. Here the bulk uploader's first file (queued at the
        # same level, earlier) may go before; the one in the worker's hands when it finished may too.
        print(f"bulk uploads processed before the single one: {len(bulk_done)} of {BULK}")
        assert len(bulk_done) <= 2, f"{len(bulk_done)} of the bulk uploads went first"
