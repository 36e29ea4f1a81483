"""Assignment runs end to end inside matching: a day set up and registered through the API, the named Celery task
run by a real worker process, progress, quality beside the bound, locks, compare, publish, schedules."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from services.matching.adapters.orm import Outbox
from services.matching.assignment import service as assignment_service
from services.matching.assignment.models import AssignmentRun
from tests.support.processes import Process, celery_worker, service_env, wait_until

pytestmark = pytest.mark.integration

ORGANISER = 1
DAY_START = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=30)
ORGS = ["North Trust", "South Trust", "East Uni", "West Council"]
THEMES = ["data linkage", "consent", "machine learning", "public involvement"]


def _day(client: FlaskClient, headers) -> int:  # type: ignore[no-untyped-def]
    created = client.post(
        "/api/v1/events",
        json={
            "title": "Assignment day",
            "starts_at": DAY_START.isoformat(),
            "ends_at": (DAY_START + timedelta(hours=8)).isoformat(),
            "timezone": "Europe/London",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


@pytest.fixture
def day(make_app, as_user) -> Iterator[tuple[Flask, int, dict[str, str]]]:  # type: ignore[no-untyped-def]
    app: Flask = make_app("matching")
    client = app.test_client()
    organiser = as_user(app, ORGANISER, "organiser")
    event_id = _day(client, organiser)
    assert (
        client.put(f"/api/v1/events/{event_id}/thesaurus", json={"themes": THEMES}, headers=organiser).status_code
        == 200
    )
    for hour in (1, 2):
        slot = client.post(
            f"/api/v1/events/{event_id}/slots",
            json={
                "starts_at": (DAY_START + timedelta(hours=hour)).isoformat(),
                "ends_at": (DAY_START + timedelta(hours=hour, minutes=45)).isoformat(),
                "kind": "breakout",
            },
            headers=organiser,
        )
        assert slot.status_code == 201, slot.get_json()
        for theme in THEMES[:3]:
            made = client.post(
                f"/api/v1/events/{event_id}/breakouts",
                json={"slot_id": slot.get_json()["id"], "title": f"{theme} ({hour})", "theme": theme, "capacity": 6},
                headers=organiser,
            )
            assert made.status_code == 201, made.get_json()
    for person in range(10, 22):  # 12 attendees from 4 organisations
        ranking = [THEMES[(person + k) % 3] for k in range(3)]
        response = client.put(
            f"/api/v1/events/{event_id}/registration",
            json={"themes": ranking, "tools": [], "interests": []},
            headers=as_user(app, person, "attendee", organisation=ORGS[person % 4]),
        )
        assert response.status_code in (200, 201), response.get_json()
    yield app, event_id, organiser


@pytest.fixture
def worker(make_app, redis_url: str, service_environment: Path, tmp_path: Path) -> Iterator[Process]:  # type: ignore[no-untyped-def]
    process = celery_worker("matching", service_env(redis_url, service_environment), tmp_path)
    yield process
    process.stop()


def _wait_run(client: FlaskClient, event_id: int, run_id: int, headers, worker: Process) -> dict:  # type: ignore[no-untyped-def,type-arg]
    def finished() -> dict | None:  # type: ignore[type-arg]
        body = client.get(f"/api/v1/events/{event_id}/assignment-runs/{run_id}", headers=headers).get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_until(finished, timeout=90, interval=0.3, what=f"run {run_id}\n{worker.output()[-3000:]}")  # type: ignore[return-value]


def test_run_publish_and_schedules(day, worker: Process, as_user) -> None:  # type: ignore[no-untyped-def]
    app, event_id, organiser = day
    client = app.test_client()
    started = client.post(f"/api/v1/events/{event_id}/assignment-runs", json={"org_share": 0.5}, headers=organiser)
    assert started.status_code == 202 and started.get_json()["status"] == "queued"
    run = _wait_run(client, event_id, started.get_json()["id"], organiser, worker)
    assert run["status"] == "succeeded", run
    assert run["progress"] == 100 and run["objective"] <= run["bound"] + 1e-6
    quality = run["quality"]
    assert quality["left_out"] == 0 and quality["attendees"] == 12
    assert 0 < quality["bound_percent"] <= 100
    assert quality["max_org_share_of_capacity"] <= 0.5
    mix = quality["breakouts"]
    assert len(mix) == 6 and sum(b["people"] for b in mix) == 24  # 12 people x 2 slots
    assert all(b["people"] <= b["capacity"] and (b["people"] <= 3 or b["organisations"] >= 2) for b in mix)

    # Nothing is visible to attendees before publishing.
    attendee = as_user(app, 10, "attendee", organisation=ORGS[2])
    before = client.get(f"/api/v1/events/{event_id}/my-schedule", headers=attendee).get_json()
    assert before["breakouts"] == [] and before["published"] is False

    published = client.post(f"/api/v1/events/{event_id}/assignment-runs/{run['id']}/publish", headers=organiser)
    assert published.status_code == 200 and published.get_json()["people"] == 12
    mine = client.get(f"/api/v1/events/{event_id}/my-schedule", headers=attendee).get_json()
    assert mine["published"] and mine["timezone"] == "Europe/London"
    assert len(mine["breakouts"]) == 2
    assert len({b["theme"] for b in mine["breakouts"]}) == 2  # no theme twice
    assert all(b["reason"].startswith("your ") for b in mine["breakouts"])
    with app.extensions["db"].unit_of_work() as session:
        bodies = [
            json.loads(r.body) for r in session.scalars(select(Outbox).where(Outbox.type == "AssignmentsPublished"))
        ]
    assert sorted(b["payload"]["user_id"] for b in bodies) == list(range(10, 22))
    assert all(len(b["payload"]["breakouts"]) == 2 for b in bodies)

    exported = client.get(f"/api/v1/events/{event_id}/schedule.csv", headers=organiser)
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == 24 and {"breakout", "theme", "reason"} <= set(rows[0])

    # Editing the set-up after publishing needs ?force=1 and then a new run (the old one is stale).
    setup = client.get(f"/api/v1/events/{event_id}/breakouts", headers=organiser).get_json()
    breakout = setup["items"][0]
    edit = client.patch(
        f"/api/v1/events/{event_id}/breakouts/{breakout['id']}", json={"capacity": 7}, headers=organiser
    )
    assert edit.status_code == 409
    forced = client.patch(
        f"/api/v1/events/{event_id}/breakouts/{breakout['id']}?force=1", json={"capacity": 7}, headers=organiser
    )
    assert forced.status_code == 200, forced.get_json()
    stale = client.post(f"/api/v1/events/{event_id}/assignment-runs/{run['id']}/publish", headers=organiser)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale"


def test_locks_are_respected_and_runs_compared(day, worker: Process) -> None:  # type: ignore[no-untyped-def]
    app, event_id, organiser = day
    client = app.test_client()
    first = _wait_run(
        client,
        event_id,
        client.post(f"/api/v1/events/{event_id}/assignment-runs", headers=organiser).get_json()["id"],
        organiser,
        worker,
    )
    assert first["status"] == "succeeded", first
    slots = client.get(f"/api/v1/events/{event_id}/slots", headers=organiser).get_json()["items"]
    breakouts = client.get(f"/api/v1/events/{event_id}/breakouts", headers=organiser).get_json()["items"]
    first_slot = slots[0]["id"]
    # Put person 10 where the first run did not.
    got = (
        first["quality"]
        and client.get(
            f"/api/v1/events/{event_id}/assignment-runs/{first['id']}?assignment=1", headers=organiser
        ).get_json()["assignment"]["10"][0]
    )
    target = next(b for b in breakouts if b["slot_id"] == first_slot and b["id"] != got)
    lock = client.put(
        f"/api/v1/events/{event_id}/assignment-locks",
        json={"user_id": 10, "slot_id": first_slot, "breakout_id": target["id"]},
        headers=organiser,
    )
    assert lock.status_code == 200, lock.get_json()
    second = _wait_run(
        client,
        event_id,
        client.post(f"/api/v1/events/{event_id}/assignment-runs", headers=organiser).get_json()["id"],
        organiser,
        worker,
    )
    placed = client.get(
        f"/api/v1/events/{event_id}/assignment-runs/{second['id']}?assignment=1", headers=organiser
    ).get_json()["assignment"]
    assert placed["10"][0] == target["id"]
    compared = client.get(
        f"/api/v1/events/{event_id}/assignment-runs/compare?a={first['id']}&b={second['id']}", headers=organiser
    ).get_json()
    assert compared["people_moved"] >= 1 and 10 in compared["moved_user_ids"]

    bad = client.put(
        f"/api/v1/events/{event_id}/assignment-locks",
        json={"user_id": 10, "slot_id": slots[1]["id"], "breakout_id": target["id"]},
        headers=organiser,
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "slot_id"
    nobody = client.put(
        f"/api/v1/events/{event_id}/assignment-locks",
        json={"user_id": 999, "slot_id": first_slot, "breakout_id": target["id"]},
        headers=organiser,
    )
    assert nobody.status_code == 400 and nobody.get_json()["error"]["field"] == "user_id"


def test_an_impossible_day_fails_with_reasons_in_words(day, worker: Process, as_user) -> None:  # type: ignore[no-untyped-def]
    app, event_id, organiser = day
    client = app.test_client()
    for person in range(30, 50):  # 20 more people who all rank "consent" first: 6 places per slot cannot hold them
        client.put(
            f"/api/v1/events/{event_id}/registration",
            json={"themes": ["consent"], "tools": [], "interests": []},
            headers=as_user(app, person, "attendee", organisation=ORGS[person % 4]),
        )
    run = _wait_run(
        client,
        event_id,
        client.post(f"/api/v1/events/{event_id}/assignment-runs", headers=organiser).get_json()["id"],
        organiser,
        worker,
    )
    assert run["status"] == "failed"
    assert any("consent" in reason and "places" in reason for reason in run["reasons"]), run["reasons"]
    refused = client.post(f"/api/v1/events/{event_id}/assignment-runs/{run['id']}/publish", headers=organiser)
    assert refused.status_code == 409


def test_only_organisers_run_and_bad_input_is_refused(day, as_user) -> None:  # type: ignore[no-untyped-def]
    app, event_id, organiser = day
    client = app.test_client()
    attendee = as_user(app, 10, "attendee")
    assert client.post(f"/api/v1/events/{event_id}/assignment-runs", headers=attendee).status_code == 403
    assert client.get(f"/api/v1/events/{event_id}/assignment-runs", headers=attendee).status_code == 403
    bad = client.post(f"/api/v1/events/{event_id}/assignment-runs", json={"org_share": 0}, headers=organiser)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "org_share"
    assert client.get(f"/api/v1/events/{event_id}/assignment-runs/999", headers=organiser).status_code == 404
    odd = client.get(f"/api/v1/events/{event_id}/assignment-runs/compare?a=1", headers=organiser)
    assert odd.status_code == 400 and odd.get_json()["error"]["field"] == "b"
    assert client.get("/api/v1/events/999/my-schedule", headers=attendee).status_code == 404


def test_a_run_whose_task_was_lost_is_sent_again(day, worker: Process) -> None:  # type: ignore[no-untyped-def]
    """The worker died (or Redis lost the queue) before finishing: the run goes silent; the next look at it after the
    stale period sends the task again, and the task takes the run over."""
    app, event_id, organiser = day
    db = app.extensions["db"]
    run = assignment_service.start_run(db, event_id, ORGANISER, assignment_service.RunOptions())  # never enqueued
    with db.unit_of_work() as session:
        row = session.get(AssignmentRun, run.id)
        assert row is not None
        row.status, row.heartbeat_at = "running", datetime.now(UTC) - timedelta(minutes=5)
    client = app.test_client()
    done = _wait_run(client, event_id, run.id, organiser, worker)
    assert done["status"] == "succeeded"


def test_a_worker_killed_in_the_middle_of_a_run_loses_nothing(  # type: ignore[no-untyped-def]
    day, redis_url: str, service_environment: Path, tmp_path: Path
) -> None:
    """kill -9 the matching worker (main process and pool) while it solves a 1,500-person day; another worker takes
    the run over once it has been silent for ASSIGNMENT_STALE_S: it finishes exactly once, with a full result."""
    app, event_id, organiser = day
    app.config["ASSIGNMENT_STALE_S"] = 3
    from services.matching.registration.models import PersonCopy, Registration

    with app.extensions["db"].unit_of_work() as session:
        for person in range(1000, 2500):
            session.add(
                PersonCopy(
                    user_id=person,
                    email=f"p{person}@example.org",
                    display_name=f"P{person}",
                    organisation=f"Org {person % 40}",
                    region="North",
                )
            )
            session.add(
                Registration(
                    event_id=event_id,
                    user_id=person,
                    themes=[THEMES[(person + k) % 3] for k in range(3)],
                    tools=[],
                    interests=[],
                )
            )
    client = app.test_client()
    breakouts = client.get(f"/api/v1/events/{event_id}/breakouts", headers=organiser).get_json()["items"]
    for breakout in breakouts:  # room for everyone
        assert (
            client.patch(
                f"/api/v1/events/{event_id}/breakouts/{breakout['id']}", json={"capacity": 700}, headers=organiser
            ).status_code
            == 200
        )
    env = service_environment
    first = celery_worker("matching", service_env(redis_url, env), tmp_path, name="doomed")
    second: Process | None = None
    try:
        run_id = client.post(f"/api/v1/events/{event_id}/assignment-runs", headers=organiser).get_json()["id"]

        def solving() -> bool:
            run = client.get(f"/api/v1/events/{event_id}/assignment-runs/{run_id}", headers=organiser).get_json()
            return run["status"] == "running" and run["progress"] > 0

        wait_until(solving, timeout=120, interval=0.05, what=f"the run under way\n{first.output()[-2000:]}")
        first.kill()  # SIGKILL to the worker's process group
        with app.extensions["db"].unit_of_work() as session:
            row = session.get(AssignmentRun, run_id)
            assert row is not None and row.status == "running"  # the dead worker left it half-done
        second = celery_worker("matching", service_env(redis_url, env), tmp_path, name="survivor")
        done = _wait_run(client, event_id, run_id, organiser, second)
        assert done["status"] == "succeeded", done
        assert done["quality"]["left_out"] == 0 and done["quality"]["attendees"] == 1512
        assert "assignment run finished" in second.output()
        with app.extensions["db"].unit_of_work() as session:
            assert session.scalar(select(func.count()).select_from(AssignmentRun)) == 1
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()


def test_my_schedule_lists_coffee_and_chats(day, as_user) -> None:  # type: ignore[no-untyped-def]
    app, event_id, organiser = day
    client = app.test_client()
    starts = (DAY_START + timedelta(hours=4)).isoformat()
    created = client.post(
        f"/api/v1/events/{event_id}/coffee-rounds",
        json={"starts_at": starts, "minutes": 15, "min_cross_org_share": 0},
        headers=organiser,
    )
    assert created.status_code == 201, created.get_json()
    round_id = created.get_json()["id"]
    people = {
        10: as_user(app, 10, "attendee", organisation=ORGS[2]),
        11: as_user(app, 11, "attendee", organisation=ORGS[3]),
    }
    for headers in people.values():
        assert client.post(f"/api/v1/coffee-rounds/{round_id}/opt-in", headers=headers).status_code in (200, 201, 204)
    assert client.post(f"/api/v1/coffee-rounds/{round_id}/pair", headers=organiser).status_code in (200, 201)
    mine = client.get(f"/api/v1/events/{event_id}/my-schedule", headers=people[10]).get_json()
    assert [c["round_id"] for c in mine["coffee"]] == [round_id]
    assert mine["coffee"][0]["with"] == ["User 11"] and mine["chats"] == []


def test_coffee_knows_who_shared_a_published_breakout(day, worker: Process) -> None:  # type: ignore[no-untyped-def]
    from services.matching.assignment.models import Placement
    from services.matching.coffee.service import met_in_breakouts

    app, event_id, organiser = day
    client = app.test_client()
    run = _wait_run(
        client,
        event_id,
        client.post(
            f"/api/v1/events/{event_id}/assignment-runs", json={"org_share": 0.5}, headers=organiser
        ).get_json()["id"],
        organiser,
        worker,
    )
    assert (
        client.post(f"/api/v1/events/{event_id}/assignment-runs/{run['id']}/publish", headers=organiser).status_code
        == 200
    )
    with app.extensions["db"].unit_of_work() as session:
        seats = session.execute(
            select(Placement.breakout_id, Placement.user_id).where(Placement.event_id == event_id)
        ).all()
        expected = {
            (min(a, b), max(a, b))
            for bid, a in seats
            for other, b in seats
            if bid == other and a != b and a in range(10, 16) and b in range(10, 16)
        }
        assert expected  # six of twelve people in three breakouts: some share one
        assert met_in_breakouts(session, list(range(10, 16)), event_id) == expected
