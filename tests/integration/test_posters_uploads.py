"""Uploads refused while the request waits: a clear 4xx JSON error and nothing stored (no row, no blob)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import (
    OTHER_AUTHOR,
    announce_event,
    attendee,
    author,
    create_project,
    poster_rows,
    upload,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False, POSTER_MAX_BYTES=200_000)
    announce_event(app, 1)
    return app


def _nothing_stored(app: Flask) -> None:
    assert poster_rows(app) == 0
    assert app.extensions["storage"].count() == 0


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        pytest.param(b"", "poster.pdf", 400, "empty_file", id="zero-byte file"),
        pytest.param(files.png(40, 40), "poster.pdf", 400, "extension_mismatch", id="PNG content named .pdf"),
        pytest.param(files.pdf(1), "poster.png", 400, "extension_mismatch", id="PDF content named .png"),
        pytest.param(files.svg(), "poster.svg", 415, "unsupported_type", id="SVG"),
        pytest.param(files.svg(), "poster.png", 415, "unsupported_type", id="SVG renamed .png"),
        pytest.param(files.zip_archive(), "poster.pdf", 415, "unsupported_type", id="ZIP renamed .pdf"),
        pytest.param(files.html(), "poster.png", 415, "unsupported_type", id="HTML renamed .png"),
        pytest.param(b"%PDF-1.7\n" + b"0" * 200_000, "big.pdf", 413, "file_too_large", id="over the size cap"),
        pytest.param(files.pdf(1), "../../etc/passwd.pdf", 400, "invalid_file_name", id="path traversal"),
        pytest.param(files.pdf(1), "..\\..\\boot.pdf", 400, "invalid_file_name", id="windows path traversal"),
        pytest.param(files.pdf(1), "/etc/cron.d/x.pdf", 400, "invalid_file_name", id="absolute path"),
        pytest.param(files.pdf(1), ".pdf", 400, "invalid_file_name", id="dot file"),
        pytest.param(files.pdf(1), "poster\x00.pdf", 400, "invalid_file_name", id="NUL in name"),
    ],
)
def test_bad_upload_is_refused_and_nothing_is_stored(app, data, name, status, code):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    response = upload(client, app, project, data, name)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == (code, "file")
    assert error["message"]
    _nothing_stored(app)


def test_request_without_a_file_field_is_refused(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    response = client.post(
        f"/api/v1/projects/{project}/posters",
        data={"other": "x"},
        content_type="multipart/form-data",
        headers=author(app),
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "file"
    _nothing_stored(app)


def test_body_over_the_request_limit_is_refused_before_reading(make_app):  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False, POSTER_MAX_BYTES=1000, VIDEO_MAX_BYTES=1000)
    announce_event(app, 1)
    client = app.test_client()
    project = create_project(client, app)
    response = upload(client, app, project, b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024), "big.pdf")
    assert response.status_code == 413
    assert response.get_json()["error"]["field"] == "file"
    _nothing_stored(app)


def test_upload_to_someone_elses_project_is_forbidden(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    response = upload(client, app, project, files.pdf(1), "mine-now.pdf", user_id=OTHER_AUTHOR)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    as_attendee = client.post(
        f"/api/v1/projects/{project}/posters",
        data={"file": (__import__("io").BytesIO(files.pdf(1)), "a.pdf")},
        content_type="multipart/form-data",
        headers=attendee(app),
    )
    assert as_attendee.status_code == 403
    _nothing_stored(app)


def test_upload_without_identity_or_to_a_missing_project(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    assert client.post(f"/api/v1/projects/{project}/posters").status_code == 401
    forged = {"X-Internal-Identity": "not-a-signed-token"}
    assert client.post(f"/api/v1/projects/{project}/posters", headers=forged).status_code == 401
    assert upload(client, app, 999, files.pdf(1), "a.pdf").status_code == 404
    _nothing_stored(app)


def test_too_many_uploads_per_minute_get_429(make_app):  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=True, UPLOAD_RATE_LIMIT="3/minute")
    announce_event(app, 1)
    client = app.test_client()
    project = create_project(client, app)
    for i in range(3):
        assert upload(client, app, project, files.png(20 + i, 20), f"p{i}.png").status_code == 202
    refused = upload(client, app, project, files.png(50, 50), "p4.png")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert poster_rows(app) == 3  # the refused upload stored nothing
    # The limit is per account, not global: another author is not held back by the first one.
    other = create_project(client, app, user_id=OTHER_AUTHOR)
    assert upload(client, app, other, files.png(60, 60), "x.png", user_id=OTHER_AUTHOR).status_code == 202


def test_rate_limit_can_be_switched_off(make_app):  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False, UPLOAD_RATE_LIMIT="1/minute")
    announce_event(app, 1)
    client = app.test_client()
    project = create_project(client, app)
    statuses = [upload(client, app, project, files.png(20 + i, 20), f"p{i}.png").status_code for i in range(3)]
    assert statuses == [202, 202, 202]
