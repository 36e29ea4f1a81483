"""A simulated insight day, run end to end through matching's pure domain code (`make simulate`). No Flask, database
or Redis: the same rules the services apply, called directly.

The day (`generate_day`, the same for the same options and seed):

- a thesaurus of 14 health-data themes with synonyms (`setup.domain.Thesaurus`); popularity is Zipf-like
  (weight 1/rank, ranks shuffled by the seed), so a few themes are wanted by most people and some by a handful;
- `organisations` organisations of uneven size (1 + a Zipf-like share of the rest, weight 1/rank^0.9: at 300
  people and 40 organisations the largest sends 45-55, a quarter send 1-3), each with a home region (6 regions,
  London the largest) and a mild taste of its own for some themes;
- every attendee ranks 3-5 themes (Plackett-Luce draw from popularity x organisation taste) and registers them
  as typed, sometimes by a synonym ("TRE", "ML") or in lower case: `registration.domain.choices` folds them through
  the thesaurus as the registration API does;
- who knew whom before the day: everyone in the same organisation, plus on average `known_per_person` people in
  other organisations (three in four in the same region);
- the programme (`setup.domain.check_slot`): `slots` breakout slots of an hour, a coffee round of 20 minutes after
  each (`coffee.domain.plan_round`; further rounds after the last slot), a 90-minute author chat window at midday;
- breakouts planned the way an organiser would once registrations are in: a theme's demand is the people with it
  among their top `slots` themes; it gets 10 % more places than that (`slack`) in breakouts of at most 25 people
  (at least 6), so popular themes have several breakouts, spread evenly over the slots, niche ones one; the slots
  of a niche theme (or of a popular theme's odd breakouts) are chosen to avoid clashes (people whose top themes
  cannot each be had in a different slot), then to even out places per slot (`_timetable`); a slot with fewer
  places than 110 % of the attendees has its breakouts enlarged. Breakouts pass `setup.domain`'s checks; the
  solver's instance is built as the assignment service builds it (`schedule.prefs_from_ranking`, organisation
  share 0.3);
- authors: 15 % of attendees have a project on 1-3 of their own themes and open 3 chat slots of 15 minutes in the
  chat window (`chat_slots.domain.plan_slot`); half of the attendees, in random order, book 1-2 chats with authors
  of projects on their ranked themes (best-ranked theme first), one per author, never their own
  (`check_bookable`) nor overlapping their own slots or bookings (`cells`);
- coffee: `coffee_share` (70 %) of attendees opt in to each round, drawn per round.

Per strategy (`STRATEGIES`: the solver `assignment.solver.solve`, a random assignment, the first-come baseline
`assignment.greedy.greedy`), the same day, chats and coffee opt-ins are run through: assignment -> discussion tables
-> coffee rounds paired by `coffee.domain.pair` (earlier rounds' pairs `forbidden`; pairs who share a breakout, had
a chat or knew each other before as `met`, paired only when nothing better is left). Metrics:

- `top3_every_slot`: share of attendees whose breakout in every slot has one of their top-3 ranked themes (with 3
  slots this is `evaluate`'s `perfect_day` and `got_top3`; computed here so it means the same with fewer slots);
  someone left without a breakout in a slot does not count;
- `new_crossorg_per_attendee`: mean over all attendees of the number of distinct people from another
  organisation, not known before the day, whom they meet: at their *table* in each breakout, in their chats (as
  booker or as author) and in their coffee groups. A table: each breakout splits into discussion tables of at most
  `table_size` (5), organisations dealt round-robin over the tables (largest first) so tables are mixed; the same
  rule for every strategy. Counting everyone in the same breakout instead (`room_crossorg_per_attendee` in the
  diagnostics) gives 50-55 at the default size: far above what anyone meets in three hours, and a goal of 6 would
  say nothing;
- `repeated_pairs`: coffee pairs (each pair within a pair or trio) that were already paired in an earlier coffee
  round of the day. Coffee pairs who had met in some other way are in the diagnostics (`coffee_pairs_met_before`).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations, permutations
from typing import Any

import numpy as np

from services.matching.assignment.domain import Attendee, Breakout, Id, Instance, Slot, evaluate, org_cap, violations
from services.matching.assignment.greedy import greedy
from services.matching.assignment.schedule import prefs_from_ranking
from services.matching.assignment.solver import solve
from services.matching.chat_slots import domain as chats
from services.matching.coffee import domain as coffee
from services.matching.registration.domain import choices
from services.matching.setup import domain as setup

# name, synonyms (what people type at registration; the thesaurus folds them)
THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Data linkage", ("record linkage",)),
    ("Trusted research environments", ("TRE", "secure data environments")),
    ("Machine learning", ("ML", "AI")),
    ("Synthetic data", ()),
    ("Privacy-enhancing technologies", ("PETs",)),
    ("Interoperability and FHIR", ("FHIR", "data standards")),
    ("Genomics", ("genomic data",)),
    ("Real-world evidence", ("RWE",)),
    ("Population health analytics", ("population health",)),
    ("Data quality", ()),
    ("Patient and public involvement", ("PPI",)),
    ("Health inequalities", ()),
    ("Clinical natural language processing", ("NLP", "clinical NLP")),
    ("Remote monitoring and wearables", ("wearables",)),
)
REGIONS: tuple[tuple[str, float, tuple[str, ...]], ...] = (  # name, share of organisations, towns
    ("London", 0.26, ("Camden", "Southwark", "Islington", "Greenwich", "Hackney", "Ealing")),
    ("South East", 0.15, ("Oxford", "Brighton", "Reading", "Kent", "Surrey", "Southampton")),
    ("Midlands", 0.17, ("Birmingham", "Nottingham", "Leicester", "Coventry", "Derby", "Stoke")),
    ("North West", 0.16, ("Manchester", "Liverpool", "Preston", "Lancaster", "Bolton", "Chester")),
    ("North East and Yorkshire", 0.15, ("Leeds", "Newcastle", "Sheffield", "York", "Hull", "Durham")),
    ("Scotland", 0.11, ("Glasgow", "Edinburgh", "Dundee", "Aberdeen", "Inverness", "Stirling")),
)
KINDS = (
    "NHS Foundation Trust",
    "University",
    "Integrated Care Board",
    "City Council",
    "Health Analytics Ltd",
    "Hospice",
    "Public Health Unit",
)

STRATEGIES = ("solver", "random", "first_come")
ORG_SHARE = 0.3  # the assignment API's default
MAX_ROOM, MIN_ROOM = 25, 6  # breakout sizes an organiser would plan
BREAKOUT_MINUTES, COFFEE_MINUTES, CHAT_WINDOW_MINUTES, CHAT_MINUTES = 60, 20, 90, 15
CHAT_SLOTS_PER_AUTHOR = 3
DAY = datetime(2026, 5, 14, tzinfo=UTC)  # a Thursday; the date changes nothing

Pair = tuple[int, int]


# ----------------------------------------------------------------------------------------------------- the day


@dataclass(frozen=True)
class Options:
    attendees: int = 300
    organisations: int = 40
    seed: int = 1
    coffee_rounds: int = 3
    slots: int = 3
    table_size: int = 5
    slack: float = 0.10
    known_per_person: float = 2.0  # acquaintances in other organisations, on average
    author_share: float = 0.15
    chat_share: float = 0.5  # attendees who book chats (1 or 2 each)
    coffee_share: float = 0.7  # attendees who opt in to a coffee round (drawn per round)

    def check(self) -> None:
        if self.attendees < 4:
            raise ValueError("attendees: at least 4")
        if not 1 <= self.organisations <= self.attendees:
            raise ValueError("organisations: between 1 and the number of attendees")
        if not 1 <= self.slots <= 3:
            raise ValueError("slots: 1 to 3 (top-3 in every slot cannot hold with more slots than 3 themes)")
        if not 0 <= self.coffee_rounds <= 8:
            raise ValueError("coffee rounds: 0 to 8")
        if self.table_size < 2:
            raise ValueError("table size: at least 2")
        if not 0 <= self.slack <= 1:
            raise ValueError("slack: 0 to 1 (the share of spare places per theme)")


@dataclass(frozen=True)
class Person:
    user_id: int
    organisation: str
    region: str
    ranking: tuple[str, ...]  # as registered: folded through the thesaurus, best first


@dataclass(frozen=True)
class ChatSlot:
    id: int
    author_id: int
    project_themes: tuple[str, ...]
    times: chats.SlotTimes


@dataclass(frozen=True)
class Day:
    options: Options
    thesaurus: setup.Thesaurus
    people: tuple[Person, ...]
    known: frozenset[Pair]  # cross-organisation pairs who knew each other before the day
    programme: tuple[setup.SlotTimes, ...]  # every slot of the day, in time order
    instance: Instance  # the breakout assignment problem (attendee ids = user ids)
    chat_slots: tuple[ChatSlot, ...]
    bookings: tuple[tuple[int, int], ...]  # (chat slot id, attendee id)
    coffee_rounds: tuple[tuple[datetime, datetime], ...]
    coffee_opt_ins: tuple[tuple[int, ...], ...]  # per round, user ids

    @property
    def org_of(self) -> dict[int, str]:
        return {p.user_id: p.organisation for p in self.people}

    def chat_pairs(self) -> list[Pair]:
        author = {s.id: s.author_id for s in self.chat_slots}
        return [coffee.pair_key(author[slot], attendee) for slot, attendee in self.bookings]


def generate_day(options: Options | None = None) -> Day:
    """The whole day for `options` (see the module docstring); the same options give the same day."""
    options = options or Options()
    options.check()
    rng = np.random.default_rng(options.seed)
    pick = random.Random(options.seed)
    n = options.attendees
    thesaurus = setup.Thesaurus.of([{"name": name, "synonyms": list(syn)} for name, syn in THEMES])
    names = thesaurus.names()

    # Organisations: uneven sizes, a home region each, a taste of their own.
    orgs, org_region = _organisations(options.organisations, pick)
    weight = 1.0 / np.arange(1, len(orgs) + 1) ** 0.9
    sizes = 1 + rng.multinomial(n - len(orgs), weight / weight.sum())
    org_of = np.repeat(np.arange(len(orgs)), sizes)
    rng.shuffle(org_of)
    taste = rng.normal(0.0, 0.5, size=(len(orgs), len(names)))

    # Registration: 3-5 ranked themes, typed as people type them, folded by the registration rules.
    popularity = rng.permutation(1.0 / np.arange(1, len(names) + 1))
    latent = np.log(popularity)[None, :] + taste[org_of] + rng.gumbel(0.0, 1.0, size=(n, len(names)))
    order = np.argsort(-latent, axis=1)
    people: list[Person] = []
    for i in range(n):
        count = int(rng.choice([3, 4, 5], p=[0.4, 0.3, 0.3]))
        typed = [_as_typed(names[int(t)], dict(THEMES)[names[int(t)]], pick) for t in order[i, :count]]
        ranking = choices(typed, [], [], thesaurus).themes
        org = int(org_of[i])
        people.append(Person(i + 1, orgs[org], org_region[org], tuple(ranking)))

    known = _acquaintances(people, options.known_per_person, pick)
    programme, breakout_slots, chat_window, rounds = _programme(options.slots, options.coffee_rounds)
    instance = plan_breakouts(people, thesaurus, [s.id for s in breakout_slots], options.slack, pick)
    chat_slots, bookings = _chats(people, chat_window, options, pick)
    opt_ins = tuple(
        tuple(p.user_id for p in people if pick.random() < options.coffee_share) for _ in range(len(rounds))
    )
    return Day(options, thesaurus, tuple(people), known, programme, instance, chat_slots, bookings, rounds, opt_ins)


def _organisations(count: int, pick: random.Random) -> tuple[list[str], list[str]]:
    regions = [r[0] for r in REGIONS]
    region_weights = [r[1] for r in REGIONS]
    towns = {name: list(t) for name, _, t in REGIONS}
    names: list[str] = []
    homes: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        region = pick.choices(regions, region_weights)[0]
        name = f"{pick.choice(towns[region])} {pick.choice(KINDS)}"
        k = 2
        base = name
        while name in seen:
            name, k = f"{base} {k}", k + 1
        seen.add(name)
        names.append(name)
        homes.append(region)
    return names, homes


def _as_typed(name: str, synonyms: Sequence[str], pick: random.Random) -> str:
    roll = pick.random()
    if synonyms and roll < 0.15:
        return pick.choice(list(synonyms))
    return name.lower() if roll > 0.9 else name


def _acquaintances(people: Sequence[Person], per_person: float, pick: random.Random) -> frozenset[Pair]:
    """Cross-organisation pairs who knew each other: `per_person` on average, three in four in the same region."""
    by_region: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        by_region[p.region].append(p)
    known: set[Pair] = set()
    target = round(per_person * len(people) / 2)
    tries = 0
    while len(known) < target and tries < 50 * target + 100:
        tries += 1
        a = pick.choice(people)
        pool = by_region[a.region] if pick.random() < 0.75 else people
        b = pick.choice(pool)
        if b.organisation != a.organisation:
            known.add(coffee.pair_key(a.user_id, b.user_id))
    return frozenset(known)


def _programme(
    n_slots: int, n_rounds: int
) -> tuple[tuple[setup.SlotTimes, ...], list[setup.SlotTimes], setup.SlotTimes, tuple[tuple[datetime, datetime], ...]]:
    """Breakout slots, coffee after each (more after the last), the chat window at midday, a posters hour."""
    day_starts, day_ends = DAY.replace(hour=8), DAY.replace(hour=20)
    the_day_before = day_starts - timedelta(days=1)
    slots: list[setup.SlotTimes] = []
    rounds: list[tuple[datetime, datetime]] = []

    def add(kind: str, starts: datetime, minutes: int) -> setup.SlotTimes:
        slot = setup.SlotTimes(len(slots) + 1, starts, starts + timedelta(minutes=minutes), kind)
        setup.check_slot(slot, day_starts, day_ends, slots)
        slots.append(slot)
        if kind == "coffee":
            rounds.append(coffee.plan_round(starts, minutes, day_starts, day_ends, the_day_before))
        return slot

    at = DAY.replace(hour=9)
    chat_window: setup.SlotTimes | None = None
    for s in range(n_slots):
        at = add("breakout", at, BREAKOUT_MINUTES).ends_at
        if len(rounds) < n_rounds:
            at = add("coffee", at, COFFEE_MINUTES).ends_at
        at += timedelta(minutes=10)
        if s == (n_slots - 1) // 2:  # midday
            at = (chat_window := add("chat", at, CHAT_WINDOW_MINUTES)).ends_at
    while len(rounds) < n_rounds:
        at = add("coffee", at, COFFEE_MINUTES).ends_at + timedelta(minutes=10)
    add("posters", at, 60)
    assert chat_window is not None
    return tuple(slots), [s for s in slots if s.kind == "breakout"], chat_window, tuple(rounds)


def plan_breakouts(
    people: Sequence[Person], thesaurus: setup.Thesaurus, slot_ids: Sequence[int], slack: float, pick: random.Random
) -> Instance:
    """Themed breakouts sized from the registrations (module docstring) and the solver's instance for them."""
    names = thesaurus.names()
    n, n_slots = len(people), len(slot_ids)
    demand = Counter(t for p in people for t in p.ranking[:n_slots])
    sizes: dict[str, tuple[int, int]] = {}  # theme -> (breakouts, capacity of each)
    for theme in sorted(names, key=lambda t: (-demand[t], names.index(t))):
        if demand[theme]:  # nobody wants it near the top: no breakout
            places = math.ceil((1 + slack) * demand[theme])
            count = math.ceil(places / MAX_ROOM)
            sizes[theme] = (count, max(MIN_ROOM, math.ceil(places / count)))
    where = _timetable(sizes, Counter(tuple(sorted(p.ranking[:n_slots])) for p in people), n_slots, pick)
    target = math.ceil((1 + slack) * n)
    slots: list[Slot] = []
    breakout_id = 0
    for s in range(n_slots):
        planned_here = [(t, sizes[t][1]) for t in sizes for _ in range(where[t][s])]
        total = sum(c for _, c in planned_here)
        grow = target / total if 0 < total < target else 1.0  # a short slot: every breakout in it a bit larger
        rooms: Counter[str] = Counter()
        breakouts: list[Breakout] = []
        for theme, capacity in planned_here:
            breakout_id += 1
            rooms[theme] += 1
            setup.check_title(f"{theme}, room {rooms[theme]}")
            theme = setup.breakout_theme(theme, thesaurus)
            breakouts.append(Breakout(breakout_id, theme, setup.check_capacity(math.ceil(capacity * grow))))
        if not breakouts:  # nobody ranked anything: one open room
            breakout_id += 1
            breakouts.append(Breakout(breakout_id, names[0], max(MIN_ROOM, target)))
        slots.append(Slot(slot_ids[s], tuple(breakouts)))
    attendees = tuple(
        Attendee(p.user_id, p.organisation, p.region, prefs_from_ranking(list(p.ranking))) for p in people
    )
    return Instance(ORG_SHARE, tuple(names), tuple(slots), attendees)


def _timetable(
    sizes: Mapping[str, tuple[int, int]], wanted: Mapping[tuple[str, ...], int], n_slots: int, pick: random.Random
) -> dict[str, list[int]]:
    """Breakouts per slot for each theme, as a careful organiser plans them: each theme's breakouts spread evenly
    over the slots; where that leaves a choice (a theme with fewer breakouts than slots, or the remainder of one
    with more), the slots are chosen to avoid clashes (people whose top themes cannot each be had in a different
    slot, whatever the places), then to even out the places per slot. Largest themes first, then coordinate
    descent, one theme at a time, until nothing improves."""
    themes = list(sizes)
    base = {t: sizes[t][0] // n_slots for t in themes}
    options = {t: list(combinations(range(n_slots), sizes[t][0] % n_slots)) for t in themes}
    for t in themes:
        pick.shuffle(options[t])  # ties go to a random choice
    chosen: dict[str, tuple[int, ...]] = {}  # themes placed so far; the others count as offered in every slot
    combos = [(combo, count) for combo, count in wanted.items() if combo]
    orders = {k: list(permutations(range(n_slots), k)) for k in range(n_slots + 1)}

    def cost() -> tuple[int, float]:
        where = {t: set(range(n_slots)) if base[t] or t not in chosen else set(chosen[t]) for t in themes}
        clashes = sum(
            count
            for combo, count in combos
            if not any(
                all(s in where.get(t, ()) for t, s in zip(combo, order, strict=True)) for order in orders[len(combo)]
            )
        )
        totals = [sum(sizes[t][1] * (base[t] + (s in chosen[t])) for t in chosen) for s in range(n_slots)]
        mean = sum(totals) / n_slots
        return clashes, sum((x - mean) ** 2 for x in totals)

    def place(t: str) -> bool:
        before = chosen.get(t)
        scored = []
        for choice in options[t]:
            chosen[t] = choice
            scored.append(cost())
        chosen[t] = options[t][scored.index(min(scored))]
        return chosen[t] != before

    for t in themes:  # largest first (`sizes` is ordered by demand)
        place(t)
    for _ in range(10):
        if not any([place(t) for t in themes]):
            break
    return {t: [base[t] + (s in chosen[t]) for s in range(n_slots)] for t in themes}


def _chats(
    people: Sequence[Person], window: setup.SlotTimes, options: Options, pick: random.Random
) -> tuple[tuple[ChatSlot, ...], tuple[tuple[int, int], ...]]:
    """Authors open chat slots; attendees book 1-2 on their themes, first come first served."""
    day_starts, day_ends = DAY.replace(hour=8), DAY.replace(hour=20)
    now = day_starts - timedelta(days=1)  # everything is booked the day before
    starts = [
        window.starts_at + timedelta(minutes=m) for m in range(0, CHAT_WINDOW_MINUTES - CHAT_MINUTES + 1, CHAT_MINUTES)
    ]
    authors = pick.sample(list(people), max(1, round(options.author_share * len(people))))
    busy: dict[int, set[int]] = defaultdict(set)  # person -> 5-minute cells taken (own open slots, bookings)
    slots: list[ChatSlot] = []
    for author in sorted(authors, key=lambda p: p.user_id):
        themes = tuple(author.ranking[: pick.randint(1, min(3, len(author.ranking)))])
        seats: set[int] = set()
        for at in sorted(pick.sample(starts, min(CHAT_SLOTS_PER_AUTHOR, len(starts)))):
            seat = chats.free_seat(seats, chats.DEFAULT_PER_AUTHOR)
            if seat is None:
                break
            seats.add(seat)
            times = chats.plan_slot(at, CHAT_MINUTES, day_starts, day_ends, now)
            busy[author.user_id].update(times.cells)
            slots.append(ChatSlot(len(slots) + 1, author.user_id, themes, times))
    booked: dict[int, int] = {}  # slot id -> attendee
    seekers = [p for p in people if pick.random() < options.chat_share]
    pick.shuffle(seekers)
    for person in seekers:
        wanted = 1 if pick.random() < 0.6 else 2
        rank = {t: r for r, t in enumerate(person.ranking)}
        candidates = sorted(
            (
                (min(rank[t] for t in s.project_themes if t in rank), pick.random(), s)
                for s in slots
                if any(t in rank for t in s.project_themes)
            ),
            key=lambda c: (c[0], c[1]),
        )
        authors_booked: set[int] = set()
        for _, _, slot in candidates:
            if wanted == 0:
                break
            try:
                chats.check_bookable(chats.SlotState(slot.author_id, slot.times.starts_at, False), person.user_id, now)
            except chats.Refused:
                continue  # their own project
            if slot.id in booked or slot.author_id in authors_booked or busy[person.user_id] & set(slot.times.cells):
                continue
            booked[slot.id] = person.user_id
            busy[person.user_id].update(slot.times.cells)
            authors_booked.add(slot.author_id)
            wanted -= 1
    return tuple(slots), tuple(sorted(booked.items()))


# -------------------------------------------------------------------------------------------------- strategies


def random_assignment(instance: Instance, seed: int = 0) -> dict[str, list[Id | None]]:
    """Each attendee in a random order gets, slot by slot, a random breakout with room left, avoiding a theme they
    already have and keeping their organisation under the breakout's cap when possible (else the first of those
    rules that still leaves a choice; None only if the slot is full)."""
    rng = random.Random(seed)
    load: Counter[Id] = Counter()
    load_org: Counter[tuple[Id, str]] = Counter()
    caps = {b.id: org_cap(b.capacity, instance.org_share) for _, b in instance.breakouts()}
    people = list(instance.attendees)
    rng.shuffle(people)
    result: dict[str, list[Id | None]] = {}
    for a in people:
        held: set[str] = set()
        got: list[Id | None] = []
        for slot in instance.slots:
            room = [b for b in slot.breakouts if load[b.id] < b.capacity]
            fresh = [b for b in room if b.theme not in held]
            capped = [b for b in fresh if load_org[(b.id, a.org)] < caps[b.id]]
            pool = capped or fresh or room
            if not pool:
                got.append(None)
                continue
            b = rng.choice(pool)
            load[b.id] += 1
            load_org[(b.id, a.org)] += 1
            held.add(b.theme)
            got.append(b.id)
        result[str(a.id)] = got
    return result


def assign(strategy: str, instance: Instance, seed: int) -> dict[str, list[Id | None]]:
    if strategy == "solver":
        return dict(solve(instance, seed=seed, lp=False).assignment)  # type: ignore[arg-type]
    if strategy == "random":
        return random_assignment(instance, seed)
    if strategy == "first_come":
        return greedy(instance, seed=seed)  # type: ignore[return-value]
    raise ValueError(f"unknown strategy {strategy!r}")


# ----------------------------------------------------------------------------------------------- the day's run


def tables(members: Sequence[int], org_of: Mapping[int, str], size: int, rng: random.Random) -> list[list[int]]:
    """A breakout's discussion tables: ceil(people / size) tables, organisations (largest first, members shuffled)
    dealt round-robin over them, so tables differ in size by at most one and mix organisations."""
    if not members:
        return []
    count = math.ceil(len(members) / size)
    by_org: dict[str, list[int]] = defaultdict(list)
    for x in sorted(members):
        by_org[org_of[x]].append(x)
    out: list[list[int]] = [[] for _ in range(count)]
    at = 0
    for org in sorted(by_org, key=lambda o: (-len(by_org[o]), o)):
        group = by_org[org]
        rng.shuffle(group)
        for x in group:
            out[at % count].append(x)
            at += 1
    return out


@dataclass
class Outcome:
    strategy: str
    top3_every_slot: float
    new_crossorg_per_attendee: float
    repeated_pairs: int
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"{self.strategy} top3_every_slot={self.top3_every_slot:.2f} "
            f"new_crossorg_per_attendee={self.new_crossorg_per_attendee:.1f} repeated_pairs={self.repeated_pairs}"
        )


def run_strategy(day: Day, strategy: str) -> Outcome:
    """Assignment by `strategy`, then tables, the day's chats and coffee rounds; the metrics (module docstring)."""
    started = time.perf_counter()
    options, instance = day.options, day.instance
    org_of = day.org_of
    assignment = assign(strategy, instance, options.seed)
    seconds_assign = time.perf_counter() - started

    # Breakouts: rooms and the tables within them.
    ranking = {p.user_id: p.ranking for p in day.people}
    theme_of = {b.id: b.theme for _, b in instance.breakouts()}
    rooms: dict[Id, list[int]] = defaultdict(list)
    top3 = 0
    for p in day.people:
        got = assignment.get(str(p.user_id), [])
        complete = len(got) == len(instance.slots) and all(b is not None for b in got)
        if complete and all(theme_of[b] in ranking[p.user_id][:3] for b in got):
            top3 += 1
        for b in got:
            if b is not None:
                rooms[b].append(p.user_id)
    table_pairs: set[Pair] = set()
    room_pairs: set[Pair] = set()
    for k, (_, b) in enumerate(instance.breakouts()):
        members = rooms.get(b.id, [])
        room_pairs.update(coffee.pairs_of(sorted(members)))
        for table in tables(members, org_of, options.table_size, random.Random(options.seed * 100_003 + k)):
            table_pairs.update(coffee.pairs_of(sorted(table)))
    chat_pairs = set(day.chat_pairs())

    # Coffee rounds: the real pairing, never repeating a pair made earlier in the day.
    met = room_pairs | chat_pairs | day.known
    made: set[Pair] = set()
    coffee_pairs: set[Pair] = set()
    repeated = met_before = unpaired = 0
    for number, ids in enumerate(day.coffee_opt_ins):
        pairing = coffee.pair(
            [coffee.Person(u, org_of[u]) for u in ids], forbidden=made, met=met, seed=options.seed * 1000 + number
        )
        unpaired += len(pairing.unpaired)
        pairs = [p for g in pairing.groups for p in coffee.pairs_of(g.user_ids)]
        repeated += sum(p in made for p in pairs)
        met_before += sum(p in met for p in pairs)
        made.update(pairs)
        coffee_pairs.update(pairs)

    def new_crossorg(pairs: set[Pair]) -> dict[int, set[int]]:
        contacts: dict[int, set[int]] = defaultdict(set)
        for a, b in pairs:
            if org_of[a] != org_of[b] and (a, b) not in day.known:
                contacts[a].add(b)
                contacts[b].add(a)
        return contacts

    def mean(contacts: dict[int, set[int]]) -> float:
        return sum(len(c) for c in contacts.values()) / len(day.people)

    everything = new_crossorg(table_pairs | chat_pairs | coffee_pairs)
    metrics = evaluate(instance, assignment)
    diagnostics = {
        "left_out": metrics.left_out,
        "rule_breaks": len(violations(instance, assignment)),
        "preference": round(metrics.preference, 1),  # the solver's objective: sum of the scores people got
        "got_first": round(metrics.got_first, 3),
        "perfect_day": round(metrics.perfect_day, 3),
        "mean_orgs_met_in_breakouts": round(metrics.mean_orgs_met, 1),
        "from_tables": round(mean(new_crossorg(table_pairs)), 1),
        "from_chats": round(mean(new_crossorg(chat_pairs)), 1),
        "from_coffee": round(mean(new_crossorg(coffee_pairs)), 1),
        "room_crossorg_per_attendee": round(mean(new_crossorg(room_pairs | chat_pairs | coffee_pairs)), 1),
        "coffee_pairs": len(coffee_pairs),
        "coffee_pairs_met_before": met_before,
        "coffee_unpaired": unpaired,
        "seconds_assignment": round(seconds_assign, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return Outcome(strategy, top3 / len(day.people), mean(everything), repeated, diagnostics)


def simulate(options: Options | None = None, *, log: Callable[[str], None] | None = None) -> list[Outcome]:
    """Generate the day and run every strategy on it, in `STRATEGIES` order."""
    say = log or (lambda text: None)
    started = time.perf_counter()
    day = generate_day(options)
    say(describe(day) + f" (generated in {time.perf_counter() - started:.1f} s)")
    outcomes = []
    for strategy in STRATEGIES:
        outcome = run_strategy(day, strategy)
        say(f"{strategy}: " + ", ".join(f"{k}={v}" for k, v in outcome.diagnostics.items()))
        outcomes.append(outcome)
    return outcomes


def describe(day: Day) -> str:
    sizes = Counter(p.organisation for p in day.people)
    per_slot = [(len(s.breakouts), sum(b.capacity for b in s.breakouts)) for s in day.instance.slots]
    demand = Counter(t for p in day.people for t in p.ranking[:3])
    return (
        f"day: {len(day.people)} attendees, {len(sizes)} organisations (largest {max(sizes.values())}, "
        f"{sum(v <= 3 for v in sizes.values())} with 1-3), {len({p.region for p in day.people})} regions, "
        f"{len(day.known)} cross-organisation acquaintances; top-3 demand per theme "
        f"{sorted(demand.values(), reverse=True)}; breakouts per slot (count, places) {per_slot}; "
        f"{len({s.author_id for s in day.chat_slots})} authors, {len(day.chat_slots)} chat slots, "
        f"{len(day.bookings)} booked; coffee opt-ins per round {[len(r) for r in day.coffee_opt_ins]}"
    )


def lines(outcomes: Sequence[Outcome]) -> str:
    return "\n".join(o.line() for o in outcomes)
