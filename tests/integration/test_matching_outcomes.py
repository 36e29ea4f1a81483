"""The organiser's outcome report in the matching service: facts arrive as events (posters viewed, chats held,
follow-up actions, survey answers), the report counts people by its definitions, only the day's organiser sees it,
and no figure under 5 people shows or can be recovered by combining every filter combination the page offers."""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from services.matching.outcomes.domain import ALL, DIMENSIONS, METRICS
from services.matching.outcomes.privacy import MIN_CELL, Sum, leaks
from services.matching.registration.models import PersonCopy
from shared.events import ChatHeld, Envelope, ProjectViewed, SurveyAnswered

pytestmark = pytest.mark.integration

ORGANISER = 1
DAY = {
    "title": "Outcome day",
    "starts_at": "2030-06-03T08:00:00+00:00",
    "ends_at": "2030-06-03T17:00:00+00:00",
    "timezone": "Europe/London",
}
REGIONS = ("North", "South", "West")


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("matching")


@pytest.fixture
def organiser(app: Flask, as_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return as_user(app, ORGANISER, "organiser")


@pytest.fixture
def day(app: Flask, organiser: dict[str, str], as_user) -> int:  # type: ignore[no-untyped-def]
    """A day with 23 attendees in 3 regions and 7 organisations, some of whom viewed posters, chatted and answered
    the survey."""
    client = app.test_client()
    day_id = int(client.post("/api/v1/events", json=DAY, headers=organiser).json["id"])
    client.put(f"/api/v1/events/{day_id}/thesaurus", json={"themes": ["privacy"]}, headers=organiser)
    for user_id in range(10, 33):
        headers = as_user(app, user_id, "attendee", organisation=f"Org {user_id % 7}")
        response = client.put(f"/api/v1/events/{day_id}/registration", json={"themes": ["privacy"]}, headers=headers)
        assert response.status_code == 200, response.json
    db = app.extensions["db"]
    with db.unit_of_work() as session:
        for user_id in range(10, 33):
            region = REGIONS[0] if user_id < 24 else REGIONS[1] if user_id < 30 else REGIONS[2]
            session.execute(update(PersonCopy).where(PersonCopy.user_id == user_id).values(region=region))
    return day_id


def _deliver(app: Flask, *events: Any) -> None:
    from services.matching.consumers import handlers

    table = handlers(app)
    for event in events:
        table[type(event).__name__](event.envelope())


def _facts(app: Flask, day: int) -> None:
    views = [ProjectViewed(project_id=p, event_id=day, user_id=u, viewed_at="2030-06-03T09:00:00+00:00")
             for u in range(10, 22) for p in (1, 2, 3)]
    chats = [ChatHeld(room_id=f"r{u}", event_id=day, slot_id=u, project_id=1, author_id=u, attendee_id=u + 1,
                      held_at="2030-06-03T10:00:00+00:00") for u in range(22, 30, 2)]
    survey = [SurveyAnswered(event_id=day, user_id=u, contacted_someone=u % 2 == 0, adopted_something=u % 3 == 0,
                             blockers="", answered_at="2030-06-05T09:00:00+00:00") for u in range(10, 30)]
    _deliver(app, *views, *chats, *survey)


def test_facts_from_events_are_applied_once_and_counted(app: Flask, organiser: dict[str, str], day: int) -> None:
    _facts(app, day)
    _facts(app, day)  # the same facts again, as new events: still one view per person and project, one chat per room
    envelope = ProjectViewed(project_id=1, event_id=day, user_id=10, viewed_at="2030-06-03T09:00:00+00:00").envelope()
    from services.matching.consumers import handlers

    handlers(app)["ProjectViewed"](envelope)
    handlers(app)["ProjectViewed"](Envelope.from_json(envelope.to_json()))  # a redelivery of the same event
    report = app.test_client().get(f"/api/v1/events/{day}/outcomes", headers=organiser).json
    assert report["funnel"]["registered"] == 23
    # Active: 12 viewed 3 posters (10..21), 8 held a chat (22..29) -> 20.
    assert report["funnel"]["active"] == 20
    assert report["engagement"]["viewed_3_posters"] == 12
    assert report["engagement"]["held_chat"] == 8
    assert report["funnel"]["followed_up"] == 13  # even ids or multiples of 3 among 10..29
    # 23 people in 7 organisations of 3-4: no small organisation; everyone is at their first day.
    assert report["new_voices"][0] == {"group": "first-time attendees", "registered": 23, "active": 20}
    assert report["new_voices"][1] == {"group": "small organisations", "registered": None, "active": None}


def test_only_the_day_s_organiser_sees_the_report(app: Flask, organiser: dict[str, str], day: int, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.get(f"/api/v1/events/{day}/outcomes").status_code == 401
    attendee = as_user(app, 10, "attendee")
    assert client.get(f"/api/v1/events/{day}/outcomes", headers=attendee).status_code == 403
    other = as_user(app, 2, "organiser")
    assert client.get(f"/api/v1/events/{day}/outcomes", headers=other).status_code == 403
    assert client.get(f"/api/v1/events/{day}/outcomes.csv", headers=other).status_code == 403
    assert client.get("/api/v1/events/99999/outcomes", headers=organiser).status_code == 404
    bad = client.get(f"/api/v1/events/{day}/outcomes?region=Atlantis", headers=organiser)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "region"


def _figures(report: dict[str, Any]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for section in ("funnel", "engagement", "coffee"):
        out.update(report[section])
    out.update({f"new_contacts_{k}": v for k, v in report["new_crossorg_contacts"].items()})
    out["met_someone_known"] = report["met_someone_known"]
    return out


def test_every_filter_combination_hides_small_cells_and_together_they_give_none_away(
    app: Flask, organiser: dict[str, str], day: int
) -> None:
    _facts(app, day)
    client = app.test_client()
    options = client.get(f"/api/v1/events/{day}/outcomes", headers=organiser).json["filter_options"]
    assert options["region"] == sorted(REGIONS)
    combos = list(itertools.product(*[[ALL, *options[d]] for d in DIMENSIONS]))
    cells: dict[tuple[tuple[str, ...], str], int | None] = {}
    for combo in combos:
        query = "&".join(f"{d}={v}" for d, v in zip(DIMENSIONS, combo, strict=True) if v != ALL)
        report = client.get(f"/api/v1/events/{day}/outcomes?{query}", headers=organiser).json
        for metric, value in _figures(report).items():
            assert value is None or value >= MIN_CELL, (combo, metric, value)
            cells[(combo, metric)] = value
        exported = client.get(f"/api/v1/events/{day}/outcomes.csv?{query}", headers=organiser)
        rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
        for _, item, _, value in rows[2:]:
            assert value == "<5" or int(value) >= MIN_CELL or item == "largest_org_percent", (combo, item, value)
    hidden = {k for k, v in cells.items() if v is None}
    assert hidden, "a day of 23 people in 3 regions has small cells"
    # An attacker's equations: along every filter, the "any" figure is the sum of the per-value figures.
    equations: list[Sum] = []
    for combo in combos:
        for d, dim in enumerate(DIMENSIONS):
            if combo[d] != ALL:
                continue
            children = [tuple(v if i == d else combo[i] for i in range(3)) for v in options[dim]]
            equations += [Sum((combo, m), tuple((c, m) for c in children)) for m in METRICS]
        bins = tuple((combo, f"new_contacts_{n}") for n in ("0", "1-2", "3-5", "6+"))
        equations.append(Sum((combo, "registered"), bins))
    values = {k: (v if v is not None else 0) for k, v in cells.items()}
    assert leaks(values, hidden, equations) == []
