"""The processing path in a real Celery worker process: a 202 upload becomes `ready` with previews, or
`rejected` with a reason and nothing of the file left in storage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import attendee, create_project, outbox_types, upload
from tests.fixtures.posters.worker_stack import posters_with_worker, settle
from tests.support.processes import RedisServer, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with posters_with_worker(redis_server, tmp_path_factory.mktemp("posters-worker")) as app:
        yield app


def test_pdf_upload_becomes_ready_with_previews_and_search_text(stack: Flask) -> None:
    client = stack.test_client()
    project = create_project(client, stack, title="Waiting lists")
    data = files.pdf(4, ["Gradient boosted waiting list forecasts"])
    response = upload(client, stack, project, data, "forecasts.pdf")
    assert response.status_code == 202
    assert response.headers["Location"] == f"/api/v1/posters/{response.get_json()['id']}"
    body = settle(stack, response.get_json()["id"])
    assert (body["status"], body["page_count"], len(body["pages"])) == ("ready", 4, 4)
    thumb = client.get(body["thumbnail_url"], headers=attendee(stack))
    assert thumb.status_code == 200 and thumb.data.startswith(b"\x89PNG")
    found = client.get("/api/v1/events/1/posters", query_string={"q": "boosted"}, headers=attendee(stack))
    assert [c["id"] for c in found.get_json()["items"]] == [project]
    assert "PosterReady" in outbox_types(stack)
    assert stack.extensions["storage"].exists(hashlib.sha256(data).hexdigest())  # PDFs keep their original


@pytest.mark.parametrize(
    ("make", "name", "reason"),
    [
        pytest.param(lambda: files.pdf(500), "long.pdf", "500 pages", id="PDF with 500 pages"),
        pytest.param(files.png_bomb, "bomb.png", "pixels", id="30000x30000 image (bomb)"),
        pytest.param(files.truncated_pdf, "cut.pdf", "truncated", id="truncated PDF"),
        pytest.param(files.pdf_with_javascript, "js.pdf", "JavaScript", id="PDF with JavaScript"),
        pytest.param(files.pdf_with_hidden_javascript, "js2.pdf", "JavaScript", id="PDF with #-escaped JavaScript"),
        pytest.param(files.pdf_encrypted, "locked.pdf", "encrypted", id="encrypted PDF"),
        pytest.param(files.pdf_zip_polyglot, "poly.pdf", "polyglot", id="PDF+ZIP polyglot"),
        pytest.param(files.png_with_trailer, "trail.png", "after its end", id="PNG with a PHP trailer"),
        pytest.param(files.truncated_mp4, "cut.mp4", "truncated", id="truncated MP4"),
    ],
)
def test_hostile_file_is_rejected_with_a_reason_and_removed(stack: Flask, make, name: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    client = stack.test_client()
    project = create_project(client, stack)
    data = make()
    response = upload(client, stack, project, data, name)
    assert response.status_code == 202, response.get_json()
    body = settle(stack, response.get_json()["id"])
    assert body["status"] == "rejected"
    assert reason in body["reason"]
    assert body["pages"] == [] and body["thumbnail_url"] is None
    # The task removes the file right after committing the rejection, so the API can say "rejected" a moment before.
    sha = hashlib.sha256(data).hexdigest()
    wait_until(lambda: not stack.extensions["storage"].exists(sha), timeout=10, what="the refused file removed")
    assert outbox_types(stack)[-1] == "PosterRejected"
    assert client.get(f"/api/v1/posters/{body['id']}", headers=attendee(stack)).status_code == 404
