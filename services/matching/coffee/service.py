"""Use cases of coffee rounds. One unit of work each; every change of a round starts with `_lock` (the turn-taking
UPDATE, see models.py), so the pool of people waiting to be paired cannot change underneath a pairing.

- The organiser's pairing run pairs everyone opted in who has no partner (all of them the first time, late
  opt-ins after that) with domain.pair; if the round's minimum cross-organisation share is out of reach it
  refuses with the reason in words (409), unless asked to pair anyway.
- Declining (or opting out) takes the person out of their group; a pair left with one person is dissolved and
  that person waits for a rematch, a trio goes on as a pair. Whenever the pool changes after the round was
  paired (someone declines, opts out, or opts in late), the waiting people are paired among themselves
  (pairs only, never a pair already made today); someone left alone waits for the next change.
- Each run or rematch that makes groups records one CoffeePaired event with those groups; each departure from a
  group records one CoffeeGroupChanged (who left, whether the group dissolved), so notify takes the coffee off
  their calendars and drops its reminders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.matching.adapters.orm import Outbox
from services.matching.chat_slots.models import ChatBooking, ChatSlot
from services.matching.coffee import domain
from services.matching.coffee.models import CoffeeGroup, CoffeeMember, CoffeeOptIn, CoffeeRound
from services.matching.directory.domain import Card
from services.matching.directory.service import cards_of, is_registered
from services.matching.registration.models import PersonCopy
from services.matching.registration.service import Person, keep_person
from services.matching.service import NotFound
from services.matching.setup import service as setup
from services.matching.setup.domain import Refused, utc
from services.matching.setup.models import Slot
from shared import outbox
from shared.db import Database
from shared.events import CoffeeGroupChanged, CoffeePaired

CHUNK = 500


class Conflict(Refused):
    def __init__(self, code: str, message: str, status: int = 409, field: str | None = None) -> None:
        super().__init__(field, message, status=status, code=code)


# --- creating a round --------------------------------------------------------------------------------------------
def create_round(
    db: Database,
    event_id: int,
    organiser_id: int,
    *,
    slot_id: int | None,
    starts_at: datetime | None,
    minutes: int | None,
    min_cross_org_share: float,
    now: datetime,
) -> CoffeeRound:
    """A round at a coffee slot's time (`slot_id`) or at `starts_at` for `minutes`, within the day."""
    with db.unit_of_work() as session:
        day = setup.day(session, event_id)
        if slot_id is not None:
            slot = session.get(Slot, slot_id)
            if slot is None or slot.event_id != event_id:
                raise Refused("slot_id", "no such slot on this insight day")
            if slot.kind != "coffee":
                raise Refused("slot_id", f"this is a {slot.kind} slot, not a coffee slot")
            starts_at = utc(slot.starts_at)
            minutes = int((utc(slot.ends_at) - starts_at).total_seconds() // 60)
        if starts_at is None or minutes is None:
            raise Refused("starts_at", "give a coffee slot (slot_id) or a start time and minutes")
        try:
            starts, ends = domain.plan_round(utc(starts_at), minutes, utc(day.starts_at), utc(day.ends_at), utc(now))
        except domain.RoundError as exc:
            raise Refused(exc.field, exc.message) from None
        row = CoffeeRound(
            event_id=event_id,
            slot_id=slot_id,
            starts_at=starts,
            ends_at=ends,
            minutes=minutes,
            min_cross_org_share=min_cross_org_share,
            status="open",
            runs=0,
            created_by=organiser_id,
            revision=1,
        )
        session.add(row)
        session.flush()
        return row


# --- taking part -------------------------------------------------------------------------------------------------
def opt_in(db: Database, round_id: int, person: Person, now: datetime) -> None:
    """Join the round (again: no change). After the pairing run, a late opt-in is paired with whoever waits."""
    with db.unit_of_work() as session:
        rnd = _lock(session, round_id)
        _not_started(rnd, now)
        keep_person(session, person)  # the organisation the pairing compares, as the gateway vouches for it
        if not is_registered(session, rnd.event_id, person.user_id):
            raise Conflict("not_registered", "register for this insight day first, then opt in to its coffee", 403)
        setup.insert_ignoring_duplicate(session, CoffeeOptIn, round_id=rnd.id, user_id=person.user_id, created_at=now)
        if rnd.status == "paired":
            _rematch(session, rnd)


def opt_out(db: Database, round_id: int, user_id: int, now: datetime) -> None:
    """Leave the round; a partner is freed for a rematch."""
    with db.unit_of_work() as session:
        rnd = _lock(session, round_id)
        _not_started(rnd, now)
        gone = session.execute(
            delete(CoffeeOptIn).where(CoffeeOptIn.round_id == rnd.id, CoffeeOptIn.user_id == user_id)
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise NotFound("opt-in")
        member = _membership(session, rnd.id, user_id)
        if member is not None:
            _leave(session, rnd, member, now, reason="left_round")
        if rnd.status == "paired":
            _rematch(session, rnd)


def accept(db: Database, round_id: int, user_id: int, now: datetime) -> None:
    with db.unit_of_work() as session:
        rnd = _lock(session, round_id)
        member = _membership(session, rnd.id, user_id)
        if member is None:
            raise Conflict("not_paired", "you have no partner in this round yet")
        member.response = "accepted"
        member.responded_at = now


def decline(db: Database, round_id: int, user_id: int, now: datetime, *, rematch: bool = True) -> None:
    """Not this partner: leave the group (the partner is freed) and, with `rematch`, wait for someone else who is
    unpaired or also declined; without it, leave the round."""
    with db.unit_of_work() as session:
        rnd = _lock(session, round_id)
        _not_started(rnd, now)
        member = _membership(session, rnd.id, user_id)
        if member is None:
            raise Conflict("not_paired", "you have no partner in this round to decline")
        _leave(session, rnd, member, now, reason="declined" if rematch else "left_round")
        if not rematch:
            session.execute(delete(CoffeeOptIn).where(CoffeeOptIn.round_id == rnd.id, CoffeeOptIn.user_id == user_id))
        _rematch(session, rnd)


def _leave(session: Session, rnd: CoffeeRound, member: CoffeeMember, now: datetime, *, reason: str) -> None:
    member.response = "declined"
    member.responded_at = now
    member.left_at = now
    member.active_round_id = None
    group = session.get(CoffeeGroup, member.group_id)
    assert group is not None
    left = [m for m in _members(session, [group.id]) if m.active_round_id is not None and m.user_id != member.user_id]
    if len(left) < 2:  # a pair with one person is no pair: they wait for a rematch
        group.dissolved_at = now
        for other in left:
            other.active_round_id = None
            other.left_at = now
    session.flush()
    dissolved = group.dissolved_at is not None
    outbox.record(
        session,
        Outbox,
        CoffeeGroupChanged(
            round_id=rnd.id,
            event_id=rnd.event_id,
            group_id=group.id,
            user_ids=[member.user_id, *(m.user_id for m in left)] if dissolved else [member.user_id],
            dissolved=dissolved,
            by_user_id=member.user_id,
            reason=reason,
            starts_at=utc(rnd.starts_at).isoformat(),
            ends_at=utc(rnd.ends_at).isoformat(),
            remaining_user_ids=[] if dissolved else [m.user_id for m in left],
        ),
    )


# --- pairing -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunOutcome:
    pairing: domain.Pairing
    groups: list[CoffeeGroup]


def run_pairing(
    db: Database,
    round_id: int,
    now: datetime,
    *,
    seed: int | None = None,
    accept_lower_share: bool = False,
) -> RunOutcome:
    """The organiser pairs everyone waiting (the first run: everyone opted in). The same seed gives the same
    pairing; without one, it is derived from the round and its run number."""
    with db.unit_of_work() as session:
        rnd = _lock(session, round_id)
        _not_started(rnd, now)
        pool = _pool(session, rnd)
        if len(pool) < 2:
            raise Conflict(
                "too_few",
                f"{len(pool)} {'person is' if len(pool) == 1 else 'people are'} waiting to be paired: "
                "at least two are needed",
            )
        pairing = domain.pair(
            _people(session, pool),
            forbidden=_day_pairs(session, rnd.event_id),
            met=_met_before(session, pool, rnd.event_id),
            seed=seed if seed is not None else rnd.id * 7919 + rnd.runs,
            min_cross_org_share=rnd.min_cross_org_share,
        )
        if not pairing.groups:
            raise Conflict(
                "no_new_pairs",
                f"none of the {len(pool)} people waiting can be paired: each has already been paired with every "
                "other today, and pairs are never repeated within a day",
            )
        if pairing.shortfall and not accept_lower_share:
            raise Conflict("min_share_unreachable", pairing.shortfall, field="min_cross_org_share")
        rnd.runs += 1
        rnd.status = "paired"
        rnd.paired_at = now
        groups = _make_groups(session, rnd, pairing.groups, run=rnd.runs, rematch=False)
        return RunOutcome(pairing, groups)


def _rematch(session: Session, rnd: CoffeeRound) -> list[CoffeeGroup]:
    """Pair the people waiting in a paired round among themselves (pairs only: nobody joins a group that exists)."""
    pool = _pool(session, rnd)
    if len(pool) < 2:
        return []
    pairing = domain.pair(
        _people(session, pool),
        forbidden=_day_pairs(session, rnd.event_id),
        met=_met_before(session, pool, rnd.event_id),
        seed=rnd.id * 7919 + rnd.revision,
        allow_trio=False,
    )
    return _make_groups(session, rnd, pairing.groups, run=0, rematch=True)


def _make_groups(
    session: Session, rnd: CoffeeRound, groups: Iterable[domain.Group], *, run: int, rematch: bool
) -> list[CoffeeGroup]:
    made: list[tuple[CoffeeGroup, tuple[int, ...]]] = []
    for group in groups:
        row = CoffeeGroup(round_id=rnd.id, event_id=rnd.event_id, run=run, cross_org=group.cross_org)
        session.add(row)
        session.flush()
        session.add_all(
            CoffeeMember(group_id=row.id, user_id=u, round_id=rnd.id, active_round_id=rnd.id, response="pending")
            for u in group.user_ids
        )
        made.append((row, group.user_ids))
    session.flush()  # one group per person per round: the unique key would refuse a second
    if made:
        starts, ends = utc(rnd.starts_at).isoformat(), utc(rnd.ends_at).isoformat()
        outbox.record(
            session,
            Outbox,
            CoffeePaired(
                round_id=rnd.id,
                event_id=rnd.event_id,
                groups=[
                    {"group_id": row.id, "user_ids": list(ids), "starts_at": starts, "ends_at": ends}
                    for row, ids in made
                ],
                rematch=rematch,
            ),
        )
    return [row for row, _ in made]


def _pool(session: Session, rnd: CoffeeRound) -> list[int]:
    """Opted in and in no group of the round now."""
    active = select(CoffeeMember.user_id).where(CoffeeMember.active_round_id == rnd.id)
    return list(
        session.scalars(
            select(CoffeeOptIn.user_id)
            .where(CoffeeOptIn.round_id == rnd.id, CoffeeOptIn.user_id.not_in(active))
            .order_by(CoffeeOptIn.user_id)
        ).all()
    )


def _people(session: Session, user_ids: list[int]) -> list[domain.Person]:
    orgs: dict[int, str] = {}
    for chunk in _chunks(user_ids):
        rows = session.execute(select(PersonCopy.user_id, PersonCopy.organisation).where(PersonCopy.user_id.in_(chunk)))
        orgs.update({user_id: organisation for user_id, organisation in rows})
    return [domain.Person(u, orgs.get(u, "")) for u in user_ids]


def _groups_pairs(rows: Iterable[tuple[int, int]]) -> set[domain.Pair]:
    by_group: dict[int, list[int]] = defaultdict(list)
    for group_id, user_id in rows:
        by_group[group_id].append(user_id)
    return {p for members in by_group.values() for p in domain.pairs_of(sorted(members))}


def _day_pairs(session: Session, event_id: int) -> set[domain.Pair]:
    """Every pair ever grouped in this day's rounds, whoever left since: never to be made again today."""
    rows = session.execute(
        select(CoffeeMember.group_id, CoffeeMember.user_id)
        .join(CoffeeGroup, CoffeeGroup.id == CoffeeMember.group_id)
        .where(CoffeeGroup.event_id == event_id)
    ).all()
    return _groups_pairs((g, u) for g, u in rows)


def _met_before(session: Session, pool: list[int], event_id: int) -> set[domain.Pair]:
    """Pairs of waiting people who met before: a chat booked between them, a coffee on another day (where
    neither declined), a breakout together (hook)."""
    members = set(pool)
    met: set[domain.Pair] = set()
    for chunk in _chunks(pool):
        for author, attendee in session.execute(
            select(ChatSlot.author_id, ChatBooking.attendee_id)
            .join(ChatSlot, ChatSlot.id == ChatBooking.slot_id)
            .where(ChatBooking.cancelled_at.is_(None), ChatBooking.attendee_id.in_(chunk))
        ).all():
            if author in members and author != attendee:
                met.add(domain.pair_key(author, attendee))
        groups = (
            select(CoffeeMember.group_id)
            .join(CoffeeGroup, CoffeeGroup.id == CoffeeMember.group_id)
            .where(
                CoffeeMember.user_id.in_(chunk), CoffeeGroup.event_id != event_id, CoffeeGroup.dissolved_at.is_(None)
            )
        )
        rows = session.execute(
            select(CoffeeMember.group_id, CoffeeMember.user_id).where(
                CoffeeMember.group_id.in_(groups), CoffeeMember.response != "declined"
            )
        ).all()
        met |= {p for p in _groups_pairs((g, u) for g, u in rows) if p[0] in members and p[1] in members}
    return met | met_in_breakouts(session, pool, event_id)


def met_in_breakouts(session: Session, pool: list[int], event_id: int) -> set[domain.Pair]:
    """Pairs of these people who share a breakout in the day's published assignment."""
    from services.matching.assignment.models import Placement

    members = set(pool)
    seated: dict[int, list[int]] = {}
    for chunk in _chunks(pool):
        rows = session.execute(
            select(Placement.breakout_id, Placement.user_id).where(
                Placement.event_id == event_id, Placement.user_id.in_(chunk)
            )
        ).all()
        for breakout_id, user_id in rows:
            seated.setdefault(breakout_id, []).append(user_id)
    return {
        p
        for p in _groups_pairs((b, u) for b, users in seated.items() for u in users)
        if p[0] in members and p[1] in members
    }


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


# --- reading -----------------------------------------------------------------------------------------------------
def _lock(session: Session, round_id: int) -> CoffeeRound:
    bumped = session.execute(
        update(CoffeeRound).where(CoffeeRound.id == round_id).values(revision=CoffeeRound.revision + 1),
        execution_options={"synchronize_session": False},
    )
    if not bumped.rowcount:  # type: ignore[attr-defined]
        raise NotFound("coffee round")
    rnd = session.get(CoffeeRound, round_id, populate_existing=True)
    assert rnd is not None
    return rnd


def _not_started(rnd: CoffeeRound, now: datetime) -> None:
    if utc(rnd.starts_at) <= utc(now):
        raise Conflict("started", "this coffee round has already started: nothing can change any more")


def _membership(session: Session, round_id: int, user_id: int) -> CoffeeMember | None:
    return session.scalars(
        select(CoffeeMember).where(CoffeeMember.active_round_id == round_id, CoffeeMember.user_id == user_id)
    ).one_or_none()


def _members(session: Session, group_ids: list[int]) -> list[CoffeeMember]:
    return list(
        session.scalars(
            select(CoffeeMember).where(CoffeeMember.group_id.in_(group_ids)).order_by(CoffeeMember.user_id)
        ).all()
    )


@dataclass(frozen=True)
class Partner:
    card: Card  # what the viewer may see of them
    response: str


@dataclass(frozen=True)
class Summary:
    """For organisers: how the round went, in numbers (no names)."""

    opted_in: int
    waiting: int
    groups: int
    cross_org_groups: int
    shortfall: str | None


@dataclass(frozen=True)
class RoundView:
    round: CoffeeRound
    timezone: str
    opted_in: bool
    state: str  # not_opted_in | waiting | paired
    my_response: str | None
    partners: list[Partner]
    partner_left: bool  # my last group was dissolved because my partner declined: I wait for a rematch
    summary: Summary | None


def _summary(session: Session, rnd: CoffeeRound) -> Summary:
    opted = list(session.scalars(select(CoffeeOptIn.user_id).where(CoffeeOptIn.round_id == rnd.id)).all())
    active = session.execute(
        select(CoffeeMember.group_id, CoffeeMember.user_id).where(CoffeeMember.active_round_id == rnd.id)
    ).all()
    by_group: dict[int, list[int]] = defaultdict(list)
    for group_id, user_id in active:
        by_group[group_id].append(user_id)
    people = {p.user_id: p for p in _people(session, opted)}
    groups = tuple(
        domain.Group(
            tuple(sorted(ids)),
            len({domain.org_key(people[i].organisation) if i in people else "" for i in ids}) > 1,
            True,
        )
        for ids in by_group.values()
    )
    waiting = sorted(set(opted) - {u for _, u in active})
    best, largest = domain.best_cross_org_groups(list(people.values()))
    pairing = domain.Pairing(groups, tuple(waiting), rnd.min_cross_org_share, best, largest)
    return Summary(len(opted), len(waiting), len(groups), pairing.cross_org_groups, pairing.shortfall)


def _view(session: Session, rnd: CoffeeRound, user_id: int, organiser: bool, timezone: str) -> RoundView:
    opted = session.get(CoffeeOptIn, (rnd.id, user_id)) is not None
    member = _membership(session, rnd.id, user_id)
    partners: list[Partner] = []
    if member is not None:
        others = [
            m for m in _members(session, [member.group_id]) if m.active_round_id is not None and m.user_id != user_id
        ]
        cards = cards_of(session, [m.user_id for m in others], organiser)
        partners = [Partner(cards[m.user_id], m.response) for m in others]
    last = session.scalars(
        select(CoffeeMember)
        .where(CoffeeMember.round_id == rnd.id, CoffeeMember.user_id == user_id, CoffeeMember.active_round_id.is_(None))
        .order_by(CoffeeMember.left_at.desc())
        .limit(1)
    ).first()
    partner_left = member is None and opted and last is not None and last.response != "declined"
    state = "paired" if member is not None else ("waiting" if opted else "not_opted_in")
    return RoundView(
        rnd,
        timezone,
        opted,
        state,
        member.response if member else None,
        partners,
        partner_left,
        _summary(session, rnd) if organiser else None,
    )


def get_round(db: Database, round_id: int, user_id: int, organiser: bool) -> RoundView:
    with db.unit_of_work() as session:
        rnd = session.get(CoffeeRound, round_id)
        if rnd is None:
            raise NotFound("coffee round")
        return _view(session, rnd, user_id, organiser, setup.day(session, rnd.event_id).timezone)


def day_rounds(db: Database, event_id: int, user_id: int, organiser: bool) -> list[RoundView]:
    with db.unit_of_work() as session:
        day = setup.day(session, event_id)
        rounds = session.scalars(
            select(CoffeeRound).where(CoffeeRound.event_id == event_id).order_by(CoffeeRound.starts_at, CoffeeRound.id)
        ).all()
        return [_view(session, r, user_id, organiser, day.timezone) for r in rounds]


def coffee_slots(db: Database, event_id: int) -> list[Slot]:
    """The day's coffee-kind slots (a round can take one's time)."""
    with db.unit_of_work() as session:
        setup.day(session, event_id)
        return list(
            session.scalars(
                select(Slot).where(Slot.event_id == event_id, Slot.kind == "coffee").order_by(Slot.starts_at)
            ).all()
        )
