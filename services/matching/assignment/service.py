"""Use cases of assignment runs: build the solver's instance from the day's set-up and registrations, run it (from
the Celery task) with live progress, keep locks, compare runs, publish a run, and read schedules."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.matching import runs
from services.matching.adapters.orm import InsightDayRow, Outbox
from services.matching.assignment import schedule
from services.matching.assignment.domain import (
    Attendee,
    Infeasible,
    Instance,
    InstanceError,
    evaluate,
)
from services.matching.assignment.domain import Breakout as BreakoutSpec
from services.matching.assignment.domain import Slot as SlotSpec
from services.matching.assignment.models import AssignmentLock, AssignmentRun, Placement
from services.matching.assignment.solver import solve
from services.matching.registration.models import PersonCopy, Registration
from services.matching.runs import RUNNING, SUCCEEDED
from services.matching.setup import service as setup_service
from services.matching.setup.models import Breakout, Slot, ThesaurusTheme
from shared import outbox
from shared.db import Database
from shared.events import AssignmentsPublished, as_utc, utcnow

Push = Callable[[int, str, dict[str, Any]], object]  # (user id, event name, data)


class AssignmentError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


# --------------------------------------------------------------------------------------------- the instance


@dataclass
class Built:
    """The solver's instance for a day, and what is needed to explain its answer."""

    instance: Instance
    slots: list[Slot]
    breakouts: dict[int, Breakout]
    people: dict[int, PersonCopy]
    rankings: dict[int, list[str]]
    locks: dict[tuple[int, int], int]
    ignored_locks: int = 0
    digest: str = field(default="")


def build(session: Session, event_id: int, org_share: float) -> Built:
    slots = list(
        session.scalars(
            select(Slot).where(Slot.event_id == event_id, Slot.kind == "breakout").order_by(Slot.starts_at, Slot.id)
        )
    )
    all_breakouts = list(session.scalars(select(Breakout).where(Breakout.event_id == event_id).order_by(Breakout.id)))
    by_slot: dict[int, list[Breakout]] = {}
    for b in all_breakouts:
        by_slot.setdefault(b.slot_id, []).append(b)
    slots = [s for s in slots if by_slot.get(s.id)]
    themes = [
        t.name
        for t in session.scalars(
            select(ThesaurusTheme).where(ThesaurusTheme.event_id == event_id).order_by(ThesaurusTheme.position)
        )
    ]
    registrations = list(
        session.scalars(select(Registration).where(Registration.event_id == event_id).order_by(Registration.user_id))
    )
    ids = [r.user_id for r in registrations]
    people = (
        {p.user_id: p for p in session.scalars(select(PersonCopy).where(PersonCopy.user_id.in_(ids)))} if ids else {}
    )
    attendees = []
    rankings: dict[int, list[str]] = {}
    for r in registrations:
        person = people.get(r.user_id)
        rankings[r.user_id] = [t for t in r.themes if t in themes]
        attendees.append(
            Attendee(
                id=r.user_id,
                org=(person.organisation if person else "") or f"unknown-{r.user_id}",
                region=(person.region if person else "") or "",
                prefs=schedule.prefs_from_ranking(rankings[r.user_id]),
            )
        )
    slot_ids = {s.id for s in slots}
    locks: dict[tuple[int, int], int] = {}
    ignored = 0
    for lock in session.scalars(select(AssignmentLock).where(AssignmentLock.event_id == event_id)):
        if lock.user_id in rankings and lock.slot_id in slot_ids:
            locks[(lock.user_id, lock.slot_id)] = lock.breakout_id
        else:
            ignored += 1  # the person withdrew or the slot has no breakouts any more
    instance = Instance(
        org_share=org_share,
        themes=tuple(themes),
        slots=tuple(
            SlotSpec(id=s.id, breakouts=tuple(BreakoutSpec(b.id, b.theme, b.capacity) for b in by_slot[s.id]))
            for s in slots
        ),
        attendees=tuple(attendees),
    )
    built = Built(instance, slots, {b.id: b for b in all_breakouts}, people, rankings, locks, ignored)
    fingerprint = {
        "instance": instance.to_json(),
        "locks": sorted([u, s, b] for (u, s), b in locks.items()),
        "times": [[s.id, as_utc(s.starts_at).isoformat(), as_utc(s.ends_at).isoformat()] for s in slots],
    }
    built.digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
    return built


# --------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunOptions:
    org_share: float = 0.3
    org_weight: float = 0.0
    seed: int = 0


def start_run(db: Database, event_id: int, organiser_id: int, options: RunOptions) -> AssignmentRun:
    with db.unit_of_work() as session:
        setup_service.day(session, event_id)
        run = runs.queued(
            AssignmentRun,
            event_id,
            organiser_id,
            options.seed,
            org_share=options.org_share,
            org_weight=options.org_weight,
        )
        session.add(run)
        session.flush()
        return run


def get_run(db: Database, event_id: int, run_id: int) -> AssignmentRun:
    run = runs.find(db, AssignmentRun, event_id, run_id)
    if run is None:
        raise AssignmentError(404, "not_found", "assignment run not found")
    return run


def list_runs(db: Database, event_id: int) -> list[AssignmentRun]:
    with db.unit_of_work() as session:
        setup_service.day(session, event_id)
    return runs.newest_first(db, AssignmentRun, event_id)


def progress_payload(run: AssignmentRun) -> dict[str, Any]:
    return runs.status_payload(run)


def execute_run(db: Database, run_id: int, push: Push, stale_after: timedelta) -> str:
    """The Celery task's body: solve, report progress (database row + a push to the organiser), store the result.
    Idempotent: a finished run is left alone; a run whose worker died is started over (the solver is deterministic)."""
    run = runs.claim(db, AssignmentRun, run_id, stale_after)
    if run is None:
        return "skipped"
    organiser, event_id = run.started_by, run.event_id
    push(organiser, "assignment_progress", progress_payload(run))
    last_write = 0.0

    def report(stage: str, percent: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write < 0.3 and percent < 100:
            return  # at most ~3 writes a second; the solver may report much more often
        last_write = now
        with db.unit_of_work() as session:
            row = session.get(AssignmentRun, run_id)
            if row is not None:
                row.stage, row.progress, row.heartbeat_at = stage, percent, utcnow()
        push(
            organiser,
            "assignment_progress",
            {"run_id": run_id, "event_id": event_id, "status": RUNNING, "stage": stage, "progress": percent},
        )

    with db.unit_of_work() as session:
        built = build(session, event_id, run.org_share)
    try:
        if not built.instance.attendees:
            raise Infeasible(["nobody has registered for this day yet"])
        if not built.instance.slots:
            raise Infeasible(["the day has no breakout slot with breakouts yet"])
        result = solve(built.instance, locks=built.locks, seed=run.seed, org_weight=run.org_weight, progress=report)
    except Infeasible as exc:
        done = runs.fail(db, AssignmentRun, run_id, exc.reasons, inputs_digest=built.digest)
    except InstanceError as exc:
        done = runs.fail(db, AssignmentRun, run_id, [exc.message], inputs_digest=built.digest)
    else:
        metrics = evaluate(built.instance, result.assignment, run.org_weight).as_dict()
        metrics["bound_percent"] = round(100 * result.ratio, 2)
        metrics["ignored_locks"] = built.ignored_locks
        metrics["method"] = result.stats.get("method")
        metrics["breakouts"] = breakout_mix(built, result.assignment)
        done = runs.finish(
            db,
            AssignmentRun,
            run_id,
            status=SUCCEEDED,
            stage="done",
            progress=100,
            assignment=result.assignment,
            objective=result.objective,
            bound=result.bound.value,
            bound_method=result.bound.kind,
            quality=metrics,
            reasons=[],
            inputs_digest=built.digest,
        )
    push(organiser, "assignment_progress", progress_payload(done))
    return done.status


def breakout_mix(built: Built, assignment: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The organisation mix of every breakout: people, distinct organisations, the largest organisation's share."""
    orgs: dict[int, dict[str, int]] = {}
    for user_key, breakout_ids in assignment.items():
        person = built.people.get(int(user_key))
        org = person.organisation if person else f"unknown-{user_key}"
        for bid in breakout_ids:
            counts = orgs.setdefault(int(bid), {})
            counts[org] = counts.get(org, 0) + 1
    mix = []
    for slot in built.slots:
        for spec in next(s for s in built.instance.slots if s.id == slot.id).breakouts:
            counts = orgs.get(int(spec.id), {})
            people = sum(counts.values())
            breakout = built.breakouts[int(spec.id)]
            mix.append(
                {
                    "breakout_id": breakout.id,
                    "slot_id": slot.id,
                    "title": breakout.title,
                    "theme": breakout.theme,
                    "capacity": breakout.capacity,
                    "people": people,
                    "organisations": len(counts),
                    "largest_share": round(max(counts.values()) / people, 3) if people else 0.0,
                }
            )
    return mix


def compare(db: Database, event_id: int, first_id: int, second_id: int) -> dict[str, Any]:
    first, second = get_run(db, event_id, first_id), get_run(db, event_id, second_id)
    for run in (first, second):
        if run.status != SUCCEEDED:
            raise AssignmentError(409, "not_finished", f"run {run.id} has no result to compare ({run.status})")
    a, b = first.assignment or {}, second.assignment or {}
    moved = sorted(int(u) for u in set(a) | set(b) if a.get(u) != b.get(u))
    return {
        "runs": [_summary(first), _summary(second)],
        "people_moved": len(moved),
        "moved_user_ids": moved[:200],
    }


def _summary(run: AssignmentRun) -> dict[str, Any]:
    return {"id": run.id, "objective": run.objective, "bound": run.bound, "quality": run.quality}


# --------------------------------------------------------------------------------------------- locks


def list_locks(db: Database, event_id: int) -> list[AssignmentLock]:
    with db.unit_of_work() as session:
        setup_service.day(session, event_id)
        return list(
            session.scalars(
                select(AssignmentLock).where(AssignmentLock.event_id == event_id).order_by(AssignmentLock.id)
            )
        )


def set_lock(
    db: Database, event_id: int, organiser_id: int, user_id: int, slot_id: int, breakout_id: int
) -> AssignmentLock:
    with db.unit_of_work() as session:
        setup_service.day(session, event_id)
        breakout = session.get(Breakout, breakout_id)
        if breakout is None or breakout.event_id != event_id:
            raise AssignmentError(400, "invalid", "no such breakout on this day", "breakout_id")
        if breakout.slot_id != slot_id:
            raise AssignmentError(400, "invalid", "this breakout is in another slot", "slot_id")
        registered = session.scalar(
            select(Registration.id).where(Registration.event_id == event_id, Registration.user_id == user_id)
        )
        if registered is None:
            raise AssignmentError(400, "invalid", "this person has not registered for this day", "user_id")
        lock = session.scalar(
            select(AssignmentLock).where(
                AssignmentLock.event_id == event_id,
                AssignmentLock.user_id == user_id,
                AssignmentLock.slot_id == slot_id,
            )
        )
        if lock is None:
            lock = AssignmentLock(event_id=event_id, user_id=user_id, slot_id=slot_id, created_by=organiser_id)
            session.add(lock)
        lock.breakout_id = breakout_id
        session.flush()
        return lock


def delete_lock(db: Database, event_id: int, lock_id: int) -> None:
    with db.unit_of_work() as session:
        lock = session.get(AssignmentLock, lock_id)
        if lock is None or lock.event_id != event_id:
            raise AssignmentError(404, "not_found", "lock not found")
        session.delete(lock)


# --------------------------------------------------------------------------------------------- publishing


def publish(db: Database, event_id: int, run_id: int) -> int:
    """Make this run the day's schedule: placements with reasons, one AssignmentsPublished per person, the day marked
    published; returns how many people got a schedule. Refused if the run failed or its inputs changed since.

    Someone placed by the previous publication and by none now (unregistered since, say) gets an
    AssignmentsPublished with no breakouts, so notify withdraws their old breakouts and reminders."""
    with db.unit_of_work() as session:
        setup_service.lock_setup(session, event_id)  # one publication at a time per day
        run = session.get(AssignmentRun, run_id)
        if run is None or run.event_id != event_id:
            raise AssignmentError(404, "not_found", "assignment run not found")
        if run.status != SUCCEEDED or not run.assignment:
            raise AssignmentError(
                409, "not_publishable", f"only a succeeded run can be published (this one: {run.status})"
            )
        built = build(session, event_id, run.org_share)
        if built.digest != run.inputs_digest:
            raise AssignmentError(
                409,
                "stale",
                "slots, breakouts, registrations or locks changed since this run: start a new run and publish that",
            )
        day: InsightDayRow = setup_service.day(session, event_id)
        orgs = _orgs_per_breakout(built, run.assignment)
        placed_before = set(session.scalars(select(Placement.user_id).where(Placement.event_id == event_id)))
        session.execute(delete(Placement).where(Placement.event_id == event_id))
        published_at = utcnow()
        for user_key, breakout_ids in sorted(run.assignment.items(), key=lambda kv: int(kv[0])):
            user_id = int(user_key)
            person = built.people.get(user_id)
            seats = [
                schedule.Seat(slot.id, int(bid), built.breakouts[int(bid)].theme)
                for slot, bid in zip(built.slots, breakout_ids, strict=True)
            ]
            why = schedule.reasons(built.rankings.get(user_id, []), person.organisation if person else "", seats, orgs)
            items = []
            for seat, slot, reason in zip(seats, built.slots, why, strict=True):
                breakout = built.breakouts[seat.breakout_id]
                session.add(
                    Placement(
                        event_id=event_id,
                        run_id=run.id,
                        user_id=user_id,
                        slot_id=slot.id,
                        breakout_id=breakout.id,
                        reason=reason[:300],
                    )
                )
                items.append(_item(breakout, slot, reason))
            outbox.record(
                session,
                Outbox,
                AssignmentsPublished(
                    event_id=event_id,
                    run_id=run.id,
                    user_id=user_id,
                    timezone=day.timezone,
                    breakouts=items,
                    published_at=published_at.isoformat(),
                ),
            )
        for user_id in sorted(placed_before - {int(key) for key in run.assignment}):  # the loop above told them
            outbox.record(
                session,
                Outbox,
                AssignmentsPublished(
                    event_id=event_id,
                    run_id=run.id,
                    user_id=user_id,
                    timezone=day.timezone,
                    breakouts=[],
                    published_at=published_at.isoformat(),
                ),
            )
        run.published_at = published_at
        setup_service.mark_published(session, event_id, published_at)
        return len(run.assignment)


def _orgs_per_breakout(built: Built, assignment: dict[str, list[Any]]) -> dict[int, set[str]]:
    orgs: dict[int, set[str]] = {}
    for user_key, breakout_ids in assignment.items():
        person = built.people.get(int(user_key))
        for bid in breakout_ids:
            orgs.setdefault(int(bid), set()).add(person.organisation if person else f"unknown-{user_key}")
    return orgs


def _item(breakout: Breakout, slot: Slot, reason: str) -> dict[str, Any]:
    return {
        "breakout_id": breakout.id,
        "slot_id": slot.id,
        "title": breakout.title,
        "theme": breakout.theme,
        "starts_at": as_utc(slot.starts_at).isoformat(),
        "ends_at": as_utc(slot.ends_at).isoformat(),
        "meeting_url": breakout.meeting_url,
        "reason": reason,
    }


# --------------------------------------------------------------------------------------------- schedules


def my_breakouts(session: Session, event_id: int, user_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Placement, Breakout, Slot)
        .join(Breakout, Breakout.id == Placement.breakout_id)
        .join(Slot, Slot.id == Placement.slot_id)
        .where(Placement.event_id == event_id, Placement.user_id == user_id)
        .order_by(Slot.starts_at)
    ).all()
    return [_item(breakout, slot, placement.reason) for placement, breakout, slot in rows]


def schedule_rows(db: Database, event_id: int) -> list[dict[str, Any]]:
    with db.unit_of_work() as session:
        setup_service.day(session, event_id)
        rows = session.execute(
            select(Placement, Breakout, Slot, PersonCopy)
            .join(Breakout, Breakout.id == Placement.breakout_id)
            .join(Slot, Slot.id == Placement.slot_id)
            .outerjoin(PersonCopy, PersonCopy.user_id == Placement.user_id)
            .where(Placement.event_id == event_id)
            .order_by(Slot.starts_at, Breakout.title, PersonCopy.display_name)
        ).all()
        return [
            {
                "email": person.email if person else "",
                "name": person.display_name if person else f"User {placement.user_id}",
                "organisation": person.organisation if person else "",
                "slot_starts_at": as_utc(slot.starts_at).isoformat(),
                "slot_ends_at": as_utc(slot.ends_at).isoformat(),
                "breakout": breakout.title,
                "theme": breakout.theme,
                "meeting_url": breakout.meeting_url or "",
                "reason": placement.reason,
            }
            for placement, breakout, slot, person in rows
        ]


def my_chats(session: Session, event_id: int, user_id: int) -> list[dict[str, Any]]:
    from services.matching.adapters.orm import ProjectCopy
    from services.matching.chat_slots.models import ChatBooking, ChatSlot

    rows = session.execute(
        select(ChatBooking, ChatSlot, ProjectCopy)
        .join(ChatSlot, ChatBooking.active_slot_id == ChatSlot.id)
        .outerjoin(ProjectCopy, ProjectCopy.id == ChatSlot.project_id)
        .where(ChatSlot.event_id == event_id)
        .where((ChatBooking.attendee_id == user_id) | (ChatSlot.author_id == user_id))
        .order_by(ChatSlot.starts_at)
    ).all()
    return [
        {
            "slot_id": slot.id,
            "room_id": booking.room_id,
            "project_id": slot.project_id,
            "project_title": project.title if project else "",
            "with": booking.attendee_name if slot.author_id == user_id else slot.author_name,
            "as_author": slot.author_id == user_id,
            "starts_at": as_utc(slot.starts_at).isoformat(),
            "ends_at": as_utc(slot.ends_at).isoformat(),
        }
        for booking, slot, project in rows
    ]


def my_coffee(session: Session, event_id: int, user_id: int) -> list[dict[str, Any]]:
    from services.matching.coffee.models import CoffeeMember, CoffeeRound

    mine = session.execute(
        select(CoffeeMember, CoffeeRound)
        .join(CoffeeRound, CoffeeRound.id == CoffeeMember.round_id)
        .where(CoffeeRound.event_id == event_id, CoffeeMember.user_id == user_id, CoffeeMember.left_at.is_(None))
        .order_by(CoffeeRound.starts_at)
    ).all()
    found = []
    for member, rnd in mine:
        in_group = CoffeeMember.group_id == member.group_id
        others = session.scalars(select(CoffeeMember.user_id).where(in_group, CoffeeMember.user_id != user_id)).all()
        names = [p.display_name for p in session.scalars(select(PersonCopy).where(PersonCopy.user_id.in_(others)))]
        found.append(
            {
                "round_id": rnd.id,
                "starts_at": as_utc(rnd.starts_at).isoformat(),
                "ends_at": as_utc(rnd.ends_at).isoformat(),
                "with": names,
                "response": member.response,
                "summary": "Coffee with " + (", ".join(names) or "your partner"),
            }
        )
    return found


def my_schedule(db: Database, event_id: int, user_id: int) -> dict[str, Any]:
    """Everything a person has on the day: published breakouts (with why), booked chats, coffee pairings."""
    with db.unit_of_work() as session:
        day = setup_service.day(session, event_id)
        setup = setup_service.setup_of(session, event_id)
        return {
            "event_id": event_id,
            "timezone": day.timezone,
            "published": setup.published_at is not None,
            "breakouts": my_breakouts(session, event_id, user_id),
            "chats": my_chats(session, event_id, user_id),
            "coffee": my_coffee(session, event_id, user_id),
        }
