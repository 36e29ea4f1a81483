"""Posters: per-person project and storage quotas (a clear 4xx naming the limit, nothing written) and the organiser
switch "authors need approval" (projects of unapproved authors stay out of the gallery until approved)."""

from __future__ import annotations

from io import BytesIO

import pytest
from flask import Flask
from PIL import Image

from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import (
    AUTHOR,
    OTHER_AUTHOR,
    announce_event,
    attendee,
    author,
    create_project,
    organiser,
    outbox_types,
    poster_rows,
    project_body,
    upload,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False, MAX_PROJECTS_PER_USER=2, MAX_STORAGE_MB_PER_USER=0.05)
    announce_event(app, 1)
    announce_event(app, 2, "Second day")
    return app


def gallery_titles(app: Flask, headers: dict[str, str], event_id: int = 1) -> list[str]:
    response = app.test_client().get(f"/api/v1/events/{event_id}/posters", headers=headers)
    assert response.status_code == 200, response.get_json()
    return sorted(item["title"] for item in response.get_json()["items"])


def test_project_quota_counts_every_insight_day_and_names_the_limit(app: Flask) -> None:
    client = app.test_client()
    create_project(client, app, event_id=1)
    create_project(client, app, event_id=2)
    refused = client.post("/api/v1/events/1/projects", json=project_body(), headers=author(app))
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == "quota_exceeded" and "at most 2 projects" in error["message"]
    assert outbox_types(app) == ["ProjectPublished", "ProjectPublished"]  # nothing written for the refusal
    create_project(client, app, user_id=OTHER_AUTHOR)  # a quota per person, not per day
    organiser_headers = organiser(app)
    for _ in range(3):  # organisers are appointed, not self-registered: no quota
        assert (
            client.post("/api/v1/events/1/projects", json=project_body(), headers=organiser_headers).status_code == 201
        )


def noise_png(side: int) -> bytes:
    """A genuine PNG that does not compress: about 3 bytes per pixel."""
    buffer = BytesIO()
    Image.effect_noise((side, side), 90).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def test_storage_quota_refuses_the_file_that_would_overflow_it(app: Flask) -> None:
    client = app.test_client()
    quota = int(0.05 * 1024 * 1024)
    project = create_project(client, app)
    small, big = files.png(60, 40, (10, 20, 30)), noise_png(220)
    assert len(small) < quota < len(small) + len(big)
    assert upload(client, app, project, small, "one.png").status_code == 202
    before = poster_rows(app)
    refused = upload(client, app, project, big, "big.png")
    assert refused.status_code == 413
    error = refused.get_json()["error"]
    assert error["code"] == "quota_exceeded" and error["field"] == "file"
    assert "of the 51.2 KiB one person may store" in error["message"]  # the limit, as configured (0.05 MiB)
    assert poster_rows(app) == before  # no row written
    # Each person has their own quota; the refused file did not count.
    other_project = create_project(client, app, user_id=OTHER_AUTHOR)
    assert upload(client, app, other_project, big, "big.png", user_id=OTHER_AUTHOR).status_code == 413
    assert upload(client, app, other_project, small, "small.png", user_id=OTHER_AUTHOR).status_code == 202
    assert upload(client, app, project, small[:-1] + b"x", "two.png").status_code == 202  # still room for this


def test_projects_of_unapproved_authors_wait_for_an_organiser(app: Flask) -> None:
    client = app.test_client()
    boss, visitor = organiser(app), attendee(app)
    before = create_project(client, app, title="Shown before the switch")
    assert (
        client.put("/api/v1/events/1/author-approval", json={"required": True}, headers=author(app)).status_code == 403
    )
    assert client.put("/api/v1/events/1/author-approval", json={"required": "yes"}, headers=boss).status_code == 400
    switched = client.put("/api/v1/events/1/author-approval", json={"required": True}, headers=boss)
    assert switched.status_code == 200 and switched.get_json()["projects_changed"] == 1
    assert gallery_titles(app, visitor) == []  # the existing project of an unapproved author is held too

    held = create_project(client, app, user_id=OTHER_AUTHOR, title="Waiting for approval")
    assert gallery_titles(app, visitor) == []
    assert client.get(f"/api/v1/projects/{held}", headers=visitor).status_code == 404
    own = client.get(f"/api/v1/projects/{held}", headers=author(app, OTHER_AUTHOR))
    assert own.status_code == 200 and own.get_json()["hidden"] is True  # the author sees why

    overview = client.get("/api/v1/events/1/author-approval", headers=boss).get_json()
    waiting = {a["user_id"]: a for a in overview["authors"]}
    assert overview["required"] is True and not waiting[OTHER_AUTHOR]["approved"]
    assert [p["id"] for p in waiting[OTHER_AUTHOR]["held_projects"]] == [held]

    approved = client.put(f"/api/v1/events/1/author-approval/authors/{OTHER_AUTHOR}", headers=boss)
    assert approved.status_code == 200 and approved.get_json()["projects_changed"] == 1
    assert gallery_titles(app, visitor) == ["Waiting for approval"]
    create_project(client, app, user_id=OTHER_AUTHOR, title="Approved author's second")
    assert gallery_titles(app, visitor) == ["Approved author's second", "Waiting for approval"]

    # An organiser's own hide is not undone by approving its author.
    hidden = client.post(f"/api/v1/projects/{before}/hide", json={"reason": "off topic"}, headers=boss)
    assert hidden.status_code == 200
    client.put(f"/api/v1/events/1/author-approval/authors/{AUTHOR}", headers=boss)
    assert gallery_titles(app, visitor) == ["Approved author's second", "Waiting for approval"]

    client.put("/api/v1/events/1/author-approval", json={"required": False}, headers=boss)
    assert "ProjectUpdated" in outbox_types(app)  # matching's copy learns each change of visibility


def test_concurrent_creations_cannot_overshoot_the_quota(
    make_app, postgres_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Twelve creations by one author at once against PostgreSQL with a quota of 3: exactly 3 get through."""
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    url = postgres_server.create_database(f"posters_quota_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("POSTERS_DATABASE_URL", url)
    app = make_app("posters", RATE_LIMITS=False, MAX_PROJECTS_PER_USER=3)
    announce_event(app, 1)
    headers = author(app)

    def create(_: int) -> int:
        return app.test_client().post("/api/v1/events/1/projects", json=project_body(), headers=headers).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(create, range(12)))
    assert statuses == [201] * 3 + [403] * 9
