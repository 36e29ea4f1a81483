"""Use cases of timetable runs: build the problem from the day's slots, breakouts, locks and registrations; run it
(from the Celery task) with live progress; evaluate a hand-made placement; lock breakouts; apply a run."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching import runs
from services.matching.registration.models import Registration
from services.matching.runs import RUNNING, SUCCEEDED
from services.matching.setup import service as setup_service
from services.matching.setup.models import Breakout, Slot
from services.matching.timetable.domain import (
    Id,
    Infeasible,
    Problem,
    SessionSpec,
    SlotSpec,
    evaluate,
    precheck,
    profiles_of,
)
from services.matching.timetable.models import TimetableLock, TimetableRun
from shared.db import Database
from shared.events import as_utc, utcnow

Push = Callable[[int, str, dict[str, Any]], object]  # (user id, event name, data)
PROGRESS_EVENT = "timetable_progress"


class TimetableError(Exception):
    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, reasons: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.reasons = reasons or []


# --------------------------------------------------------------------------------------------- the problem


@dataclass
class Built:
    problem: Problem
    slots: list[Slot]
    breakouts: dict[int, Breakout]
    inputs: dict[str, Any]  # digests per part, to tell what changed before applying


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def slot_label(slot: Slot, timezone: str) -> str:
    """How reasons name a slot: its start in the day's own timezone."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"the {as_utc(slot.starts_at).astimezone(zone):%H:%M} slot"


def build(session: Session, event_id: int, k: int = 3) -> Built:
    day = setup_service.day(session, event_id)
    slots = list(
        session.scalars(
            select(Slot).where(Slot.event_id == event_id, Slot.kind == "breakout").order_by(Slot.starts_at, Slot.id)
        )
    )
    breakouts = list(session.scalars(select(Breakout).where(Breakout.event_id == event_id).order_by(Breakout.id)))
    locks = {
        lock.breakout_id: lock.slot_id
        for lock in session.scalars(select(TimetableLock).where(TimetableLock.event_id == event_id))
    }
    rankings = [
        list(r.themes or [])
        for r in session.scalars(
            select(Registration).where(Registration.event_id == event_id).order_by(Registration.user_id)
        )
    ]
    profiles, attendees = profiles_of(rankings, k)
    sessions = tuple(
        SessionSpec(
            id=b.id,
            theme=b.theme,
            capacity=b.capacity,
            label=b.title,
            not_before=b.not_before_slot_id,
            not_after=b.not_after_slot_id,
            same_slot_as=b.same_slot_as_id,
            not_same_slot_as=b.not_same_slot_as_id,
            presenter=b.presenter,
            locked_to=locks.get(b.id),
        )
        for b in breakouts
    )
    problem = Problem(
        slots=tuple(SlotSpec(s.id, s.rooms, slot_label(s, day.timezone)) for s in slots),
        sessions=sessions,
        profiles=profiles,
        attendees=attendees,
        k=k,
    )
    inputs = {
        "slots": _digest([[s.id, s.rooms, as_utc(s.starts_at).isoformat()] for s in slots]),
        "breakouts": {
            str(s.id): _digest([s.theme, s.not_before, s.not_after, s.same_slot_as, s.not_same_slot_as, s.presenter])
            for s in sessions
        },
        "titles": {str(b.id): b.title for b in breakouts},
        "registrations": _digest(rankings),
        "locks": _digest(sorted(locks.items())),
        "k": k,
    }
    return Built(problem, slots, {b.id: b for b in breakouts}, inputs)


def changes_since(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two input digests, in words (empty: nothing the timetable depends on changed)."""
    found: list[str] = []
    before, after = then.get("breakouts", {}), now.get("breakouts", {})
    titles = {**then.get("titles", {}), **now.get("titles", {})}
    added = [titles.get(b, b) for b in after if b not in before]
    removed = [titles.get(b, b) for b in before if b not in after]
    edited = [titles.get(b, b) for b in after if b in before and before[b] != after[b]]
    for what, names in (("added", added), ("deleted", removed), ("changed (theme or constraints)", edited)):
        if names:
            found.append(f"breakouts {what} since the run: {', '.join(repr(n) for n in names[:5])}")
    if then.get("slots") != now.get("slots"):
        found.append("the breakout slots (times or rooms) changed since the run")
    if then.get("locks") != now.get("locks"):
        found.append("the locked breakouts changed since the run")
    if then.get("registrations") != now.get("registrations"):
        found.append("registrations changed since the run")
    return found


# --------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunOptions:
    seed: int = 0
    top_k: int = 3
    time_limit: float = 30.0


def start_run(db: Database, event_id: int, organiser_id: int, options: RunOptions) -> TimetableRun:
    """A queued run, once the constraints pass the pre-check (409 `infeasible` with the reasons otherwise)."""
    with db.unit_of_work() as session:
        built = build(session, event_id, options.top_k)
        if not built.problem.sessions:
            raise TimetableError(409, "nothing_to_place", "this day has no breakouts to place yet")
        reasons = precheck(built.problem)
        if reasons:
            raise TimetableError(409, "infeasible", "no timetable is possible: " + "; ".join(reasons), None, reasons)
        run = runs.queued(
            TimetableRun, event_id, organiser_id, options.seed, top_k=options.top_k, time_limit=options.time_limit
        )
        session.add(run)
        session.flush()
        return run


def get_run(db: Database, event_id: int, run_id: int) -> TimetableRun:
    run = runs.find(db, TimetableRun, event_id, run_id)
    if run is None:
        raise TimetableError(404, "not_found", "timetable run not found")
    return run


def list_runs(db: Database, event_id: int) -> list[TimetableRun]:
    with db.unit_of_work() as session:
        setup_service.day(session, event_id)
    return runs.newest_first(db, TimetableRun, event_id)


def progress_payload(run: TimetableRun) -> dict[str, Any]:
    return {**runs.status_payload(run), "best_share": run.best_share}


class _Progress:
    """The run's row and the organiser's page follow the search: a ticker moves the bar with the time spent (and
    keeps the heartbeat fresh), every better timetable found updates the best clash-free share."""

    def __init__(self, db: Database, run: TimetableRun, push: Push) -> None:
        self.db, self.run_id, self.event_id, self.organiser = db, run.id, run.event_id, run.started_by
        self.limit = max(run.time_limit, 0.1)
        self.push = push
        self.best: float | None = None
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ticker = threading.Thread(target=self._tick, name=f"timetable-run-{run.id}", daemon=True)

    def __enter__(self) -> _Progress:
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)

    def found(self, share: float, _seconds: float) -> None:
        self.best = share
        self.write()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.write()
            except Exception:  # noqa: BLE001 - a missed progress write must not stop the search; the next tick retries
                time.sleep(1.0)

    def write(self) -> None:
        with self._lock:
            percent = min(99, int(100 * (time.monotonic() - self.started) / self.limit))
            stage = "searching" if self.best is None else f"searching: best {100 * self.best:.1f} % clash-free"
            with self.db.unit_of_work() as session:
                row = session.get(TimetableRun, self.run_id)
                if row is None:
                    return
                row.stage, row.progress, row.best_share, row.heartbeat_at = stage, percent, self.best, utcnow()
            payload = {
                "run_id": self.run_id,
                "event_id": self.event_id,
                "status": RUNNING,
                "stage": stage,
                "progress": percent,
                "best_share": self.best,
            }
            self.push(self.organiser, PROGRESS_EVENT, payload)


def execute_run(db: Database, run_id: int, push: Push, stale_after: timedelta) -> str:
    """The Celery task's body. Idempotent: a finished run is left alone; a run whose worker died is started over
    (the solver is deterministic for the run's seed)."""
    from services.matching.timetable.baselines import greedy_pairs_apart, random_placement
    from services.matching.timetable.solver import solve  # OR-Tools loads in the worker only

    run = runs.claim(db, TimetableRun, run_id, stale_after, best_share=None)
    if run is None:
        return "skipped"
    push(run.started_by, PROGRESS_EVENT, progress_payload(run))
    with db.unit_of_work() as session:
        built = build(session, run.event_id, run.top_k)
    try:
        if not built.problem.sessions:
            raise Infeasible(["this day has no breakouts to place"])
        with _Progress(db, run, push) as progress:
            solution = solve(built.problem, seed=run.seed, time_limit=run.time_limit, progress=progress.found)
    except Infeasible as exc:
        done = runs.fail(db, TimetableRun, run_id, exc.reasons, inputs=built.inputs)
    else:
        quality = solution.evaluation.as_dict()
        quality.update(
            status=solution.status,
            bound_share=round(solution.bound_share, 4),
            seconds=round(solution.seconds, 2),
            greedy_share=round(evaluate(built.problem, greedy_pairs_apart(built.problem)).share, 4),
            random_share=round(evaluate(built.problem, random_placement(built.problem, run.seed)).share, 4),
            stats=solution.stats,
        )
        done = runs.finish(
            db,
            TimetableRun,
            run_id,
            status=SUCCEEDED,
            stage="done",
            progress=100,
            best_share=solution.evaluation.share,
            placement={str(sid): slot for sid, slot in solution.placement.items()},
            quality=quality,
            reasons=[],
            inputs=built.inputs,
        )
    push(done.started_by, PROGRESS_EVENT, progress_payload(done))
    return done.status


# --------------------------------------------------------------------------------------------- what-if


def evaluate_placement(db: Database, event_id: int, run_id: int, placement: dict[str, int]) -> dict[str, Any]:
    """The figures of a placement edited by hand (e.g. a breakout dragged to another slot) on today's inputs."""
    run = get_run(db, event_id, run_id)
    with db.unit_of_work() as session:
        built = build(session, event_id, run.top_k)
    slot_ids = {s.id for s in built.slots}
    parsed: dict[Id, Id] = {}
    for key, slot_id in placement.items():
        if not key.isdigit() or int(key) not in built.breakouts:
            raise TimetableError(400, "invalid", f"this day has no breakout {key}", f"placement.{key}")
        if slot_id not in slot_ids:
            raise TimetableError(400, "invalid", f"this day has no breakout slot {slot_id}", f"placement.{key}")
        parsed[int(key)] = slot_id
    result = evaluate(built.problem, parsed).as_dict()
    result["run_id"] = run.id
    return result


# --------------------------------------------------------------------------------------------- locks


def list_locks(db: Database, event_id: int) -> list[TimetableLock]:
    with db.unit_of_work() as session:
        setup_service.day(session, event_id)
        return list(
            session.scalars(select(TimetableLock).where(TimetableLock.event_id == event_id).order_by(TimetableLock.id))
        )


def set_lock(db: Database, event_id: int, organiser_id: int, breakout_id: int, slot_id: int) -> TimetableLock:
    with db.unit_of_work() as session:
        setup_service.lock_setup(session, event_id)
        breakout = session.get(Breakout, breakout_id)
        if breakout is None or breakout.event_id != event_id:
            raise TimetableError(400, "invalid", f"this day has no breakout {breakout_id}", "breakout_id")
        slot = session.get(Slot, slot_id)
        if slot is None or slot.event_id != event_id or slot.kind != "breakout":
            raise TimetableError(400, "invalid", f"this day has no breakout slot {slot_id}", "slot_id")
        lock = session.scalar(
            select(TimetableLock).where(TimetableLock.event_id == event_id, TimetableLock.breakout_id == breakout_id)
        )
        if lock is None:
            lock = TimetableLock(event_id=event_id, breakout_id=breakout_id, created_by=organiser_id)
            session.add(lock)
        lock.slot_id = slot_id
        session.flush()
        return lock


def delete_lock(db: Database, event_id: int, breakout_id: int) -> None:
    with db.unit_of_work() as session:
        setup_service.lock_setup(session, event_id)
        lock = session.scalar(
            select(TimetableLock).where(TimetableLock.event_id == event_id, TimetableLock.breakout_id == breakout_id)
        )
        if lock is None:
            raise TimetableError(404, "not_found", "this breakout is not locked")
        session.delete(lock)


# --------------------------------------------------------------------------------------------- applying


def apply(db: Database, event_id: int, run_id: int, *, force: bool = False) -> int:
    """Every breakout takes its slot from the run; returns how many moved. Refused (409) if the run has no result,
    if what it was computed from changed since (saying what), or if a schedule is published (unless forced)."""
    with db.unit_of_work() as session:
        setup = setup_service.lock_setup(session, event_id)  # one set-up change at a time per day
        run = session.get(TimetableRun, run_id)
        if run is None or run.event_id != event_id:
            raise TimetableError(404, "not_found", "timetable run not found")
        if run.status != SUCCEEDED or not run.placement:
            raise TimetableError(409, "not_applicable", f"only a succeeded run can be applied (this one: {run.status})")
        built = build(session, event_id, run.top_k)
        changed = changes_since(run.inputs or {}, built.inputs)
        if changed:
            raise TimetableError(
                409,
                "stale",
                "the day changed since this run: " + "; ".join(changed) + ". Start a new run and apply that.",
                None,
                changed,
            )
        setup_service.guard_published(setup, force)
        moved = 0
        for key, slot_id in run.placement.items():
            breakout = built.breakouts[int(key)]
            if breakout.slot_id != slot_id:
                breakout.slot_id = slot_id
                moved += 1
        run.applied_at = utcnow()
        return moved
