"""The Postgres full-text adapter (compose's database) on a real throwaway Postgres cluster.

Skipped where the Postgres server binaries are not installed; the SQLite FTS5 adapter is tested everywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
from tests.support.processes import free_port, wait_until

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    return found or (str(PG_BIN / name) if (PG_BIN / name).exists() else None)


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("postgres server binaries not installed")
    # Not under pytest's tmp dir: that one is private to root, and the server runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="posters-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "postgres", "-A", "trust"]), check=True, capture_output=True
    )
    subprocess.run(
        _as_postgres(
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        wait_until(lambda: psycopg.connect(admin).close() or True, what="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE posters")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/posters"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


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
