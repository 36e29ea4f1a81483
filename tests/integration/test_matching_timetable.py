"""Timetable runs end to end inside matching: breakouts without a slot and their constraints set up through the
API, the named Celery task run by a real worker process, progress, a dragged breakout evaluated, a lock kept by a
re-run, apply, then the existing assignment run on the applied timetable; every bad input of the issue."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from services.matching.timetable.generate import Shape, generate
from services.matching.timetable.models import TimetableRun
from tests.support.processes import VENV_BIN, Process, celery_worker, service_env, wait_until

pytestmark = pytest.mark.integration

ORGANISER = 1
DAY_START = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=30)
THEMES = ["data linkage", "consent", "machine learning", "public involvement"]
ROOT = Path(__file__).resolve().parents[2]


def _day(client: FlaskClient, organiser: dict[str, str], slots: int, rooms: int) -> tuple[int, list[int]]:
    made = client.post(
        "/api/v1/events",
        json={
            "title": "Timetable day",
            "starts_at": DAY_START.isoformat(),
            "ends_at": (DAY_START + timedelta(hours=8)).isoformat(),
            "timezone": "Europe/London",
        },
        headers=organiser,
    )
    assert made.status_code == 201, made.get_json()
    event_id = made.get_json()["id"]
    thesaurus = client.put(f"/api/v1/events/{event_id}/thesaurus", json={"themes": THEMES}, headers=organiser)
    assert thesaurus.status_code == 200
    slot_ids = []
    for hour in range(1, slots + 1):
        slot = client.post(
            f"/api/v1/events/{event_id}/slots",
            json={
                "starts_at": (DAY_START + timedelta(hours=hour)).isoformat(),
                "ends_at": (DAY_START + timedelta(hours=hour, minutes=45)).isoformat(),
                "kind": "breakout",
                "rooms": rooms,
            },
            headers=organiser,
        )
        assert slot.status_code == 201 and slot.get_json()["rooms"] == rooms, slot.get_json()
        slot_ids.append(slot.get_json()["id"])
    return event_id, slot_ids


def _breakout(client: FlaskClient, event_id: int, organiser: dict[str, str], theme: str, **rules: object) -> int:
    made = client.post(
        f"/api/v1/events/{event_id}/breakouts",
        json={"title": theme.title(), "theme": theme, "capacity": 12, **rules},
        headers=organiser,
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["slot_id"] is None
    return made.get_json()["id"]


def _error(response) -> dict:  # type: ignore[no-untyped-def,type-arg]
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message", "field"} <= set(body["error"]), body
    return body["error"]  # type: ignore[no-any-return]


@pytest.fixture
def worker(make_app, redis_url: str, service_environment: Path, tmp_path: Path) -> Iterator[Process]:  # type: ignore[no-untyped-def]
    process = celery_worker("matching", service_env(redis_url, service_environment), tmp_path)
    yield process
    process.stop()


def _wait(client: FlaskClient, path: str, headers: dict[str, str], worker: Process, seen: list[int]) -> dict:  # type: ignore[type-arg]
    def finished() -> dict | None:  # type: ignore[type-arg]
        body = client.get(path, headers=headers).get_json()
        seen.append(body["progress"])
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_until(finished, timeout=120, interval=0.2, what=f"{path}\n{worker.output()[-3000:]}")  # type: ignore[return-value]


def test_run_drag_lock_apply_then_assignment(make_app, as_user, worker: Process) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("matching")
    client = app.test_client()
    organiser = as_user(app, ORGANISER, "organiser")
    event_id, slots = _day(client, organiser, slots=3, rooms=2)
    linkage, consent, ml, involvement = (_breakout(client, event_id, organiser, t) for t in THEMES)
    # Everyone wants consent and machine learning, plus linkage or involvement (never both): the only clash-free
    # timetables put linkage and involvement together and the other two in slots of their own.
    for person in range(10, 22):
        third = THEMES[0] if person % 2 else THEMES[3]
        ranking = [THEMES[1], third, THEMES[2]] if person % 3 else [THEMES[2], THEMES[1], third]
        response = client.put(
            f"/api/v1/events/{event_id}/registration",
            json={"themes": ranking, "tools": [], "interests": []},
            headers=as_user(app, person, "attendee", organisation=f"Org {person % 4}"),
        )
        assert response.status_code in (200, 201), response.get_json()
    runs = f"/api/v1/events/{event_id}/timetable-runs"
    started = client.post(runs, json={"seed": 1, "time_limit": 20}, headers=organiser)
    assert started.status_code == 202 and started.get_json()["status"] == "queued"
    seen: list[int] = []
    run = _wait(client, f"{runs}/{started.get_json()['id']}", organiser, worker, seen)
    assert run["status"] == "succeeded", run
    assert run["progress"] == 100 and run["clash_free_share"] == 1.0 and run["best_share"] == 1.0
    placement = {int(k): v for k, v in run["placement"].items()}
    assert placement[linkage] == placement[involvement]
    assert len({placement[linkage], placement[consent], placement[ml]}) == 3
    assert all(list(placement.values()).count(s) <= 2 for s in slots)
    quality = run["quality"]
    assert quality["attendees"] == 12 and quality["clash_free"] == 12 and quality["violations"] == []
    assert all(row["people"] == 0 for row in quality["per_slot"])

    # Drag consent into machine learning's slot: everyone loses one of the two, and the figures say so.
    dragged = {**run["placement"], str(consent): placement[ml]}
    figures = client.post(f"{runs}/{run['id']}/evaluate", json={"placement": dragged}, headers=organiser)
    assert figures.status_code == 200, figures.get_json()
    figures = figures.get_json()
    assert figures["clash_free"] == 0 and figures["clash_free_share"] == 0.0
    there = next(row for row in figures["per_slot"] if row["slot_id"] == placement[ml])
    assert there["people"] == 12
    assert any("'consent'" in r and "'machine learning'" in r for r in there["reasons"]), there
    bad = client.post(f"{runs}/{run['id']}/evaluate", json={"placement": {"999999": slots[0]}}, headers=organiser)
    assert bad.status_code == 400 and _error(bad)["field"] == "placement.999999"

    # Lock consent into the last slot and run again around it.
    target = next(s for s in slots if s != placement[consent])
    lock = client.put(
        f"/api/v1/events/{event_id}/timetable-locks",
        json={"breakout_id": consent, "slot_id": target},
        headers=organiser,
    )
    assert lock.status_code == 200, lock.get_json()
    again = client.post(runs, json={"seed": 1, "time_limit": 20}, headers=organiser)
    rerun = _wait(client, f"{runs}/{again.get_json()['id']}", organiser, worker, seen)
    assert rerun["status"] == "succeeded" and rerun["placement"][str(consent)] == target
    assert rerun["clash_free_share"] == 1.0

    # The first run is stale now (the locks changed): applying it says why.
    stale = client.post(f"{runs}/{run['id']}/apply", headers=organiser)
    assert stale.status_code == 409 and _error(stale)["code"] == "stale"
    assert "locked breakouts changed" in _error(stale)["message"]

    applied = client.post(f"{runs}/{rerun['id']}/apply", headers=organiser)
    assert applied.status_code == 200, applied.get_json()
    listed = client.get(f"/api/v1/events/{event_id}/breakouts", headers=organiser).get_json()["items"]
    assert {b["id"]: b["slot_id"] for b in listed} == {int(k): v for k, v in rerun["placement"].items()}

    # The assignment run works as before on the applied timetable: one breakout per slot for everyone.
    assignment = client.post(f"/api/v1/events/{event_id}/assignment-runs", headers=organiser)
    assert assignment.status_code == 202
    done = _wait(
        client, f"/api/v1/events/{event_id}/assignment-runs/{assignment.get_json()['id']}", organiser, worker, []
    )
    assert done["status"] == "succeeded", done
    assert done["quality"]["attendees"] == 12 and done["quality"]["left_out"] == 0

    # Once a schedule is published, applying a timetable needs ?force=1 and marks the day as needing a re-run.
    published = client.post(f"/api/v1/events/{event_id}/assignment-runs/{done['id']}/publish", headers=organiser)
    assert published.status_code == 200, published.get_json()
    guarded = client.post(f"{runs}/{rerun['id']}/apply", headers=organiser)
    assert guarded.status_code == 409 and _error(guarded)["code"] == "published"
    forced = client.post(f"{runs}/{rerun['id']}/apply?force=1", headers=organiser)
    assert forced.status_code == 200 and forced.get_json()["moved"] == 0
    assert client.get(f"/api/v1/events/{event_id}/setup", headers=organiser).get_json()["needs_rerun"] is True

    # A breakout changed after the run: applying it again is refused, naming the breakout.
    edit = client.patch(
        f"/api/v1/events/{event_id}/breakouts/{ml}?force=1", json={"presenter": "Dr Ada"}, headers=organiser
    )
    assert edit.status_code == 200 and edit.get_json()["presenter"] == "Dr Ada"
    refused = client.post(f"{runs}/{rerun['id']}/apply", headers=organiser)
    assert refused.status_code == 409 and "'Machine Learning'" in _error(refused)["message"]


def test_bad_input_is_refused_in_words(make_app, as_user, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("matching")
    client = app.test_client()
    organiser = as_user(app, ORGANISER, "organiser")
    event_id, slots = _day(client, organiser, slots=2, rooms=1)
    runs = f"/api/v1/events/{event_id}/timetable-runs"
    attendee = as_user(app, 50, "attendee")
    assert client.post(runs, headers=attendee).status_code == 403
    assert client.get(f"/api/v1/events/{event_id}/timetable-locks", headers=attendee).status_code == 403
    nothing = client.post(runs, headers=organiser)
    assert nothing.status_code == 409 and _error(nothing)["code"] == "nothing_to_place"

    a = _breakout(client, event_id, organiser, THEMES[0])
    b = _breakout(client, event_id, organiser, THEMES[1], same_slot_as=a)
    # Two breakouts that must share a slot of one room.
    shared = client.post(runs, headers=organiser)
    assert shared.status_code == 409 and _error(shared)["code"] == "infeasible"
    assert "'Data Linkage' and 'Consent' must share" in _error(shared)["message"]
    assert "the largest has 1 room" in _error(shared)["message"]

    # Contradictory: the same slot as, and not in the same slot as.
    contradictory = client.patch(
        f"/api/v1/events/{event_id}/breakouts/{a}", json={"not_same_slot_as": b}, headers=organiser
    )
    assert contradictory.status_code == 200
    refused = client.post(runs, headers=organiser)
    assert refused.status_code == 409
    assert any("also not in the same slot" in r for r in _error(refused)["reasons"]), _error(refused)
    client.patch(f"/api/v1/events/{event_id}/breakouts/{a}", json={"not_same_slot_as": None}, headers=organiser)
    client.patch(f"/api/v1/events/{event_id}/breakouts/{b}", json={"same_slot_as": None}, headers=organiser)

    # 'not before' a slot that starts after the 'not after' one: refused where it is set, naming the field.
    window = client.patch(
        f"/api/v1/events/{event_id}/breakouts/{a}",
        json={"not_before_slot_id": slots[1], "not_after_slot_id": slots[0]},
        headers=organiser,
    )
    assert window.status_code == 400 and _error(window)["field"] == "not_after_slot_id"
    unknown = client.patch(f"/api/v1/events/{event_id}/breakouts/{a}", json={"same_slot_as": 99999}, headers=organiser)
    assert unknown.status_code == 400 and _error(unknown)["field"] == "same_slot_as"

    # More breakouts than rooms x slots.
    c = _breakout(client, event_id, organiser, THEMES[2])
    crowded = client.post(runs, headers=organiser)
    assert crowded.status_code == 409
    assert "3 breakouts do not fit in 2 slots with 2 rooms" in _error(crowded)["message"]
    assert client.delete(f"/api/v1/events/{event_id}/breakouts/{c}", headers=organiser).status_code == 204

    # A breakout locked to a slot that was deleted since.
    extra = client.post(
        f"/api/v1/events/{event_id}/slots",
        json={
            "starts_at": (DAY_START + timedelta(hours=5)).isoformat(),
            "ends_at": (DAY_START + timedelta(hours=6)).isoformat(),
            "kind": "breakout",
            "rooms": 1,
        },
        headers=organiser,
    ).get_json()["id"]
    locks = f"/api/v1/events/{event_id}/timetable-locks"
    assert client.put(locks, json={"breakout_id": a, "slot_id": extra}, headers=organiser).status_code == 200
    assert client.delete(f"/api/v1/events/{event_id}/slots/{extra}", headers=organiser).status_code == 204
    orphan = client.post(runs, headers=organiser)
    assert orphan.status_code == 409
    assert f"locked to slot {extra}, which no longer exists" in _error(orphan)["message"]
    bad_lock = client.put(locks, json={"breakout_id": a, "slot_id": extra}, headers=organiser)
    assert bad_lock.status_code == 400 and _error(bad_lock)["field"] == "slot_id"
    assert client.delete(f"{locks}/{a}", headers=organiser).status_code == 204
    queued = client.post(runs, headers=organiser)
    assert queued.status_code == 202  # fixed: the run is queued (no worker in this test)

    # A run whose task was lost (silent past TIMETABLE_STALE_S) is sent to the workers again when looked at.
    broker = redis.Redis.from_url(redis_url)
    waiting = broker.llen("matching")
    with app.extensions["db"].unit_of_work() as session:
        run = session.get(TimetableRun, queued.get_json()["id"])
        run.heartbeat_at = datetime.now(UTC) - timedelta(hours=1)
    looked = client.get(f"{runs}/{queued.get_json()['id']}", headers=organiser).get_json()
    assert looked["status"] == "queued" and looked["stage"] == "queued again"
    assert broker.llen("matching") == waiting + 1
    again = client.get(f"{runs}/{queued.get_json()['id']}", headers=organiser).get_json()
    assert again["stage"] == "queued again" and broker.llen("matching") == waiting + 1  # once per stale period
    assert client.post(runs, json={"top_k": 9}, headers=organiser).status_code == 400
    assert client.post(f"{runs}/1/apply", headers=organiser).status_code == 409  # queued, nothing to apply yet


def test_timetable_command(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    instance, _hidden = generate(Shape(120, 3, 4, 1, 6), seed=2)
    path, out = tmp_path / "instance.json", tmp_path / "timetable.json"
    path.write_text(json.dumps(instance))
    # The exact command line of the issue, as a process of its own.
    env = {**os.environ, "APP_ENV": "development", "VAR_DIR": str(tmp_path / "var")}
    command = [str(VENV_BIN / "flask"), "--app", "services.matching", "timetable", str(path), "--out", str(out)]
    solved = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert solved.returncode == 0, solved.stderr
    assert "clash-free share: 1.0000" in solved.stdout and "peak memory:" in solved.stdout
    timetable = json.loads(out.read_text())
    assert set(timetable) == {s["id"] for s in instance["sessions"]}
    assert all(list(timetable.values()).count(s["id"]) <= s["rooms"] for s in instance["slots"])

    # Bad input through the same command, in this process (a second interpreter start adds nothing).
    runner = make_app("matching").test_cli_runner()
    instance["attendees"][3]["wants"][1] = "no-such-session"
    path.write_text(json.dumps(instance))
    bad = runner.invoke(args=["timetable", str(path), "--out", str(out)])
    assert bad.exit_code == 2 and "attendees[3].wants[1]: unknown session 'no-such-session'" in bad.stderr

    instance["attendees"][3]["wants"][1] = instance["sessions"][0]["id"]
    instance["slots"] = instance["slots"][:1]  # 12 sessions, one slot of 4 rooms
    path.write_text(json.dumps(instance))
    crowded = runner.invoke(args=["timetable", str(path), "--out", str(out)])
    assert crowded.exit_code == 1 and "12 breakouts do not fit in 1 slot with 4 rooms" in crowded.stderr
