"""The breakout assignment problem in plain data: the instance, its validation, the feasibility pre-check and the
quality of an assignment. No Flask, no database.

An instance (the JSON the `solve` command reads):

    {"org_share": 0.3, "themes": [...], "slots": [{"id", "breakouts": [{"id", "theme", "capacity"}]}],
     "attendees": [{"id", "org", "region", "prefs": {theme: score in [0, 1]}}]}

Rules: every attendee gets exactly one breakout per slot; capacities are hard; nobody gets a theme twice; at most
`org_share` of a breakout (of its capacity, rounded up: `org_cap`) comes from one organisation.

Objective (maximised): the sum over every attendee and slot of the attendee's score for the theme they get (a theme
missing from `prefs` scores 0), plus `org_weight` per distinct organisation present in each breakout (the
organisation mix: every organisation added to a breakout is one more organisation its members meet; 0 by default).
Scoring by the score itself is what makes 1st > 2nd > 3rd > rest: an attendee's ranked themes are their themes
ordered by score (ties by the order of `themes`), so a higher-ranked theme is always worth at least as much, and by
as much more as the attendee said.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from services.matching.domain.solving import Infeasible as Infeasible  # re-exported: the solver and service raise it
from services.matching.domain.solving import InstanceError

Id = str | int
Locks = Mapping[tuple[Id, Id], Id]  # (attendee id, slot id) -> breakout id
Assignment = dict[str, list[Id]]  # str(attendee id) -> breakout id per slot, in slot order


@dataclass(frozen=True)
class Breakout:
    id: Id
    theme: str
    capacity: int


@dataclass(frozen=True)
class Slot:
    id: Id
    breakouts: tuple[Breakout, ...]


@dataclass(frozen=True)
class Attendee:
    id: Id
    org: str
    region: str
    prefs: Mapping[str, float]


@dataclass(frozen=True)
class Instance:
    org_share: float
    themes: tuple[str, ...]
    slots: tuple[Slot, ...]
    attendees: tuple[Attendee, ...]

    def breakouts(self) -> list[tuple[int, Breakout]]:
        """(slot index, breakout) for every breakout, in slot order."""
        return [(s, b) for s, slot in enumerate(self.slots) for b in slot.breakouts]

    def to_json(self) -> dict[str, Any]:
        return {
            "org_share": self.org_share,
            "themes": list(self.themes),
            "slots": [
                {"id": s.id, "breakouts": [{"id": b.id, "theme": b.theme, "capacity": b.capacity} for b in s.breakouts]}
                for s in self.slots
            ],
            "attendees": [
                {"id": a.id, "org": a.org, "region": a.region, "prefs": dict(a.prefs)} for a in self.attendees
            ],
        }


def org_cap(capacity: int, share: float) -> int:
    """Most people from one organisation in a breakout: the share of its capacity, rounded up (30 % of 10 is 3,
    not the 4 that float rounding would give)."""
    return math.ceil(round(share * capacity, 9))


def ranked_themes(attendee: Attendee, themes: Sequence[str]) -> list[str]:
    """The attendee's themes best first: by score, ties in the order of `themes`; unscored themes come last."""
    order = {t: i for i, t in enumerate(themes)}
    return sorted(themes, key=lambda t: (-attendee.prefs.get(t, 0.0), order[t]))


def first_choice(attendee: Attendee, themes: Sequence[str]) -> str | None:
    """The attendee's 1st theme, or None when they scored nothing above 0."""
    best = max(((attendee.prefs.get(t, 0.0), -i, t) for i, t in enumerate(themes)), default=None)
    return best[2] if best is not None and best[0] > 0 else None


# --------------------------------------------------------------------------------------------- parsing / validation


def parse_instance(data: Any) -> Instance:
    """Validate the JSON shape and every value; raises InstanceError naming the first bad field."""
    if not isinstance(data, dict):
        raise InstanceError("instance", "must be a JSON object")
    share = data.get("org_share", 0.3)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InstanceError("org_share", f"must be a number in (0, 1], got {share!r}")
    themes = _list(data, "themes", "themes")
    seen_themes: set[str] = set()
    for i, theme in enumerate(themes):
        if not isinstance(theme, str) or not theme.strip():
            raise InstanceError(f"themes[{i}]", "must be a non-empty string")
        if theme in seen_themes:
            raise InstanceError(f"themes[{i}]", f"theme {theme!r} is listed twice")
        seen_themes.add(theme)
    slots_raw = _list(data, "slots", "slots")
    if not slots_raw:
        raise InstanceError("slots", "at least one slot is needed")
    slots: list[Slot] = []
    slot_ids: set[Id] = set()
    breakout_ids: set[Id] = set()
    for s, raw in enumerate(slots_raw):
        where = f"slots[{s}]"
        if not isinstance(raw, dict):
            raise InstanceError(where, "must be an object")
        slot_id = _id(raw, where)
        if slot_id in slot_ids:
            raise InstanceError(f"{where}.id", f"slot {slot_id!r} is listed twice")
        slot_ids.add(slot_id)
        breakouts_raw = _list(raw, "breakouts", f"{where}.breakouts")
        if not breakouts_raw:
            raise InstanceError(f"{where}.breakouts", "a slot needs at least one breakout")
        breakouts: list[Breakout] = []
        for j, b in enumerate(breakouts_raw):
            bwhere = f"{where}.breakouts[{j}]"
            if not isinstance(b, dict):
                raise InstanceError(bwhere, "must be an object")
            bid = _id(b, bwhere)
            if bid in breakout_ids:
                raise InstanceError(f"{bwhere}.id", f"breakout {bid!r} is listed twice (ids are unique across slots)")
            breakout_ids.add(bid)
            theme = b.get("theme")
            if theme not in seen_themes:
                raise InstanceError(f"{bwhere}.theme", f"{theme!r} is not one of the themes")
            capacity = b.get("capacity")
            if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
                raise InstanceError(f"{bwhere}.capacity", f"must be a whole number >= 0, got {capacity!r}")
            breakouts.append(Breakout(bid, theme, capacity))
        slots.append(Slot(slot_id, tuple(breakouts)))
    attendees: list[Attendee] = []
    attendee_ids: set[str] = set()
    for i, raw in enumerate(_list(data, "attendees", "attendees")):
        where = f"attendees[{i}]"
        if not isinstance(raw, dict):
            raise InstanceError(where, "must be an object")
        aid = _id(raw, where)
        if str(aid) in attendee_ids:
            raise InstanceError(f"{where}.id", f"attendee {aid!r} is listed twice")
        attendee_ids.add(str(aid))
        org = raw.get("org")
        if not isinstance(org, str) or not org.strip():
            raise InstanceError(f"{where}.org", "must be a non-empty string")
        region = raw.get("region", "")
        if not isinstance(region, str):
            raise InstanceError(f"{where}.region", "must be a string")
        prefs_raw = raw.get("prefs", {})
        if not isinstance(prefs_raw, dict):
            raise InstanceError(f"{where}.prefs", "must be an object {theme: score}")
        prefs: dict[str, float] = {}
        for theme, score in prefs_raw.items():
            if theme not in seen_themes:
                raise InstanceError(f"{where}.prefs", f"{theme!r} is not one of the themes")
            if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
                raise InstanceError(f"{where}.prefs[{theme!r}]", f"score must be a number in [0, 1], got {score!r}")
            prefs[theme] = float(score)
        attendees.append(Attendee(aid, org, region, prefs))
    return Instance(float(share), tuple(themes), tuple(slots), tuple(attendees))


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise InstanceError(where, "must be a list" if key in data else "is missing")
    return value


def _id(data: dict[str, Any], where: str) -> Id:
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise InstanceError(f"{where}.id", "must be a non-empty string or an integer")
    return value


def parse_locks(instance: Instance, raw: Any) -> dict[tuple[Id, Id], Id]:
    """Locks from JSON: {attendee_id: {slot_id: breakout_id}} (ids compared as strings)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InstanceError("locks", "must be an object {attendee_id: {slot_id: breakout_id}}")
    attendees = {str(a.id): a.id for a in instance.attendees}
    slots = {str(s.id): s for s in instance.slots}
    locks: dict[tuple[Id, Id], Id] = {}
    for aid, per_slot in raw.items():
        if str(aid) not in attendees:
            raise InstanceError(f"locks[{aid!r}]", "unknown attendee")
        if not isinstance(per_slot, dict):
            raise InstanceError(f"locks[{aid!r}]", "must be an object {slot_id: breakout_id}")
        for sid, bid in per_slot.items():
            if str(sid) not in slots:
                raise InstanceError(f"locks[{aid!r}][{sid!r}]", "unknown slot")
            slot = slots[str(sid)]
            match = [b.id for b in slot.breakouts if str(b.id) == str(bid)]
            if not match:
                raise InstanceError(f"locks[{aid!r}][{sid!r}]", f"breakout {bid!r} is not in slot {slot.id!r}")
            locks[(attendees[str(aid)], slot.id)] = match[0]
    return locks


def check_locks(instance: Instance, locks: Locks) -> None:
    """Raise InstanceError for locks naming an unknown attendee, slot or a breakout of another slot."""
    attendees = {str(a.id) for a in instance.attendees}
    slots = {str(s.id): s for s in instance.slots}
    for (aid, sid), bid in locks.items():
        where = f"locks[({aid!r}, {sid!r})]"
        if str(aid) not in attendees:
            raise InstanceError(where, "unknown attendee")
        if str(sid) not in slots:
            raise InstanceError(where, "unknown slot")
        if not any(str(b.id) == str(bid) for b in slots[str(sid)].breakouts):
            raise InstanceError(where, f"breakout {bid!r} is not in slot {sid!r}")


# ----------------------------------------------------------------------------------------------- feasibility check


def feasibility_reasons(instance: Instance, locks: Locks | None = None, *, first_choice_rule: bool = True) -> list[str]:
    """Why the day cannot be scheduled, in words; empty when the pre-check finds nothing.

    Checks: places per slot; a theme with fewer places in the whole day than attendees who ranked it first (the
    issue's rule: the run fails rather than turning most of them away); for every set of slots, enough places in
    different themes (nobody takes a theme twice); the same per organisation under the diversity cap (only the
    smallest failing sets of slots are named); locks that
    repeat a theme or overfill a breakout or its organisation cap. Passing it does not prove feasibility (the solver
    reports what it still cannot place); failing it proves infeasibility, except the first-choice rule, which is
    policy (`first_choice_rule=False` skips it).
    """
    locks = locks or {}
    reasons: list[str] = []
    n = len(instance.attendees)
    pct = _pct(instance.org_share)
    slot_names = [repr_id(s.id) for s in instance.slots]
    for s, slot in enumerate(instance.slots):
        places = sum(b.capacity for b in slot.breakouts)
        if places < n:
            reasons.append(f"slot {slot_names[s]}: {n} attendees, {places} places")

    theme_places: Counter[str] = Counter()
    for _, b in instance.breakouts():
        theme_places[b.theme] += b.capacity
    firsts = Counter(t for a in instance.attendees if (t := first_choice(a, instance.themes)) is not None)
    for theme in instance.themes if first_choice_rule else ():
        if firsts[theme] > theme_places[theme]:
            reasons.append(f"theme '{theme}': {firsts[theme]} ranked it first, {theme_places[theme]} places in total")

    # Places per (slot, theme), in total and for one organisation under the caps (the same for every organisation).
    theme_index = {t: i for i, t in enumerate(instance.themes)}
    places = np.zeros((len(instance.slots), len(instance.themes)), dtype=np.int64)
    org_places = np.zeros_like(places)
    for s, slot in enumerate(instance.slots):
        for b in slot.breakouts:
            places[s, theme_index[b.theme]] += b.capacity
            org_places[s, theme_index[b.theme]] += org_cap(b.capacity, instance.org_share)
    orgs = Counter(a.org for a in instance.attendees)
    subsets = _slot_subsets(len(instance.slots))
    short: list[tuple[int, ...]] = []  # slot sets too small for everyone: their supersets and organisations go unsaid
    for subset in subsets:
        if _contains_any(subset, short):
            continue
        usable = int(np.minimum(n, places[list(subset)].sum(axis=0)).sum())
        if usable < n * len(subset):
            short.append(subset)
            if len(subset) > 1:  # one slot: said above in plain places
                names = ", ".join(slot_names[s] for s in subset)
                reasons.append(
                    f"slots {names}: {n} attendees need {n * len(subset)} places without repeating a theme, "
                    f"{usable} usable"
                )
    org_short: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for subset in subsets:
        if _contains_any(subset, short):
            continue
        per_theme = org_places[list(subset)].sum(axis=0)
        for org, members in sorted(orgs.items()):
            if _contains_any(subset, org_short[org]):
                continue
            usable = int(np.minimum(members, per_theme).sum())  # each theme at most once per person
            if usable >= members * len(subset):
                continue
            org_short[org].append(subset)
            if len(subset) == 1:
                reasons.append(
                    f"organisation '{org}': {members} attendees, at most {usable} places in slot "
                    f"{slot_names[subset[0]]} ({pct} % of a breakout from one organisation)"
                )
            else:
                names = ", ".join(slot_names[s] for s in subset)
                reasons.append(
                    f"organisation '{org}' in slots {names}: {members} attendees need {members * len(subset)} places "
                    f"without repeating a theme, {usable} usable ({pct} % of a breakout from one organisation)"
                )
    reasons.extend(_lock_reasons(instance, locks))
    return reasons


def _contains_any(subset: tuple[int, ...], found: list[tuple[int, ...]]) -> bool:
    return any(set(f) <= set(subset) for f in found)


def _slot_subsets(n_slots: int) -> list[tuple[int, ...]]:
    if n_slots <= 10:
        return [c for k in range(1, n_slots + 1) for c in combinations(range(n_slots), k)]
    return [(s,) for s in range(n_slots)] + [tuple(range(n_slots))]


def _lock_reasons(instance: Instance, locks: Locks) -> list[str]:
    reasons: list[str] = []
    breakouts = {str(b.id): b for _, b in instance.breakouts()}
    org_of = {str(a.id): a.org for a in instance.attendees}
    themes_of: dict[str, dict[str, list[Id]]] = defaultdict(lambda: defaultdict(list))
    count: Counter[str] = Counter()
    count_org: Counter[tuple[str, str]] = Counter()
    slot_order = {str(s.id): i for i, s in enumerate(instance.slots)}
    for (aid, sid), bid in sorted(locks.items(), key=lambda kv: (str(kv[0][0]), slot_order[str(kv[0][1])])):
        b = breakouts[str(bid)]
        themes_of[str(aid)][b.theme].append(sid)
        count[str(bid)] += 1
        count_org[(str(bid), org_of[str(aid)])] += 1
    for aid, themes in themes_of.items():
        for theme, sids in themes.items():
            if len(sids) > 1:
                reasons.append(
                    f"attendee {repr_id(aid)}: locked into theme '{theme}' more than once "
                    f"(slots {', '.join(repr_id(s) for s in sids)})"
                )
    for bid, k in sorted(count.items()):
        if k > breakouts[bid].capacity:
            reasons.append(f"breakout {repr_id(bid)}: {k} locked into it, capacity {breakouts[bid].capacity}")
    for (bid, org), k in sorted(count_org.items()):
        cap = org_cap(breakouts[bid].capacity, instance.org_share)
        if k > cap:
            reasons.append(
                f"breakout {repr_id(bid)}: {k} from organisation '{org}' locked into it, at most {cap} "
                f"({_pct(instance.org_share)} % of {breakouts[bid].capacity})"
            )
    return reasons


def repr_id(value: Id) -> str:
    return f"'{value}'"


def _pct(share: float) -> str:
    return f"{share * 100:g}"


# ------------------------------------------------------------------------------------------------- quality metrics


@dataclass
class Metrics:
    objective: float  # preference score + org_weight * organisations per breakout
    preference: float  # sum of the scores of the themes people got
    org_mix_value: float  # org_weight * sum over breakouts of distinct organisations
    attendees: int
    left_out: int  # attendees missing a breakout in some slot (0 for a solver result)
    got_first: float  # share of attendees who got their 1st theme
    got_top3: float  # share who got all of their top 3 themes (top min(3, slots))
    perfect_day: float  # share whose every slot is one of their top-(number of slots) themes
    rank_histogram: dict[str, int]  # "1", "2", ... "rest": assignments by the rank of the theme
    max_org_share: float  # largest share of one breakout's attendance from one organisation
    max_org_share_of_capacity: float  # the same, relative to capacity (what the cap limits)
    min_orgs_per_breakout: int
    mean_orgs_per_breakout: float
    mean_orgs_met: float  # distinct other organisations an attendee shares a breakout with, over the day
    cross_org_contacts: int  # distinct pairs of people from different organisations who share a breakout
    fill: float  # people placed / places offered
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"} | self.extra


def evaluate(instance: Instance, assignment: Mapping[str, Sequence[Id | None]], org_weight: float = 0.0) -> Metrics:
    """Objective and quality of an assignment (missing entries count as left out, not as errors)."""
    n_slots = len(instance.slots)
    where = {str(b.id): (s, j) for s, slot in enumerate(instance.slots) for j, b in enumerate(slot.breakouts)}
    flat = [b for slot in instance.slots for b in slot.breakouts]
    offset = np.cumsum([0] + [len(slot.breakouts) for slot in instance.slots])
    org_names = sorted({a.org for a in instance.attendees})
    org_index = {o: i for i, o in enumerate(org_names)}
    members: list[list[int]] = [[] for _ in flat]
    preference = 0.0
    left_out = got_first = got_top3 = perfect = 0
    ranks: Counter[str] = Counter()
    top_k = min(3, n_slots)
    for i, a in enumerate(instance.attendees):
        got = list(assignment.get(str(a.id), []))
        ranked = ranked_themes(a, instance.themes)
        rank_of = {t: r for r, t in enumerate(ranked)}
        themes_got: list[str] = []
        complete = len(got) == n_slots
        for s in range(n_slots):
            bid = got[s] if s < len(got) else None
            if bid is None or str(bid) not in where:
                complete = False
                continue
            bs, j = where[str(bid)]
            b = flat[int(offset[bs]) + j]
            members[int(offset[bs]) + j].append(i)
            themes_got.append(b.theme)
            preference += a.prefs.get(b.theme, 0.0)
            r = rank_of[b.theme]
            ranks[str(r + 1) if r < n_slots + 1 else "rest"] += 1
        left_out += not complete
        if ranked and ranked[0] in themes_got:
            got_first += 1
        if set(ranked[:top_k]) <= set(themes_got):
            got_top3 += 1
        if complete and all(rank_of[t] < n_slots for t in themes_got):
            perfect += 1
    org_of = np.array([org_index[a.org] for a in instance.attendees], dtype=np.int64)
    orgs_per_breakout: list[int] = []
    max_share = max_share_cap = 0.0
    presence = np.zeros((len(flat), max(1, len(org_names))), dtype=bool)
    pair_codes: list[np.ndarray] = []
    n = len(instance.attendees)
    for k, people in enumerate(members):
        if not people:
            continue
        idx = np.array(sorted(people), dtype=np.int64)
        counts = np.bincount(org_of[idx], minlength=len(org_names))
        orgs_per_breakout.append(int((counts > 0).sum()))
        presence[k, counts > 0] = True
        top = int(counts.max())
        max_share = max(max_share, top / len(people))
        if flat[k].capacity:
            max_share_cap = max(max_share_cap, top / flat[k].capacity)
        left, right = np.triu_indices(len(idx), k=1)
        cross = org_of[idx[left]] != org_of[idx[right]]
        pair_codes.append(idx[left[cross]] * n + idx[right[cross]])
    orgs_met = 0.0
    if n:
        met = np.zeros((n, max(1, len(org_names))), dtype=bool)
        for i, a in enumerate(instance.attendees):
            for bid in assignment.get(str(a.id), []):
                if bid is not None and str(bid) in where:
                    bs, j = where[str(bid)]
                    met[i] |= presence[int(offset[bs]) + j]
        met[np.arange(n), org_of] = False
        orgs_met = float(met.sum(axis=1).mean())
    contacts = int(np.unique(np.concatenate(pair_codes)).size) if pair_codes else 0
    org_mix = org_weight * sum(orgs_per_breakout)
    places = sum(b.capacity for b in flat)
    placed = sum(len(m) for m in members)
    return Metrics(
        objective=preference + org_mix,
        preference=preference,
        org_mix_value=org_mix,
        attendees=n,
        left_out=left_out,
        got_first=got_first / n if n else 1.0,
        got_top3=got_top3 / n if n else 1.0,
        perfect_day=perfect / n if n else 1.0,
        rank_histogram=dict(sorted(ranks.items(), key=lambda kv: (kv[0] == "rest", len(kv[0]), kv[0]))),
        max_org_share=max_share,
        max_org_share_of_capacity=max_share_cap,
        min_orgs_per_breakout=min(orgs_per_breakout, default=0),
        mean_orgs_per_breakout=sum(orgs_per_breakout) / len(orgs_per_breakout) if orgs_per_breakout else 0.0,
        mean_orgs_met=orgs_met,
        cross_org_contacts=contacts,
        fill=placed / places if places else 0.0,
    )


def violations(
    instance: Instance, assignment: Mapping[str, Sequence[Id | None]], locks: Locks | None = None
) -> list[str]:
    """Every hard rule the assignment breaks, in words (empty = valid)."""
    problems: list[str] = []
    n_slots = len(instance.slots)
    slot_of = {str(b.id): s for s, b in instance.breakouts()}
    by_id = {str(b.id): b for _, b in instance.breakouts()}
    load: Counter[str] = Counter()
    load_org: Counter[tuple[str, str]] = Counter()
    for a in instance.attendees:
        got = list(assignment.get(str(a.id), []))
        if len(got) != n_slots or any(b is None for b in got):
            problems.append(f"attendee {repr_id(a.id)}: {len(got)} breakouts for {n_slots} slots")
            continue
        themes: Counter[str] = Counter()
        for s, bid in enumerate(got):
            if str(bid) not in by_id or slot_of[str(bid)] != s:
                problems.append(f"attendee {repr_id(a.id)}: breakout {repr_id(bid)} is not in slot {s + 1}")
                continue
            themes[by_id[str(bid)].theme] += 1
            load[str(bid)] += 1
            load_org[(str(bid), a.org)] += 1
        problems.extend(f"attendee {repr_id(a.id)}: theme '{t}' {k} times" for t, k in themes.items() if k > 1)
    for bid, k in load.items():
        if k > by_id[bid].capacity:
            problems.append(f"breakout {repr_id(bid)}: {k} people, capacity {by_id[bid].capacity}")
    for (bid, org), k in load_org.items():
        cap = org_cap(by_id[bid].capacity, instance.org_share)
        if k > cap:
            problems.append(f"breakout {repr_id(bid)}: {k} from '{org}', at most {cap}")
    slot_index = {str(s.id): i for i, s in enumerate(instance.slots)}
    for (aid, sid), bid in (locks or {}).items():
        got = list(assignment.get(str(aid), []))
        s = slot_index[str(sid)]
        if s >= len(got) or str(got[s]) != str(bid):
            problems.append(f"attendee {repr_id(aid)}: lock to {repr_id(bid)} in slot {repr_id(sid)} not kept")
    return problems
