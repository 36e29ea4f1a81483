"""Use case: gather one day's facts from matching's tables (and the copies kept from other services' events) and
turn them into the suppressed outcome report."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.matching.adapters.orm import InsightDayRow
from services.matching.assignment.models import Placement
from services.matching.chat_slots.models import ChatBooking, ChatSlot
from services.matching.coffee.models import CoffeeGroup, CoffeeMember, CoffeeOptIn, CoffeeRound
from services.matching.directory.models import ContactRequest
from services.matching.outcomes import domain
from services.matching.outcomes.domain import ALL, DIMENSIONS, Attendee, DayFacts, Pair, SurveyAnswer, Table
from services.matching.outcomes.models import FollowUpNote, HeldChat, PosterView, SurveyResult
from services.matching.registration.models import PersonCopy, Registration
from services.matching.service import NotFound
from services.matching.setup.models import Breakout, Slot
from shared.events import as_utc


def _pairs_of(people: list[int]) -> set[Pair]:
    return {frozenset(p) for p in itertools.combinations(sorted(set(people)), 2)}


def _contacts(session: Session, event_ids: list[int]) -> set[Pair]:
    """People who met 1-1 or in a small group: a chat both wrote in, a coffee group everyone accepted and nobody
    left, or an accepted contact request."""
    if not event_ids:
        return set()
    pairs: set[Pair] = set()
    for author, attendee in session.execute(
        select(HeldChat.author_id, HeldChat.attendee_id).where(HeldChat.event_id.in_(event_ids))
    ):
        pairs.add(frozenset((author, attendee)))
    members: dict[int, list[tuple[int, str, Any]]] = defaultdict(list)
    for group_id, user_id, response, left_at in session.execute(
        select(CoffeeMember.group_id, CoffeeMember.user_id, CoffeeMember.response, CoffeeMember.left_at)
        .join(CoffeeGroup, CoffeeGroup.id == CoffeeMember.group_id)
        .where(CoffeeGroup.event_id.in_(event_ids), CoffeeGroup.dissolved_at.is_(None))
    ):
        members[group_id].append((user_id, response, left_at))
    for group in members.values():
        if len(group) >= 2 and all(r == "accepted" and left is None for _, r, left in group):
            pairs |= _pairs_of([u for u, _, _ in group])
    for low, high in session.execute(
        select(ContactRequest.person_low, ContactRequest.person_high).where(
            ContactRequest.event_id.in_(event_ids), ContactRequest.status == "accepted"
        )
    ):
        pairs.add(frozenset((low, high)))
    return {p for p in pairs if len(p) == 2}


def day_facts(session: Session, event_id: int) -> DayFacts:
    day = session.get(InsightDayRow, event_id)
    if day is None:
        raise NotFound("event")
    earlier = list(
        session.scalars(
            select(InsightDayRow.id).where(InsightDayRow.starts_at < day.starts_at, InsightDayRow.id != event_id)
        )
    )
    returning = set(
        session.scalars(select(Registration.user_id).where(Registration.event_id.in_(earlier)).distinct())
        if earlier
        else []
    )
    attendees = [
        Attendee(user_id=u, organisation=org or "", region=region or "", first_time=u not in returning)
        for u, org, region in session.execute(
            select(Registration.user_id, PersonCopy.organisation, PersonCopy.region)
            .outerjoin(PersonCopy, PersonCopy.user_id == Registration.user_id)
            .where(Registration.event_id == event_id)
        )
    ]
    registered = {a.user_id for a in attendees}
    posters_viewed = dict(
        session.execute(
            select(PosterView.user_id, func.count()).where(PosterView.event_id == event_id).group_by(PosterView.user_id)
        ).all()
    )
    booked: set[int] = set()
    for author, attendee in session.execute(
        select(ChatSlot.author_id, ChatBooking.attendee_id)
        .join(ChatSlot, ChatSlot.id == ChatBooking.slot_id)
        .where(ChatSlot.event_id == event_id, ChatBooking.cancelled_at.is_(None))
    ):
        booked.update((author, attendee))
    held: set[int] = set()
    for author, attendee in session.execute(
        select(HeldChat.author_id, HeldChat.attendee_id).where(HeldChat.event_id == event_id)
    ):
        held.update((author, attendee))
    rounds = select(CoffeeRound.id).where(CoffeeRound.event_id == event_id)
    opted = set(session.scalars(select(CoffeeOptIn.user_id).where(CoffeeOptIn.round_id.in_(rounds))))
    accepted: set[int] = set()
    contacts = _contacts(session, [event_id])
    for user_id, response in session.execute(
        select(CoffeeMember.user_id, CoffeeMember.response).where(CoffeeMember.round_id.in_(rounds))
    ):
        if response == "accepted":
            accepted.add(user_id)
    coffee_held = {
        u
        for (u,) in session.execute(
            select(CoffeeMember.user_id)
            .join(CoffeeGroup, CoffeeGroup.id == CoffeeMember.group_id)
            .where(CoffeeGroup.event_id == event_id)
        )
        if any(u in p for p in contacts)
    } & accepted
    zone = ZoneInfo(day.timezone)  # breakouts are labelled by their start in the day's own time
    breakouts: dict[str, list[int]] = defaultdict(list)
    for user_id, title, starts_at in session.execute(
        select(Placement.user_id, Breakout.title, Slot.starts_at)
        .join(Breakout, Breakout.id == Placement.breakout_id)
        .join(Slot, Slot.id == Placement.slot_id)
        .where(Placement.event_id == event_id)
    ):
        breakouts[f"{as_utc(starts_at).astimezone(zone):%H:%M} - {title}"].append(user_id)
    survey = [
        SurveyAnswer(r.user_id, r.contacted_someone, r.adopted_something, as_utc(r.answered_at))
        for r in session.scalars(select(SurveyResult).where(SurveyResult.event_id == event_id))
        if r.user_id in registered
    ]
    return DayFacts(
        ended_at=as_utc(day.ends_at),
        attendees=attendees,
        posters_viewed=posters_viewed,
        booked_chat=booked,
        held_chat=held,
        noted_followup=set(session.scalars(select(FollowUpNote.owner_id).where(FollowUpNote.event_id == event_id))),
        placed_breakout={u for people in breakouts.values() for u in people},
        coffee_opted_in=opted,
        coffee_accepted=accepted,
        coffee_held=coffee_held,
        survey=survey,
        contacts=contacts,
        known_before=_contacts(session, earlier),
        breakouts=breakouts,
    )


@dataclass(frozen=True)
class Filters:
    region: str = ALL
    newcomer: str = ALL
    org_size: str = ALL

    def key(self) -> domain.Slice:
        return (self.region, self.newcomer, self.org_size)


def _table_json(table: Table) -> dict[str, Any]:
    return {
        "columns": list(table.columns),
        "rows": [
            {"label": label, **{c: None if (label, c) in table.hidden else row[c] for c in table.columns}}
            for label, row in table.rows
        ],
    }


def report(session: Session, event_id: int, filters: Filters) -> dict[str, Any]:
    """The report for one filter combination. Hidden figures are None (shown as "<5")."""
    facts = day_facts(session, event_id)
    options = domain.dimension_values(facts)
    for dim, value in zip(DIMENSIONS, filters.key(), strict=True):
        if value != ALL and value not in options[dim]:
            raise ValueError(dim)
    values, hidden = domain.suppressed_cube(facts)
    key = filters.key()

    def shown(cell: domain.CellKey) -> int | None:
        """A figure by its cell; a group nobody is in has no cell (0 people: hidden like any small figure)."""
        return None if cell in hidden or cell not in values else values[cell]

    def figure(metric: str) -> int | None:
        return shown((key, metric))

    unfiltered = key == (ALL, ALL, ALL)
    regions = [
        {"region": r, "registered": shown(((r, ALL, ALL), "registered")), "active": shown(((r, ALL, ALL), "active"))}
        for r in options["region"]
    ]
    new_voices = [
        {"group": label, "registered": shown((k, "registered")), "active": shown((k, "active"))}
        for label, k in (
            ("first-time attendees", (ALL, "first_time", ALL)),
            ("small organisations", (ALL, ALL, "small")),
        )
    ]
    return {
        "event_id": event_id,
        "min_cell": domain.MIN_CELL,
        "filters": {"region": filters.region, "newcomer": filters.newcomer, "org_size": filters.org_size},
        "filter_options": options,
        "funnel": {m: figure(m) for m in domain.FUNNEL},
        "engagement": {m: figure(m) for m in domain.ENGAGEMENT},
        "coffee": {m: figure(m) for m in domain.COFFEE},
        "new_crossorg_contacts": {name: figure(f"new_contacts_{name}") for name, _, _ in domain.CONTACT_BINS},
        "met_someone_known": figure("met_someone_known"),
        # Tables over the whole day only: they have no filtered versions to compare against.
        "regions": regions if unfiltered else None,
        "new_voices": new_voices if unfiltered else None,
        "contacts": _table_json(domain.contacts_table(facts)) if unfiltered else None,
        "breakouts": _table_json(domain.breakouts_table(facts)) if unfiltered else None,
        "survey": _table_json(domain.survey_table(facts)) if unfiltered else None,
    }


def organiser_of(session: Session, event_id: int) -> int:
    day = session.get(InsightDayRow, event_id)
    if day is None:
        raise NotFound("event")
    return day.organiser_id
