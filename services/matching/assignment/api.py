"""HTTP entrypoints of assignment runs (through the gateway at /api/v1): start and watch runs, compare them, lock
people in place, publish, and read schedules (an attendee's own; the organiser's CSV)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import Field

from services.matching import runs
from services.matching.assignment import service, tasks
from services.matching.assignment.models import AssignmentLock, AssignmentRun
from services.matching.assignment.service import AssignmentError, RunOptions
from services.matching.service import NotFound
from shared.auth import current_identity, require_identity
from shared.errors import ApiError
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("assignment", __name__, url_prefix="/api/v1")

ORGANISER = "organiser"


class NewRun(Strict):
    org_share: Annotated[float, Field(gt=0, le=1)] = 0.3
    org_weight: Annotated[float, Field(ge=0, le=10)] = 0.0
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


class NewLock(Strict):
    user_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    slot_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    breakout_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    return jsonify({"error": {"code": "not_found", "message": f"{exc} not found", "field": None}}), 404


@bp.errorhandler(AssignmentError)
def _refused(exc: AssignmentError):  # type: ignore[no-untyped-def]
    return jsonify({"error": {"code": exc.code, "message": exc.message, "field": exc.field}}), exc.status


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_json(run: AssignmentRun, *, with_assignment: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": run.id,
        "event_id": run.event_id,
        "status": run.status,
        "stage": run.stage,
        "progress": run.progress,
        "seed": run.seed,
        "org_share": run.org_share,
        "org_weight": run.org_weight,
        "objective": run.objective,
        "bound": run.bound,
        "bound_method": run.bound_method,
        "quality": run.quality,
        "reasons": run.reasons or [],
        "created_at": _iso(run.created_at),
        "finished_at": _iso(run.finished_at),
        "published_at": _iso(run.published_at),
    }
    if with_assignment:
        body["assignment"] = run.assignment
    return body


def _lock_json(lock: AssignmentLock) -> dict[str, Any]:
    return {"id": lock.id, "user_id": lock.user_id, "slot_id": lock.slot_id, "breakout_id": lock.breakout_id}


@bp.post("/events/<int:event_id>/assignment-runs")
@require_identity(ORGANISER)
def start_run(event_id: int):  # type: ignore[no-untyped-def]
    organiser = current_identity()
    assert organiser is not None
    body = parse_json(NewRun) if request.get_data() else NewRun()
    run = service.start_run(db(), event_id, organiser.user_id, RunOptions(body.org_share, body.org_weight, body.seed))
    try:
        tasks.enqueue_run(current_app.extensions["celery"], run.id)
    except Exception:  # noqa: BLE001 - the run is stored; a GET re-sends a task that never started
        current_app.logger.warning("assignment run enqueue failed", extra={"run_id": run.id})
    return jsonify({"id": run.id, "status": run.status}), 202


@bp.get("/events/<int:event_id>/assignment-runs")
@require_identity(ORGANISER)
def list_runs(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"items": [run_json(r) for r in service.list_runs(db(), event_id)]})


@bp.get("/events/<int:event_id>/assignment-runs/<int:run_id>")
@require_identity(ORGANISER)
def get_run(event_id: int, run_id: int):  # type: ignore[no-untyped-def]
    run = service.get_run(db(), event_id, run_id)
    celery = current_app.extensions["celery"]
    if runs.resend_if_lost(db(), AssignmentRun, run, tasks.stale_after(), lambda lost: tasks.enqueue_run(celery, lost)):
        run = service.get_run(db(), event_id, run_id)
    return jsonify(run_json(run, with_assignment=request.args.get("assignment") == "1"))


@bp.get("/events/<int:event_id>/assignment-runs/compare")
@require_identity(ORGANISER)
def compare_runs(event_id: int):  # type: ignore[no-untyped-def]
    ids = []
    for name in ("a", "b"):
        raw = request.args.get(name, "")
        if not raw.isdigit() or len(raw) > 9:
            raise ApiError(400, "invalid", "two run ids are needed: ?a=<id>&b=<id>", name)
        ids.append(int(raw))
    return jsonify(service.compare(db(), event_id, ids[0], ids[1]))


@bp.post("/events/<int:event_id>/assignment-runs/<int:run_id>/publish")
@require_identity(ORGANISER)
def publish(event_id: int, run_id: int):  # type: ignore[no-untyped-def]
    people = service.publish(db(), event_id, run_id)
    return jsonify({"id": run_id, "published": True, "people": people})


@bp.get("/events/<int:event_id>/assignment-locks")
@require_identity(ORGANISER)
def list_locks(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"items": [_lock_json(lock) for lock in service.list_locks(db(), event_id)]})


@bp.put("/events/<int:event_id>/assignment-locks")
@require_identity(ORGANISER)
def set_lock(event_id: int):  # type: ignore[no-untyped-def]
    organiser = current_identity()
    assert organiser is not None
    body = parse_json(NewLock)
    lock = service.set_lock(db(), event_id, organiser.user_id, body.user_id, body.slot_id, body.breakout_id)
    return jsonify(_lock_json(lock)), 200


@bp.delete("/events/<int:event_id>/assignment-locks/<int:lock_id>")
@require_identity(ORGANISER)
def delete_lock(event_id: int, lock_id: int):  # type: ignore[no-untyped-def]
    service.delete_lock(db(), event_id, lock_id)
    return "", 204


@bp.get("/events/<int:event_id>/schedule.csv")
@require_identity(ORGANISER)
def schedule_csv(event_id: int):  # type: ignore[no-untyped-def]
    rows = service.schedule_rows(db(), event_id)
    out = io.StringIO()
    fields = [
        "email",
        "name",
        "organisation",
        "slot_starts_at",
        "slot_ends_at",
        "breakout",
        "theme",
        "meeting_url",
        "reason",
    ]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ would be a formula in a spreadsheet.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="schedule-day-{event_id}.csv"'},
    )


@bp.get("/events/<int:event_id>/my-schedule")
@require_identity()
def my_schedule(event_id: int):  # type: ignore[no-untyped-def]
    person = current_identity()
    assert person is not None
    return jsonify(service.my_schedule(db(), event_id, person.user_id))
