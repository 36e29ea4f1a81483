"""HTTP entrypoints of timetable runs (through the gateway at /api/v1, organisers only): start and watch runs,
evaluate a placement edited by hand, lock breakouts to slots, apply a run to the day's breakouts."""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import Field

from services.matching import runs
from services.matching.service import NotFound
from services.matching.setup.domain import Refused
from services.matching.timetable import service, tasks
from services.matching.timetable.models import TimetableLock, TimetableRun
from services.matching.timetable.service import RunOptions, TimetableError
from shared.auth import current_identity, require_identity
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("timetable", __name__, url_prefix="/api/v1")

ORGANISER = "organiser"
Id = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]


class NewTimetableRun(Strict):
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] = 0
    top_k: Annotated[int, Field(strict=True, ge=1, le=5)] = 3
    time_limit: Annotated[float, Field(gt=0, le=600)] = 30.0


class TimetablePlacement(Strict):
    placement: dict[Annotated[str, Field(max_length=12)], Id]


class NewTimetableLock(Strict):
    breakout_id: Id
    slot_id: Id


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    return jsonify({"error": {"code": "not_found", "message": f"{exc} not found", "field": None}}), 404


@bp.errorhandler(TimetableError)
def _refused(exc: TimetableError):  # type: ignore[no-untyped-def]
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field}
    if exc.reasons:
        error["reasons"] = exc.reasons
    return jsonify({"error": error}), exc.status


@bp.errorhandler(Refused)
def _setup_refused(exc: Refused):  # type: ignore[no-untyped-def]
    return jsonify({"error": {"code": exc.code, "message": exc.message, "field": exc.field}}), exc.status


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_json(run: TimetableRun) -> dict[str, Any]:
    quality = run.quality or {}
    return {
        "id": run.id,
        "event_id": run.event_id,
        "status": run.status,
        "stage": run.stage,
        "progress": run.progress,
        "best_share": run.best_share,
        "clash_free_share": quality.get("clash_free_share"),
        "seed": run.seed,
        "top_k": run.top_k,
        "time_limit": run.time_limit,
        "placement": {k: v for k, v in (run.placement or {}).items()},
        "quality": run.quality,
        "reasons": run.reasons or [],
        "created_at": _iso(run.created_at),
        "finished_at": _iso(run.finished_at),
        "applied_at": _iso(run.applied_at),
    }


def _lock_json(lock: TimetableLock) -> dict[str, Any]:
    return {"id": lock.id, "breakout_id": lock.breakout_id, "slot_id": lock.slot_id}


@bp.post("/events/<int:event_id>/timetable-runs")
@require_identity(ORGANISER)
def start_run(event_id: int):  # type: ignore[no-untyped-def]
    organiser = current_identity()
    assert organiser is not None
    body = parse_json(NewTimetableRun) if request.get_data() else NewTimetableRun()
    run = service.start_run(db(), event_id, organiser.user_id, RunOptions(body.seed, body.top_k, body.time_limit))
    try:
        tasks.enqueue_run(current_app.extensions["celery"], run.id)
    except Exception:  # noqa: BLE001 - the run is stored; a GET re-sends a task that never started
        current_app.logger.warning("timetable run enqueue failed", extra={"run_id": run.id})
    return jsonify({"id": run.id, "status": run.status}), 202


@bp.get("/events/<int:event_id>/timetable-runs")
@require_identity(ORGANISER)
def list_runs(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"items": [run_json(r) for r in service.list_runs(db(), event_id)]})


@bp.get("/events/<int:event_id>/timetable-runs/<int:run_id>")
@require_identity(ORGANISER)
def get_run(event_id: int, run_id: int):  # type: ignore[no-untyped-def]
    run = service.get_run(db(), event_id, run_id)
    celery = current_app.extensions["celery"]
    if runs.resend_if_lost(db(), TimetableRun, run, tasks.stale_after(), lambda lost: tasks.enqueue_run(celery, lost)):
        run = service.get_run(db(), event_id, run_id)
    return jsonify(run_json(run))


@bp.post("/events/<int:event_id>/timetable-runs/<int:run_id>/evaluate")
@require_identity(ORGANISER)
def evaluate(event_id: int, run_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(TimetablePlacement)
    return jsonify(service.evaluate_placement(db(), event_id, run_id, body.placement))


@bp.post("/events/<int:event_id>/timetable-runs/<int:run_id>/apply")
@require_identity(ORGANISER)
def apply(event_id: int, run_id: int):  # type: ignore[no-untyped-def]
    force = request.args.get("force", "").lower() in ("1", "true", "yes")
    moved = service.apply(db(), event_id, run_id, force=force)
    return jsonify({"id": run_id, "applied": True, "moved": moved})


@bp.get("/events/<int:event_id>/timetable-locks")
@require_identity(ORGANISER)
def list_locks(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"items": [_lock_json(lock) for lock in service.list_locks(db(), event_id)]})


@bp.put("/events/<int:event_id>/timetable-locks")
@require_identity(ORGANISER)
def set_lock(event_id: int):  # type: ignore[no-untyped-def]
    organiser = current_identity()
    assert organiser is not None
    body = parse_json(NewTimetableLock)
    return jsonify(_lock_json(service.set_lock(db(), event_id, organiser.user_id, body.breakout_id, body.slot_id)))


@bp.delete("/events/<int:event_id>/timetable-locks/<int:breakout_id>")
@require_identity(ORGANISER)
def delete_lock(event_id: int, breakout_id: int):  # type: ignore[no-untyped-def]
    service.delete_lock(db(), event_id, breakout_id)
    return "", 204
