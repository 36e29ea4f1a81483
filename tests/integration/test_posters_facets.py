"""Filter facets of the gallery (GET /api/v1/events/{e}/facets): counts per theme, organisation, region and tool
for the current search and the other filters, on SQLite FTS5 (tests/integration/test_posters_postgres.py runs a
smaller check on Postgres)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.fixtures.posters.helpers import (
    OTHER_AUTHOR,
    announce_event,
    attendee,
    author,
    create_project,
    organiser,
    project_body,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False)
    announce_event(app, 1)
    announce_event(app, 2, "Another day")
    return app


def _seed(app: Flask) -> dict[str, int]:
    """Five visible projects of day 1 (one hidden more), one of day 2 that must never be counted."""
    client = app.test_client()
    ids = {
        "linkage": create_project(
            client, app, title="Linking hospital records", themes=["Data linkage"], tools=["Python"]
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
            summary="Bloom filters for linking records.",
            themes=["Data linkage", "Privacy"],
            tools=["Python", "Spark"],
        ),
        # Spelled differently, same filter key: counted with "Data linkage" / "Org A".
        "spelling": create_project(
            client, app, title="Linkage quality audits", themes=["data  LINKAGE"], tools=[], organisation="org a"
        ),
        "genomics": create_project(
            client,
            app,
            title="Genomics pipelines",
            summary="Variant calling at scale.",
            themes=["Genomics"],
            tools=["Python"],
            organisation="Org D",
            region="West",
        ),
    }
    # No organisation at all (the author has none either): not a facet value, still in the total.
    response = client.post(
        "/api/v1/events/1/projects",
        json=project_body(title="Anonymous survey methods", themes=["Surveys"], tools=[]),
        headers=author(app, 12, organisation=""),
    )
    assert response.status_code == 201, response.get_json()
    ids["anonymous"] = response.get_json()["id"]
    create_project(client, app, event_id=2, title="Other day linkage", themes=["Data linkage"], organisation="Org C")
    hidden = client.post(f"/api/v1/projects/{ids['genomics']}/hide", json={}, headers=organiser(app))
    assert hidden.status_code == 200
    return ids


def _facets(client: FlaskClient, headers: dict[str, str], event_id: int = 1, **params: object) -> dict[str, Any]:
    response = client.get(f"/api/v1/events/{event_id}/facets", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _counts(body: dict[str, Any], facet: str) -> list[tuple[str, int]]:
    return [(v["label"], v["count"]) for v in body[facet]]


def test_counts_per_value_sorted_by_count_then_label(app):  # type: ignore[no-untyped-def]
    _seed(app)
    body = _facets(app.test_client(), attendee(app))
    assert body["total"] == 5  # the hidden project and the other day's are not counted
    assert _counts(body, "themes") == [("Data linkage", 3), ("Clinical trials", 1), ("Privacy", 1), ("Surveys", 1)]
    assert _counts(body, "tools") == [("Python", 2), ("Power BI", 1), ("Spark", 1)]
    assert _counts(body, "organisations") == [("Org A", 3), ("Org C", 1)]  # "org a" merged; no empty value
    assert _counts(body, "regions") == [("North", 4), ("South", 1)]
    first = body["themes"][0]
    assert first == {"label": "Data linkage", "key": "data linkage", "count": 3, "selected": False}


def test_a_facets_own_filter_does_not_narrow_its_own_list(app):  # type: ignore[no-untyped-def]
    _seed(app)
    body = _facets(app.test_client(), attendee(app), theme="PRIVACY")
    assert body["total"] == 1  # what the gallery would list
    # Themes: every theme still there with its count (so one can switch), the chosen one marked.
    assert _counts(body, "themes") == [("Data linkage", 3), ("Clinical trials", 1), ("Privacy", 1), ("Surveys", 1)]
    assert [v["label"] for v in body["themes"] if v["selected"]] == ["Privacy"]
    # The other facets count only projects about privacy.
    assert _counts(body, "tools") == [("Python", 1), ("Spark", 1)]
    assert _counts(body, "organisations") == [("Org A", 1)]
    assert _counts(body, "regions") == [("North", 1)]

    both = _facets(app.test_client(), attendee(app), theme="Data linkage", tool="python")
    assert both["total"] == 2
    assert _counts(both, "themes") == [("Data linkage", 2), ("Privacy", 1)]  # projects using Python
    assert _counts(both, "tools") == [("Python", 2), ("Spark", 1)]  # projects about data linkage
    assert _counts(both, "organisations") == [("Org A", 2)]

    # A chosen value nothing matches stays listed (count 0), so a shared link's filter can be seen and undone.
    none = _facets(app.test_client(), attendee(app), organisation="Org C", theme="privacy")
    assert none["total"] == 0
    assert _counts(none, "themes") == [("Clinical trials", 1), ("privacy", 0)]  # as the link spells it
    assert [(v["label"], v["count"]) for v in none["organisations"] if v["selected"]] == [("Org C", 0)]
    unknown = _facets(app.test_client(), attendee(app), region="  atlantis ")
    assert unknown["total"] == 0
    assert unknown["regions"][-1] == {"label": "atlantis", "key": "atlantis", "count": 0, "selected": True}


def test_search_narrows_every_facet(app):  # type: ignore[no-untyped-def]
    _seed(app)
    client = app.test_client()
    body = _facets(client, attendee(app), q="linkage")
    assert body["total"] == 3
    assert _counts(body, "themes") == [("Data linkage", 3), ("Privacy", 1)]
    assert _counts(body, "tools") == [("Python", 2), ("Spark", 1)]
    gallery = client.get("/api/v1/events/1/posters", query_string={"q": "linkage"}, headers=attendee(app))
    assert gallery.get_json()["total"] == body["total"]
    prefix = _facets(client, attendee(app), q="dashb", tool="Spark")  # last word a prefix; no Spark dashboards
    assert prefix["total"] == 0
    assert _counts(prefix, "tools") == [("Power BI", 1), ("Spark", 0)]
    assert _counts(prefix, "themes") == []
    for hostile in ['"unbalanced', "a AND OR NOT (", "NEAR(a b)", "💥"]:
        assert _facets(client, attendee(app), q=hostile)["total"] >= 0
    assert _facets(client, attendee(app), q="zzzunknownword")["themes"] == []


def test_hidden_projects_only_for_organisers_who_ask(app):  # type: ignore[no-untyped-def]
    _seed(app)
    client = app.test_client()
    assert _facets(client, organiser(app))["total"] == 5
    everything = _facets(client, organiser(app), include_hidden=1)
    assert everything["total"] == 6
    assert ("Genomics", 1) in _counts(everything, "themes")
    assert ("Org D", 1) in _counts(everything, "organisations")
    assert _counts(everything, "tools")[0] == ("Python", 3)
    sneaky = _facets(client, attendee(app), include_hidden=1)  # not an organiser: the flag is ignored
    assert sneaky["total"] == 5 and "Genomics" not in [v["label"] for v in sneaky["themes"]]


def test_access_and_bad_input(app):  # type: ignore[no-untyped-def]
    _seed(app)
    client = app.test_client()
    no_identity = client.get("/api/v1/events/1/facets")
    assert no_identity.status_code == 401 and no_identity.get_json()["error"]["code"]
    missing = client.get("/api/v1/events/42/facets", headers=attendee(app))
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "event_id"
    filtered_missing = client.get("/api/v1/events/42/facets", query_string={"q": "x"}, headers=attendee(app))
    assert filtered_missing.status_code == 404
    empty_day = _facets(client, attendee(app), event_id=2, theme="Nothing")
    assert empty_day["total"] == 0 and _counts(empty_day, "themes") == [("Data linkage", 1), ("Nothing", 0)]
    for bad, field in (
        ({"q": "x" * 201}, "q"),
        ({"theme": "t" * 101}, "theme"),
        ({"organisation": "o" * 201}, "organisation"),
    ):
        response = client.get("/api/v1/events/1/facets", query_string=bad, headers=attendee(app))
        assert response.status_code == 400 and response.get_json()["error"]["field"] == field
