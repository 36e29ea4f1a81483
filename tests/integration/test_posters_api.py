"""Projects, gallery, search, files and moderation through the posters API (processing run in-process here;
tests/integration/test_posters_worker.py runs the same use case in a real Celery worker)."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from PIL import Image

from tests.conftest import identity_headers
from tests.fixtures import posters as files
from tests.fixtures.posters import videos
from tests.fixtures.posters.helpers import (
    OTHER_AUTHOR,
    announce_event,
    attendee,
    author,
    create_project,
    organiser,
    outbox_types,
    process_in_process,
    project_body,
    upload,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False)
    announce_event(app, 1)
    return app


def _ready_poster(app: Flask, project: int, data: bytes, name: str, user_id: int = 10) -> int:
    response = upload(app.test_client(), app, project, data, name, user_id=user_id)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["status"] == "processing"
    poster_id = response.get_json()["id"]
    assert process_in_process(app)[poster_id] == "ready"
    return poster_id


# --- projects -------------------------------------------------------------------------------------------
def test_create_project_validates_and_publishes(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    headers = author(app)
    for bad, field in [
        (project_body(learnings=["one", "two"]), "learnings"),
        (project_body(learnings=["same", "Same", "other"]), "learnings"),
        (project_body(themes=[]), "themes"),
        (project_body(title=""), "title"),
        (project_body(video_url="http://example.org/v"), "video_url"),
        (project_body(video_url="javascript:alert(1)"), "video_url"),
        ({**project_body(), "owner_id": 99}, "owner_id"),
    ]:
        response = client.post("/api/v1/events/1/projects", json=bad, headers=headers)
        assert response.status_code == 400, (bad, response.get_json())
        assert response.get_json()["error"]["field"] == field
    assert client.post("/api/v1/events/1/projects", data="x", headers=headers).status_code == 400
    assert client.post("/api/v1/events/1/projects", json=project_body()).status_code == 401
    assert client.post("/api/v1/events/1/projects", json=project_body(), headers=attendee(app)).status_code == 403
    assert outbox_types(app) == []

    created = client.post(
        "/api/v1/events/1/projects",
        json=project_body(video_url="https://video.example.org/watch?v=1"),
        headers=headers,
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["organisation"] == "Org A" and body["region"] == "North"  # defaults from the identity
    assert body["authors"] == ["User 10"]
    assert body["learnings"] == project_body()["learnings"]
    assert body["video_link"] == "https://video.example.org/watch?v=1"
    assert outbox_types(app) == ["ProjectPublished"]


def test_only_the_owner_edits_or_deletes(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    other = author(app, OTHER_AUTHOR)
    assert client.patch(f"/api/v1/projects/{project}", json={"title": "Mine"}, headers=other).status_code == 403
    assert client.delete(f"/api/v1/projects/{project}", headers=other).status_code == 403
    assert client.patch(f"/api/v1/projects/{project}", json={"title": None}, headers=author(app)).status_code == 400
    edited = client.patch(
        f"/api/v1/projects/{project}", json={"title": "Renamed project", "tools": ["Python"]}, headers=author(app)
    )
    assert edited.status_code == 200
    assert (edited.get_json()["title"], edited.get_json()["tools"]) == ("Renamed project", ["Python"])
    assert edited.get_json()["learnings"] == project_body()["learnings"]  # untouched fields stay
    assert client.delete(f"/api/v1/projects/{project}", headers=author(app)).status_code == 204
    assert client.get(f"/api/v1/projects/{project}", headers=author(app)).status_code == 404


# --- processing results and file routes -------------------------------------------------------------------
def test_pdf_poster_previews_are_served_only_through_authorised_routes(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    poster = _ready_poster(app, project, files.pdf(4), "poster.pdf")
    body = client.get(f"/api/v1/posters/{poster}", headers=attendee(app)).get_json()
    assert (body["status"], body["page_count"], len(body["pages"])) == ("ready", 4, 4)
    assert body["thumbnail_url"] == f"/api/v1/posters/{poster}/thumbnail.png"
    assert body["pages"][3]["url"] == f"/api/v1/posters/{poster}/pages/4.png"

    thumb = client.get(body["thumbnail_url"], headers=attendee(app))
    assert thumb.status_code == 200
    assert thumb.mimetype == "image/png"
    assert thumb.headers["Content-Disposition"] == f"inline; filename=poster-{poster}-thumbnail.png"
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(thumb.data)).width == app.config["THUMBNAIL_WIDTH"]
    page = client.get(body["pages"][3]["url"], headers=attendee(app))
    assert page.status_code == 200 and page.data.startswith(b"\x89PNG")
    assert client.get(f"/api/v1/posters/{poster}/pages/5.png", headers=attendee(app)).status_code == 404
    assert client.get(f"/api/v1/posters/{poster}/pages/0.png", headers=attendee(app)).status_code == 404
    assert client.get(body["thumbnail_url"]).status_code == 401
    assert client.get(f"/api/v1/posters/{poster}/video", headers=attendee(app)).status_code == 404
    assert outbox_types(app) == ["ProjectPublished", "PosterReady"]


def test_images_are_re_encoded_without_metadata(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    original = files.jpeg_with_gps()
    assert b"SecretCam" in original
    poster = _ready_poster(app, project, original, "photo.JPG")
    page = client.get(f"/api/v1/posters/{poster}/pages/1.png", headers=attendee(app))
    image = Image.open(io.BytesIO(page.data))
    assert image.format == "PNG" and not image.getexif() and "exif" not in image.info
    assert b"SecretCam" not in page.data and b"SERIAL-1234" not in page.data
    storage = app.extensions["storage"]
    assert not storage.exists(__import__("hashlib").sha256(original).hexdigest())  # original not kept


def test_hidden_project_files_are_visible_only_to_owner_and_organisers(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    poster = _ready_poster(app, project, files.png(300, 200), "p.png")
    thumb = f"/api/v1/posters/{poster}/thumbnail.png"
    assert client.post(f"/api/v1/projects/{project}/hide", headers=attendee(app)).status_code == 403
    assert client.post(f"/api/v1/projects/{project}/hide", headers=author(app)).status_code == 403
    hidden = client.post(f"/api/v1/projects/{project}/hide", json={"reason": "off topic"}, headers=organiser(app))
    assert hidden.status_code == 200 and hidden.get_json()["hidden"] is True
    assert client.get(thumb, headers=attendee(app)).status_code == 404
    assert client.get(f"/api/v1/projects/{project}", headers=attendee(app)).status_code == 404
    assert client.get(thumb, headers=author(app)).status_code == 200
    assert client.get(thumb, headers=organiser(app)).status_code == 200
    assert client.get(f"/api/v1/projects/{project}", headers=author(app)).get_json()["hidden_reason"] == "off topic"
    gallery = client.get("/api/v1/events/1/posters", headers=attendee(app)).get_json()
    assert gallery["total"] == 0
    assert client.post(f"/api/v1/projects/{project}/unhide", headers=organiser(app)).status_code == 200
    assert client.get(thumb, headers=attendee(app)).status_code == 200
    assert client.post("/api/v1/projects/999/hide", headers=organiser(app)).status_code == 404


def test_processing_posters_are_not_shown_to_attendees(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    poster = upload(client, app, project, files.pdf(1), "p.pdf").get_json()["id"]
    assert client.get(f"/api/v1/posters/{poster}", headers=attendee(app)).status_code == 404
    assert client.get(f"/api/v1/posters/{poster}", headers=author(app)).get_json()["status"] == "processing"
    assert client.get(f"/api/v1/projects/{project}", headers=attendee(app)).get_json()["posters"] == []
    assert client.get(f"/api/v1/posters/{poster}/thumbnail.png", headers=author(app)).status_code == 404


# --- managing posters -----------------------------------------------------------------------------------
def test_reorder_replace_and_delete(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    a = _ready_poster(app, project, files.png(800, 400, (1, 2, 3)), "a.png")
    b = _ready_poster(app, project, files.png(800, 400, (4, 5, 6)), "b.png")
    c = _ready_poster(app, project, files.pdf(2), "c.pdf")
    order_url = f"/api/v1/projects/{project}/posters/order"

    def order() -> list[int]:
        return [p["id"] for p in client.get(f"/api/v1/projects/{project}", headers=attendee(app)).get_json()["posters"]]

    assert order() == [a, b, c]
    assert client.put(order_url, json={"poster_ids": [c, a, b]}, headers=author(app)).status_code == 200
    assert order() == [c, a, b]
    for bad in ([c, a], [c, a, b, b], [c, a, b, 999]):
        response = client.put(order_url, json={"poster_ids": bad}, headers=author(app))
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "poster_ids"
    assert client.put(order_url, json={"poster_ids": [a, b, c]}, headers=author(app, OTHER_AUTHOR)).status_code == 403

    # Replacing keeps the old poster on show until the new file is ready, then takes its place.
    replaced = client.post(
        f"/api/v1/posters/{a}/replace",
        data={"file": (io.BytesIO(files.pdf(3)), "a-v2.pdf")},
        content_type="multipart/form-data",
        headers=author(app),
    )
    assert replaced.status_code == 202 and replaced.get_json()["replaces"] == a
    new = replaced.get_json()["id"]
    assert order() == [c, a, b]
    process_in_process(app)
    assert order() == [c, new, b]
    assert client.get(f"/api/v1/posters/{a}", headers=author(app)).status_code == 404

    storage = app.extensions["storage"]
    before = storage.count()
    assert client.delete(f"/api/v1/posters/{b}", headers=author(app, OTHER_AUTHOR)).status_code == 403
    assert client.delete(f"/api/v1/posters/{b}", headers=author(app)).status_code == 204
    assert order() == [c, new]
    assert storage.count() == before - 2  # b's page and thumbnail (images keep no original)


def test_one_video_per_project_served_with_ranges(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    video = _ready_poster(app, project, videos.mp4(), "talk.mp4")  # a real H.264 clip
    body = client.get(f"/api/v1/projects/{project}", headers=attendee(app)).get_json()
    assert [v["id"] for v in body["videos"]] == [video] and body["posters"] == []
    assert upload(client, app, project, videos.mp4(), "again.mp4").status_code == 409
    served = client.get(f"/api/v1/posters/{video}/video", headers={**attendee(app), "Range": "bytes=0-99"})
    assert served.status_code == 206 and served.mimetype == "video/mp4" and len(served.data) == 100
    assert served.headers["Content-Disposition"] == f"inline; filename=project-{project}-video.mp4"


# --- gallery, search, similar ---------------------------------------------------------------------------
def _seed_gallery(app: Flask) -> dict[str, int]:
    client = app.test_client()
    ids = {
        "linkage": create_project(
            client,
            app,
            title="Linking hospital records",
            summary="Record linkage at scale.",
            themes=["Data linkage"],
            tools=["Python"],
        ),
        "trials": create_project(
            client,
            app,
            user_id=OTHER_AUTHOR,
            title="Trial recruitment dashboards",
            summary="Dashboards for recruiting patients.",
            themes=["Clinical trials"],
            tools=["Power BI"],
            organisation="Org C",
            region="South",
        ),
        "privacy": create_project(
            client,
            app,
            title="Privacy preserving record linkage",
            summary="Bloom filters for linking records without identifiers.",
            themes=["Data linkage", "Privacy"],
            tools=["Python", "Spark"],
        ),
    }
    _ready_poster(
        app, ids["trials"], files.pdf(2, ["Kaplan Meier curves for recruitment"]), "t.pdf", user_id=OTHER_AUTHOR
    )
    return ids


def test_gallery_search_filters_sort_and_paging(app):  # type: ignore[no-untyped-def]
    ids = _seed_gallery(app)
    client = app.test_client()

    def search(**params: object) -> dict:
        response = client.get("/api/v1/events/1/posters", query_string=params, headers=attendee(app))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    everything = search()
    assert everything["total"] == 3
    assert [c["id"] for c in everything["items"]] == [ids["privacy"], ids["trials"], ids["linkage"]]  # recent
    trials = next(c for c in everything["items"] if c["id"] == ids["trials"])
    assert trials["poster_count"] == 1 and trials["thumbnail_url"].endswith("/thumbnail.png")

    assert [c["id"] for c in search(q="kaplan")["items"]] == [ids["trials"]]  # text extracted from the poster
    assert [c["id"] for c in search(q="meier curv")["items"]] == [ids["trials"]]  # last word as prefix
    assert [c["id"] for c in search(q="User 11")["items"]] == [ids["trials"]]  # authors
    linkage = search(q="record linkage")
    assert [c["id"] for c in linkage["items"]] == [ids["privacy"], ids["linkage"]]  # title + summary rank first
    assert linkage["sort"] == "relevance"
    assert {c["id"] for c in search(theme="data LINKAGE")["items"]} == {ids["linkage"], ids["privacy"]}
    assert [c["id"] for c in search(tool="spark")["items"]] == [ids["privacy"]]
    assert [c["id"] for c in search(organisation="org c")["items"]] == [ids["trials"]]
    assert [c["id"] for c in search(region="South")["items"]] == [ids["trials"]]
    assert search(q="linkage", organisation="Org C")["total"] == 0
    paged = search(per_page=2, page=2)
    assert (paged["total"], paged["pages"], [c["id"] for c in paged["items"]]) == (3, 2, [ids["linkage"]])
    for hostile in ['"unbalanced', "a AND OR NOT (", "title:x*", "NEAR(a b)", "-x", "💥"]:
        assert search(q=hostile)["total"] >= 0
    for bad in ({"sort": "random"}, {"page": 0}, {"per_page": 500}, {"q": "x" * 500}):
        response = client.get("/api/v1/events/1/posters", query_string=bad, headers=attendee(app))
        assert response.status_code == 400
    assert client.get("/api/v1/events/1/posters").status_code == 401
    missing = client.get("/api/v1/events/42/posters", headers=attendee(app))
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "event_id"


def test_similar_projects_come_from_text_similarity(app):  # type: ignore[no-untyped-def]
    ids = _seed_gallery(app)
    client = app.test_client()
    similar = client.get(f"/api/v1/projects/{ids['linkage']}/similar", headers=attendee(app))
    assert similar.status_code == 200
    items = similar.get_json()["items"]
    assert items[0]["id"] == ids["privacy"]
    assert ids["linkage"] not in [i["id"] for i in items]
    # A new, closer project changes the answer (the cached model is refitted).
    closer = create_project(
        client,
        app,
        title="Linking hospital records again",
        summary="Record linkage at scale.",
        themes=["Data linkage"],
        tools=["Python"],
    )
    items = client.get(f"/api/v1/projects/{ids['linkage']}/similar", headers=attendee(app)).get_json()["items"]
    assert items[0]["id"] == closer


def test_upload_failures_for_organisers(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    project = create_project(client, app)
    poster = upload(client, app, project, files.pdf_with_javascript(), "js.pdf").get_json()["id"]
    assert process_in_process(app) == {poster: "rejected"}
    assert client.get("/api/v1/events/1/upload-failures", headers=attendee(app)).status_code == 403
    failures = client.get("/api/v1/events/1/upload-failures", headers=organiser(app)).get_json()
    assert failures["total"] == 1
    assert failures["items"][0]["poster_id"] == poster and "JavaScript" in failures["items"][0]["reason"]
    mine = client.get(f"/api/v1/posters/{poster}", headers=author(app)).get_json()
    assert mine["status"] == "rejected" and "JavaScript" in mine["reason"]
    assert client.get(f"/api/v1/posters/{poster}", headers=attendee(app)).status_code == 404
    assert outbox_types(app)[-1] == "PosterRejected"


def test_identity_organisation_is_only_a_default(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    headers = identity_headers(app, 77, "author", organisation="Org Z")
    response = client.post("/api/v1/events/1/projects", json=project_body(organisation="Partner Org"), headers=headers)
    assert response.get_json()["organisation"] == "Partner Org"


def test_a_single_question_string_is_one_question(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    response = client.post(
        "/api/v1/events/1/projects", json=project_body(questions="Who else tried this?"), headers=author(app)
    )
    assert response.status_code == 201 and response.get_json()["questions"] == ["Who else tried this?"]


def test_processing_is_idempotent_and_survives_deletion_midway(app):  # type: ignore[no-untyped-def]
    from services.posters.adapters.orm import PosterRow

    client = app.test_client()
    project = create_project(client, app)
    storage = app.extensions["storage"]
    deleted = upload(client, app, project, files.pdf(2), "gone.pdf").get_json()["id"]
    assert client.delete(f"/api/v1/posters/{deleted}", headers=author(app)).status_code == 204
    assert process_in_process(app) == {}
    assert storage.count() == 0  # the blob went with the row; a late task finds nothing to do

    crashing = upload(client, app, project, files.pdf(1), "crash.pdf").get_json()["id"]
    with app.extensions["db"].unit_of_work() as session:
        session.get(PosterRow, crashing).attempts = 3  # as if the worker died on it three times
    assert process_in_process(app) == {crashing: "rejected"}
    body = client.get(f"/api/v1/posters/{crashing}", headers=author(app)).get_json()
    assert body["reason"] == "the file could not be processed"
    assert storage.count() == 0

    fine = upload(client, app, project, files.pdf(1), "fine.pdf").get_json()["id"]
    assert process_in_process(app) == {fine: "ready"}
    from services.posters import uploads
    from services.posters.adapters.search import SqliteFtsIndex
    from services.posters.settings import Limits

    again = uploads.process_poster(
        app.extensions["db"], storage, SqliteFtsIndex(), Limits.from_config(app.config), fine
    )
    assert again == "ready" and outbox_types(app).count("PosterReady") == 1  # a redelivered task changes nothing
