"""OCR in the real worker: a poster exported as PNG (or a scanned PDF) becomes searchable by the words on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.fixtures.posters import text_images as tx
from tests.fixtures.posters.helpers import attendee, create_project, upload
from tests.fixtures.posters.worker_stack import posters_with_worker, settle
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with posters_with_worker(redis_server, tmp_path_factory.mktemp("posters-ocr")) as app:
        yield app


def _ready(app: Flask, poster_id: int) -> dict:
    body = settle(app, poster_id)
    assert body["status"] == "ready", body
    return body


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
