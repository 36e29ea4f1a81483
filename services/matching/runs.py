"""What every background optimisation run in matching shares (assignment runs, timetable runs): the run row's
lifecycle columns, and the lifecycle itself - claim a queued run, finish it, find a run whose task was lost and
send it again, and the status fields of its JSON. What a run computes stays in its feature's package."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database
from shared.events import as_utc, utcnow

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"


class RunRowMixin:
    """Columns every run row has; the feature's class adds `__tablename__`, `stage` (its length differs per
    feature) and what the run computes."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    started_by: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=QUEUED)
    if TYPE_CHECKING:  # declared by each feature: the column's length differs
        stage: Mapped[str]
    progress: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # why it failed, in words
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


Run = TypeVar("Run", bound=RunRowMixin)


def queued(model: type[Run], event_id: int, organiser_id: int, seed: int, **options: Any) -> Run:
    """A new run row, queued, with the feature's own `options` (the caller adds it to its session)."""
    return model(
        event_id=event_id,
        started_by=organiser_id,
        status=QUEUED,
        stage="queued",
        progress=0,
        seed=seed,
        reasons=[],
        heartbeat_at=utcnow(),
        **options,
    )


def find(db: Database, model: type[Run], event_id: int, run_id: int) -> Run | None:
    """The run, or None when it does not exist or belongs to another day (the caller words the 404)."""
    with db.unit_of_work() as session:
        run = session.get(model, run_id)
        return run if run is not None and run.event_id == event_id else None


def newest_first(db: Database, model: type[Run], event_id: int) -> list[Run]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(model).where(model.event_id == event_id).order_by(model.id.desc())))


def needs_restart(run: RunRowMixin, stale_after: timedelta, now: datetime) -> bool:
    """A queued or running run whose worker has said nothing for `stale_after`: its task was lost (worker killed,
    broker restarted empty) and is sent again; the task takes it over."""
    last = run.heartbeat_at or run.created_at
    return run.status in (QUEUED, RUNNING) and now - as_utc(last) > stale_after


def requeue(db: Database, model: type[RunRowMixin], run_id: int) -> None:
    """Back to queued (its task is about to be sent again); the heartbeat restarts the stale clock, so watchers
    polling meanwhile do not send it again."""
    with db.unit_of_work() as session:
        run = session.get(model, run_id, with_for_update=True)
        if run is not None and run.status in (QUEUED, RUNNING):
            run.status, run.stage, run.heartbeat_at = QUEUED, "queued again", utcnow()


def resend_if_lost(
    db: Database, model: type[RunRowMixin], run: RunRowMixin, stale_after: timedelta, send: Callable[[int], object]
) -> bool:
    """Called when someone looks at a run: a run whose task was lost is queued again and its task re-sent, once per
    stale period however many people are watching. True when it was re-sent (the caller reads the row again)."""
    if not needs_restart(run, stale_after, utcnow()):
        return False
    requeue(db, model, run.id)
    send(run.id)
    return True


def claim(db: Database, model: type[Run], run_id: int, stale_after: timedelta, **reset: Any) -> Run | None:
    """queued (or running but silent for `stale_after`) -> running, with `reset` columns cleared; None when
    finished or held by a live worker."""
    with db.unit_of_work() as session:
        run = session.get(model, run_id, with_for_update=True)
        if run is None or run.status in (SUCCEEDED, FAILED):
            return None
        if run.status == RUNNING and not needs_restart(run, stale_after, utcnow()):
            return None
        run.status, run.stage, run.progress = RUNNING, "starting", 0
        for key, value in reset.items():
            setattr(run, key, value)
        run.started_at = run.heartbeat_at = utcnow()
        return run


def finish(db: Database, model: type[Run], run_id: int, **values: Any) -> Run:
    with db.unit_of_work() as session:
        run = session.get(model, run_id, with_for_update=True)
        assert run is not None
        for key, value in values.items():
            setattr(run, key, value)
        run.finished_at = run.heartbeat_at = utcnow()
        return run


def fail(db: Database, model: type[Run], run_id: int, reasons: list[str], **values: Any) -> Run:
    """Finished without a result; `reasons` say why in words."""
    return finish(db, model, run_id, status=FAILED, stage="failed", progress=100, reasons=reasons, **values)


def status_payload(run: RunRowMixin) -> dict[str, Any]:
    """The fields every run's progress push and status JSON start with."""
    return {
        "run_id": run.id,
        "event_id": run.event_id,
        "status": run.status,
        "stage": run.stage,
        "progress": run.progress,
    }
