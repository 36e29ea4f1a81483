"""Videos through a real Celery worker: a short H.264 MP4 becomes `ready` with its duration and a PNG thumbnail
from a decoded frame; a video over VIDEO_MAX_SECONDS (5 s for this worker) is `rejected` and its file removed."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest
from flask import Flask
from PIL import Image

from tests.fixtures.posters import videos
from tests.fixtures.posters.helpers import attendee, create_project, outbox_types, upload
from tests.fixtures.posters.worker_stack import posters_with_worker, settle
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with posters_with_worker(redis_server, tmp_path_factory.mktemp("posters-video"), VIDEO_MAX_SECONDS="5") as app:
        yield app


def test_short_mp4_becomes_ready_with_duration_and_thumbnail(stack: Flask) -> None:
    client = stack.test_client()
    project = create_project(client, stack, title="Ward flow in two seconds")
    data = videos.mp4(2)
    response = upload(client, stack, project, data, "talk.mp4")
    assert response.status_code == 202, response.get_json()
    body = settle(stack, response.get_json()["id"])
    assert (body["status"], body["media"], body["page_count"], body["pages"]) == ("ready", "video", 0, [])
    assert body["duration_s"] == pytest.approx(2, abs=0.05)
    assert body["thumbnail_url"] == f"/api/v1/posters/{body['id']}/thumbnail.png"
    thumb = client.get(body["thumbnail_url"], headers=attendee(stack))
    assert thumb.status_code == 200 and thumb.mimetype == "image/png"
    assert Image.open(io.BytesIO(thumb.data)).size == (64, 48)  # smaller than the thumbnail width: not enlarged
    played = client.get(body["video_url"], headers=attendee(stack))
    assert played.status_code == 200 and played.data == data  # the original is what browsers play
    assert outbox_types(stack)[-1] == "PosterReady"
    # A project with only a video shows its poster frame in the gallery; it has no posters to count.
    cards = client.get("/api/v1/events/1/posters", headers=attendee(stack)).get_json()["items"]
    card = next(c for c in cards if c["id"] == project)
    assert (card["thumbnail_url"], card["poster_count"]) == (body["thumbnail_url"], 0)


def test_too_long_video_is_rejected_with_the_reason_and_removed(stack: Flask) -> None:
    client = stack.test_client()
    project = create_project(client, stack)
    data = videos.mp4(7)
    response = upload(client, stack, project, data, "long.mp4")
    assert response.status_code == 202, response.get_json()
    body = settle(stack, response.get_json()["id"])
    assert (body["status"], body["reason"]) == ("rejected", "the video lasts 7 s; the limit is 5 s")
    assert body["thumbnail_url"] is None and body["duration_s"] is None
    assert not stack.extensions["storage"].exists(hashlib.sha256(data).hexdigest())
    assert outbox_types(stack)[-1] == "PosterRejected"
