"""What the day achieved, computed from plain facts (pure: no Flask, no database).

Everything counted is people, so every figure can go through small-cell suppression (`privacy`). The page's filters
(region, first-time or returning, small or larger organisation) are the dimensions of a cube: every figure is
computed for every filter combination at once and suppressed together, so that comparing two filtered views
cannot recover a hidden figure either.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.matching.outcomes.privacy import MIN_CELL, Sum, suppress

ALL = "*"
ACTIVE_MIN_POSTERS = 3  # "active on the day": viewed at least 3 posters, held a chat, or was placed in a breakout
SMALL_ORG_MAX = 2  # an organisation with at most this many people registered for the day counts as small
CONTACT_BINS = (("0", 0, 0), ("1-2", 1, 2), ("3-5", 3, 5), ("6+", 6, None))

FUNNEL = ("registered", "active", "followed_up")
ENGAGEMENT = ("viewed_posters", "viewed_3_posters", "booked_chat", "held_chat", "noted_followup", "placed_breakout")
COFFEE = ("coffee_opted_in", "coffee_accepted", "coffee_held")
NETWORK = tuple(f"new_contacts_{name}" for name, _, _ in CONTACT_BINS) + ("met_someone_known",)
METRICS = FUNNEL + ENGAGEMENT + COFFEE + NETWORK
DIMENSIONS = ("region", "newcomer", "org_size")

Pair = frozenset[int]


@dataclass(frozen=True)
class Attendee:
    user_id: int
    organisation: str
    region: str
    first_time: bool


@dataclass(frozen=True)
class SurveyAnswer:
    user_id: int
    contacted_someone: bool
    adopted_something: bool
    answered_at: datetime


@dataclass
class DayFacts:
    """What matching knows about one day, each set holding user ids (pairs: two user ids)."""

    ended_at: datetime
    attendees: list[Attendee]
    posters_viewed: Mapping[int, int] = field(default_factory=dict)  # user -> distinct projects opened
    booked_chat: set[int] = field(default_factory=set)
    held_chat: set[int] = field(default_factory=set)
    noted_followup: set[int] = field(default_factory=set)
    placed_breakout: set[int] = field(default_factory=set)
    coffee_opted_in: set[int] = field(default_factory=set)
    coffee_accepted: set[int] = field(default_factory=set)
    coffee_held: set[int] = field(default_factory=set)
    survey: list[SurveyAnswer] = field(default_factory=list)
    contacts: set[Pair] = field(default_factory=set)  # met 1-1 or in a small group on the day
    known_before: set[Pair] = field(default_factory=set)  # met at an earlier day
    breakouts: Mapping[str, list[int]] = field(default_factory=dict)  # "slot time - title" -> people placed


Slice = tuple[str, str, str]  # (region, newcomer, org_size); ALL = no filter on that dimension
CellKey = tuple[Slice, str]


def small_organisations(attendees: Iterable[Attendee]) -> set[str]:
    sizes = Counter(a.organisation for a in attendees)
    return {org for org, n in sizes.items() if n <= SMALL_ORG_MAX}


def dimension_values(facts: DayFacts) -> dict[str, list[str]]:
    """The values each filter offers: only those somebody has (an empty one would only force totals out)."""
    present = list(_coordinates(facts).values())
    return {dim: sorted({c[d] for c in present}) for d, dim in enumerate(DIMENSIONS)}


def _coordinates(facts: DayFacts) -> dict[int, Slice]:
    small = small_organisations(facts.attendees)
    return {
        a.user_id: (
            a.region or "unknown",
            "first_time" if a.first_time else "returning",
            "small" if a.organisation in small else "larger",
        )
        for a in facts.attendees
    }


def _per_person(facts: DayFacts) -> dict[int, set[str]]:
    """The metrics each attendee counts in."""
    org = {a.user_id: a.organisation for a in facts.attendees}
    new_crossorg: dict[int, int] = defaultdict(int)
    met_known: set[int] = set()
    for pair in facts.contacts:
        a, b = sorted(pair)
        if pair in facts.known_before:
            met_known.update((a, b))
        elif org.get(a) is not None and org.get(b) is not None and org[a] != org[b]:
            new_crossorg[a] += 1
            new_crossorg[b] += 1
    followed_up = {s.user_id for s in facts.survey if s.contacted_someone or s.adopted_something}
    out: dict[int, set[str]] = {}
    for a in facts.attendees:
        u = a.user_id
        viewed = facts.posters_viewed.get(u, 0)
        tags = {"registered"}
        if viewed >= 1:
            tags.add("viewed_posters")
        if viewed >= ACTIVE_MIN_POSTERS:
            tags.add("viewed_3_posters")
        for name in ("booked_chat", "held_chat", "noted_followup", "placed_breakout", *COFFEE):
            if u in getattr(facts, name):
                tags.add(name)
        if {"viewed_3_posters", "held_chat", "placed_breakout"} & tags:
            tags.add("active")
        if u in followed_up:
            tags.add("followed_up")
        if u in met_known:
            tags.add("met_someone_known")
        n = new_crossorg[u]
        for name, low, high in CONTACT_BINS:
            if n >= low and (high is None or n <= high):
                tags.add(f"new_contacts_{name}")
        out[u] = tags
    return out


def cube(facts: DayFacts) -> dict[CellKey, int]:
    """Every metric for every filter combination (ALL standing for "any")."""
    values = dimension_values(facts)
    slices = list(itertools.product(*[[ALL, *values[d]] for d in DIMENSIONS]))
    counts: dict[CellKey, int] = {(s, m): 0 for s in slices for m in METRICS}
    coords = _coordinates(facts)
    for user_id, tags in _per_person(facts).items():
        own = coords[user_id]
        for mask in itertools.product((False, True), repeat=len(DIMENSIONS)):
            s = tuple(ALL if wild else own[i] for i, wild in enumerate(mask))
            for metric in tags:
                counts[(s, metric)] += 1  # type: ignore[index]
    return counts


def cube_equations(facts: DayFacts) -> list[Sum]:
    """parent = sum of children: along each filter dimension, and the contact bins within each slice."""
    values = dimension_values(facts)
    slices = list(itertools.product(*[[ALL, *values[d]] for d in DIMENSIONS]))
    equations: list[Sum] = []
    for s in slices:
        equations.append(Sum((s, "registered"), tuple((s, f"new_contacts_{n}") for n, _, _ in CONTACT_BINS)))
        for d, dim in enumerate(DIMENSIONS):
            if s[d] != ALL:
                continue
            children = [tuple(v if i == d else s[i] for i in range(len(s))) for v in values[dim]]
            for metric in METRICS:
                equations.append(Sum((s, metric), tuple((c, metric) for c in children)))  # type: ignore[misc]
    return equations


def suppressed_cube(facts: DayFacts) -> tuple[dict[CellKey, int], set[CellKey]]:
    """The cube and the cells to hide. Metrics are only tied together by the bins, so each group of metrics is
    suppressed on its own (small linear systems)."""
    values = cube(facts)
    equations = cube_equations(facts)
    hidden: set[CellKey] = set()
    groups = [(m,) for m in METRICS if m != "registered" and not m.startswith("new_contacts_")]
    groups.append(("registered", *[f"new_contacts_{n}" for n, _, _ in CONTACT_BINS]))
    for group in groups:
        members = set(group)
        part = {k: v for k, v in values.items() if k[1] in members}
        eqs = [e for e in equations if e.parent[1] in members]  # type: ignore[index]
        hidden |= suppress(part, eqs, importance=lambda cell: cell[0].count(ALL))
    return values, hidden


@dataclass(frozen=True)
class Table:
    """One overall table: rows of (label, {column: count}), with its own hidden cells and equations."""

    columns: tuple[str, ...]
    rows: list[tuple[str, dict[str, int]]]
    hidden: set[tuple[str, str]]


def _table(columns: tuple[str, ...], rows: list[tuple[str, dict[str, int]]], equations: list[Sum]) -> Table:
    values = {(label, col): row[col] for label, row in rows for col in columns}
    return Table(columns, rows, suppress(values, equations))


def contacts_table(facts: DayFacts) -> Table:
    """Contacts made on the day (pairs of people): new vs already known from an earlier day."""
    known = sum(1 for p in facts.contacts if p in facts.known_before)
    new = len(facts.contacts) - known
    row = {"new": new, "already_known": known, "total": len(facts.contacts)}
    eq = Sum(("contacts", "total"), (("contacts", "new"), ("contacts", "already_known")))
    return _table(("new", "already_known", "total"), [("contacts", row)], [eq])


def breakouts_table(facts: DayFacts) -> Table:
    """Organisation mix per breakout: people, organisations represented, and the largest organisation's share in
    percent. A breakout of fewer than 5 people shows nothing; the share is hidden when the largest organisation has
    fewer than 5 people there (share x people would give that small count away) - which itself means well mixed."""
    org = {a.user_id: a.organisation for a in facts.attendees}
    rows: list[tuple[str, dict[str, int]]] = []
    small_largest: set[str] = set()
    for label, people in sorted(facts.breakouts.items()):
        orgs = Counter(org.get(u, "") for u in people)
        largest = max(orgs.values()) if orgs else 0
        if largest < MIN_CELL:
            small_largest.add(label)
        share = round(100 * largest / len(people)) if people else 0
        rows.append((label, {"people": len(people), "organisations": len(orgs), "largest_org_percent": share}))
    values = {(label, "people"): row["people"] for label, row in rows}
    hidden: set[tuple[str, str]] = set(suppress(values, []))  # type: ignore[arg-type]
    for label, _ in rows:
        if (label, "people") in hidden:
            hidden |= {(label, "organisations"), (label, "largest_org_percent")}
        elif label in small_largest:
            hidden.add((label, "largest_org_percent"))
    return Table(("people", "organisations", "largest_org_percent"), rows, hidden)


def survey_table(facts: DayFacts) -> Table:
    """Follow-up survey answers per week after the day (the latest answer per person counts)."""
    weeks: dict[str, dict[str, int]] = {}
    for s in facts.survey:
        week = max(0, (s.answered_at - facts.ended_at).days // 7) + 1
        row = weeks.setdefault(f"week {week}", {"answered": 0, "contacted_someone": 0, "adopted_something": 0})
        row["answered"] += 1
        row["contacted_someone"] += int(s.contacted_someone)
        row["adopted_something"] += int(s.adopted_something)
    rows = sorted(weeks.items(), key=lambda kv: int(kv[0].split()[1]))
    columns = ("answered", "contacted_someone", "adopted_something")
    total = {c: sum(r[c] for _, r in rows) for c in columns}
    rows.append(("all weeks", total))
    equations = [Sum(("all weeks", c), tuple((label, c) for label, _ in rows[:-1])) for c in columns]
    return _table(columns, rows, equations)
