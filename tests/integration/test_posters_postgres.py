"""The Postgres full-text adapter (compose's database) on a real throwaway Postgres cluster.

`make test` installs Debian's server binaries; the cluster is started by tests/support/postgres.py.
"""

from __future__ import annotations

import uuid

import pytest

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


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database(f"posters_{uuid.uuid4().hex[:8]}")


def test_search_and_similar_on_postgres(make_app, postgres_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POSTERS_DATABASE_URL", postgres_url)
    app = make_app("posters", RATE_LIMITS=False)
    assert app.extensions["db"].engine.dialect.name == "postgresql"
    announce_event(app, 1)
    client = app.test_client()
    linkage = create_project(client, app, title="Linking hospital records", summary="Record linkage at scale.")
    privacy = create_project(
        client,
        app,
        title="Privacy preserving record linkage",
        summary="Bloom filters for linking records.",
        tools=["Spark"],
    )
    trials = create_project(
        client, app, title="Trial dashboards", summary="Recruiting patients faster.", themes=["Clinical trials"]
    )
    poster = upload(client, app, trials, files.pdf(1, ["Kaplan Meier survival curves"]), "t.pdf").get_json()["id"]
    assert process_in_process(app) == {poster: "ready"}

    def ids(**params: object) -> list[int]:
        response = client.get("/api/v1/events/1/posters", query_string=params, headers=attendee(app))
        assert response.status_code == 200, response.get_json()
        return [c["id"] for c in response.get_json()["items"]]

    assert ids(q="kaplan survival") == [trials]
    assert ids(q="meier curv") == [trials]  # prefix of the last word, stemmed
    assert ids(q="record linkage") == [privacy, linkage]
    assert ids(q="linking", tool="spark") == [privacy]
    assert ids(q='"); DROP TABLE projects; --') == []
    assert set(ids()) == {linkage, privacy, trials}

    def facets(**params: object) -> dict:
        response = client.get("/api/v1/events/1/facets", query_string=params, headers=attendee(app))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        return {
            "total": body["total"],
            **{k: [(v["label"], v["count"]) for v in body[k]] for k in body if k != "total"},
        }

    assert facets() == {
        "total": 3,
        "themes": [("Data linkage", 2), ("Privacy", 2), ("Clinical trials", 1)],
        "tools": [("DataSHIELD", 2), ("R", 2), ("Spark", 1)],
        "organisations": [("Org A", 3)],
        "regions": [("North", 3)],
    }
    searched = facets(q="linking", tool="SPARK")  # full-text match and the other filters narrow; own one does not
    assert searched["total"] == 1
    assert searched["tools"] == [("DataSHIELD", 1), ("R", 1), ("Spark", 1)]
    assert searched["themes"] == [("Data linkage", 1), ("Privacy", 1)]
    assert facets(q="kaplan", theme="privacy")["themes"] == [("Clinical trials", 1), ("privacy", 0)]
    assert client.get("/api/v1/events/9/facets", headers=attendee(app)).status_code == 404
    similar = client.get(f"/api/v1/projects/{linkage}/similar", headers=attendee(app)).get_json()["items"]
    assert similar[0]["id"] == privacy
    assert client.delete(f"/api/v1/projects/{privacy}", headers=author(app)).status_code == 204
    assert ids(q="linkage") == [linkage]
