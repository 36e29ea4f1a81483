"""OCR in the real worker: a poster exported as PNG (or a scanned PDF) becomes searchable by the words on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from shared.db import migrate
from tests.fixtures.posters import text_images as tx
from tests.fixtures.posters.helpers import announce_event, attendee, author, create_project, upload
from tests.support.processes import RedisServer, celery_worker, service_env, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One migrated posters app (this process) and one real worker sharing its database and storage."""
    var_dir = tmp_path_factory.mktemp("posters-ocr")
    redis_server.client().flushall()
    env = {"APP_ENV": "test", "REDIS_URL": redis_server.url, "VAR_DIR": str(var_dir), "RATE_LIMITS": "off"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("POSTERS_DATABASE_URL", raising=False)
        mp.delenv("STORAGE_DIR", raising=False)
        from services.posters import create_app

        app = create_app()
        migrate("posters", app.config["DATABASE_URL"])
        announce_event(app, 1)
        worker = celery_worker("posters", service_env(redis_server.url, var_dir, RATE_LIMITS="off"), Path(var_dir))
        try:
            yield app
        finally:
            worker.stop()
            app.extensions["db"].dispose()


def _ready(app: Flask, poster_id: int) -> dict:
    client = app.test_client()

    def done() -> dict | None:
        body = client.get(f"/api/v1/posters/{poster_id}", headers=author(app)).get_json()
        return body if body["status"] != "processing" else None

    body = wait_until(done, timeout=60, interval=0.1, what=f"poster {poster_id} processed")
    assert body["status"] == "ready", body  # type: ignore[index]
    return body  # type: ignore[return-value]


def _search(app: Flask, q: str) -> list[int]:
    response = app.test_client().get("/api/v1/events/1/posters", query_string={"q": q}, headers=attendee(app))
    assert response.status_code == 200, response.get_json()
    return [card["id"] for card in response.get_json()["items"]]


def test_png_poster_is_found_by_a_word_on_it_and_not_by_others(stack: Flask) -> None:
    client = stack.test_client()
    project = create_project(client, stack, title="Waiting lists")
    assert _search(stack, "zebrafish") == []  # the word is nowhere until the poster is read
    response = upload(client, stack, project, tx.text_png(["Zebrafish", "Lighthouse"]), "poster.png")
    assert response.status_code == 202, response.get_json()
    body = _ready(stack, response.get_json()["id"])
    assert body["page_count"] == 1
    assert _search(stack, "zebrafish") == [project]
    assert _search(stack, "lighthouse") == [project]
    assert _search(stack, "walrus") == []  # not on the poster, not in the project


def test_scanned_pdf_is_found_by_a_word_on_its_pages(stack: Flask) -> None:
    client = stack.test_client()
    project = create_project(client, stack, title="Registry linkage")
    response = upload(client, stack, project, tx.scanned_pdf([["Axolotl"], ["Pelican"]]), "scan.pdf")
    assert response.status_code == 202, response.get_json()
    assert _ready(stack, response.get_json()["id"])["page_count"] == 2
    assert _search(stack, "axolotl") == [project]
    assert _search(stack, "pelican") == [project]
    assert _search(stack, "zebrafish") != [project]
