"""The timetabling problem in plain data: slots with rooms, sessions (breakouts) with their constraints, attendees'
wanted themes folded into profiles; the worded pre-check of the constraints; the evaluation of a placement. No
Flask, no database.

An attendee is *clash-free* when their top-k wanted themes (k = 3 by default) can all be attended: each theme has a
session in a slot of its own (a theme with several sessions counts as attendable through any of them), i.e. the
themes can be matched to distinct slots. Attendees with the same set of top-k themes are one *profile* weighted by
their number, which keeps a 10,000-person day small. The preference weight of a theme is k for the 1st, k-1 for the
2nd, ...; a profile's weight per theme is the sum over its attendees.

The instance read by the `timetable` command:

    {"slots": [{"id", "rooms"}], "sessions": [{"id", "theme", "capacity"}],
     "attendees": [{"id", "org", "wants": [session ids, ranked]}]}
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.matching.domain.solving import Infeasible as Infeasible  # re-exported: the solver and service raise it
from services.matching.domain.solving import InstanceError

Id = str | int
Placement = Mapping[Id, Id]  # session id -> slot id
DEFAULT_K = 3


@dataclass(frozen=True)
class SlotSpec:
    id: Id
    rooms: int | None  # None: the slot has no room limit
    label: str = ""  # how reasons name it, e.g. "slot 2 (10:00)"

    @property
    def name(self) -> str:
        return self.label or f"slot {self.id}"


@dataclass(frozen=True)
class SessionSpec:
    id: Id
    theme: str
    capacity: int = 0
    label: str = ""
    not_before: Id | None = None  # a slot id: not in an earlier slot
    not_after: Id | None = None  # a slot id: not in a later slot
    same_slot_as: Id | None = None  # a session id
    not_same_slot_as: Id | None = None  # a session id
    presenter: str | None = None  # one person cannot be in two places at once
    locked_to: Id | None = None  # a slot id chosen by the organiser

    @property
    def name(self) -> str:
        return repr(self.label or self.theme or str(self.id))


@dataclass(frozen=True)
class Profile:
    """Attendees sharing one set of top-k themes; `weights[i]` is the summed preference weight of `themes[i]`."""

    themes: tuple[str, ...]
    count: int
    weights: tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    slots: tuple[SlotSpec, ...]  # in time order
    sessions: tuple[SessionSpec, ...]
    profiles: tuple[Profile, ...]
    attendees: int
    k: int = DEFAULT_K

    def slot_position(self) -> dict[Id, int]:
        return {slot.id: i for i, slot in enumerate(self.slots)}

    def themes(self) -> dict[str, list[SessionSpec]]:
        by_theme: dict[str, list[SessionSpec]] = defaultdict(list)
        for session in self.sessions:
            by_theme[session.theme].append(session)
        return by_theme


# --------------------------------------------------------------------------------------------- profiles


def top_themes(ranked: Iterable[str], k: int) -> list[str]:
    """The first k distinct themes of a ranking."""
    found: list[str] = []
    for theme in ranked:
        if theme not in found:
            found.append(theme)
        if len(found) == k:
            break
    return found


def profiles_of(rankings: Iterable[Sequence[str]], k: int = DEFAULT_K) -> tuple[tuple[Profile, ...], int]:
    """Fold attendees' ranked themes into profiles; returns (profiles, attendees counted). Nobody is dropped: an
    attendee who wants no theme is a profile with no themes (trivially clash-free)."""
    counts: Counter[tuple[str, ...]] = Counter()
    weights: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    attendees = 0
    for ranking in rankings:
        attendees += 1
        top = top_themes(ranking, k)
        key = tuple(sorted(top))
        counts[key] += 1
        for rank, theme in enumerate(top):
            weights[key][theme] += k - rank
    profiles = tuple(
        Profile(key, counts[key], tuple(weights[key][t] for t in key))
        for key in sorted(counts, key=lambda t: (-counts[t], t))
    )
    return profiles, attendees


# --------------------------------------------------------------------------------------------- the JSON instance


def parse_instance(raw: Any, k: int = DEFAULT_K) -> Problem:
    """The `timetable` command's instance, checked field by field (InstanceError names the field at fault)."""
    if not isinstance(raw, dict):
        raise InstanceError("instance", "must be a JSON object with slots, sessions and attendees")
    for key in ("slots", "sessions", "attendees"):
        if not isinstance(raw.get(key), list):
            raise InstanceError(key, "must be a list")
    slots: list[SlotSpec] = []
    seen_slots: set[Id] = set()
    for i, item in enumerate(raw["slots"]):
        where = f"slots[{i}]"
        slot_id = _id(item, where)
        rooms = item.get("rooms")
        if not isinstance(rooms, int) or isinstance(rooms, bool) or rooms < 1:
            raise InstanceError(f"{where}.rooms", "must be a whole number >= 1")
        if slot_id in seen_slots:
            raise InstanceError(f"{where}.id", f"slot {slot_id!r} is given twice")
        seen_slots.add(slot_id)
        slots.append(SlotSpec(slot_id, rooms, f"slot {slot_id}"))
    sessions: list[SessionSpec] = []
    theme_of: dict[Id, str] = {}
    for i, item in enumerate(raw["sessions"]):
        where = f"sessions[{i}]"
        session_id = _id(item, where)
        theme = item.get("theme")
        if not isinstance(theme, str) or not theme.strip():
            raise InstanceError(f"{where}.theme", "must be a non-empty text")
        capacity = item.get("capacity", 0)
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
            raise InstanceError(f"{where}.capacity", "must be a whole number >= 0")
        if session_id in theme_of:
            raise InstanceError(f"{where}.id", f"session {session_id!r} is given twice")
        theme_of[session_id] = theme
        sessions.append(SessionSpec(session_id, theme, capacity, label=f"session {session_id}"))
    rankings: list[list[str]] = []
    seen_people: set[Id] = set()
    for i, item in enumerate(raw["attendees"]):
        where = f"attendees[{i}]"
        person = _id(item, where)
        if person in seen_people:
            raise InstanceError(f"{where}.id", f"attendee {person!r} is given twice")
        seen_people.add(person)
        wants = item.get("wants")
        if not isinstance(wants, list):
            raise InstanceError(f"{where}.wants", "must be a list of session ids, best first")
        ranking = []
        for j, wanted in enumerate(wants):
            if isinstance(wanted, bool) or wanted not in theme_of:
                raise InstanceError(f"{where}.wants[{j}]", f"unknown session {wanted!r}")
            ranking.append(theme_of[wanted])
        rankings.append(ranking)
    profiles, attendees = profiles_of(rankings, k)
    return Problem(tuple(slots), tuple(sessions), profiles, attendees, k)


def _id(item: Any, where: str) -> Id:
    if not isinstance(item, dict):
        raise InstanceError(where, "must be an object")
    value = item.get("id")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise InstanceError(f"{where}.id", "must be a number or a non-empty text")
    return value


# --------------------------------------------------------------------------------------------- the pre-check


def allowed_slots(problem: Problem) -> dict[Id, list[int]]:
    """Slot positions each session may take after its window and its lock (unknown slot ids allow nothing)."""
    position = problem.slot_position()
    allowed: dict[Id, list[int]] = {}
    for session in problem.sessions:
        low = position.get(session.not_before, -1) if session.not_before is not None else 0
        high = position.get(session.not_after, -1) if session.not_after is not None else len(problem.slots) - 1
        window = [t for t in range(len(problem.slots)) if low >= 0 and high >= 0 and low <= t <= high]
        if session.locked_to is not None:
            locked = position.get(session.locked_to)
            window = [t for t in window if t == locked]
        allowed[session.id] = window
    return allowed


def same_slot_groups(problem: Problem) -> list[list[SessionSpec]]:
    """Sessions tied together by "same slot as" (transitively), groups of two or more."""
    parent: dict[Id, Id] = {s.id: s.id for s in problem.sessions}

    def root(x: Id) -> Id:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for session in problem.sessions:
        if session.same_slot_as is not None and session.same_slot_as in parent:
            parent[root(session.id)] = root(session.same_slot_as)
    groups: dict[Id, list[SessionSpec]] = defaultdict(list)
    for session in problem.sessions:
        groups[root(session.id)].append(session)
    return [g for g in groups.values() if len(g) > 1]


def _names(sessions: Sequence[SessionSpec]) -> str:
    names = [s.name for s in sessions]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _rooms(count: int | None) -> str:
    return "no room limit" if count is None else f"{count} room{'s' if count != 1 else ''}"


def precheck(problem: Problem) -> list[str]:
    """Why no timetable can exist, in words, from counting alone; empty when the solver should try."""
    reasons: list[str] = []
    slots, sessions = problem.slots, problem.sessions
    by_id = {s.id: s for s in sessions}
    slot_ids = {s.id for s in slots}
    if not slots:
        return ["the day has no breakout slot to place breakouts in"]
    if all(s.rooms is not None for s in slots):
        total = sum(s.rooms or 0 for s in slots)
        if len(sessions) > total:
            reasons.append(
                f"{len(sessions)} breakouts do not fit in {len(slots)} slot{'s' if len(slots) != 1 else ''} "
                f"with {total} rooms in all "
                f"(rooms per slot: {', '.join(str(s.rooms) for s in slots)})"
            )
    for s in sessions:
        if s.locked_to is not None and s.locked_to not in slot_ids:
            reasons.append(
                f"{s.name} is locked to slot {s.locked_to}, which no longer exists: unlock it or pick a slot"
            )
        for what, ref in (("not before", s.not_before), ("not after", s.not_after)):
            if ref is not None and ref not in slot_ids:
                reasons.append(f"{s.name} must be {what} slot {ref}, which no longer exists")
        for what, ref in (("in the same slot as", s.same_slot_as), ("apart from", s.not_same_slot_as)):
            if ref is not None and ref not in by_id:
                reasons.append(f"{s.name} must be {what} breakout {ref}, which no longer exists")
            if ref is not None and ref == s.id:
                reasons.append(f"{s.name} cannot be {what} itself")
    if reasons:
        return reasons  # the remaining checks assume every reference resolves
    position = problem.slot_position()
    allowed = allowed_slots(problem)
    for s in sessions:
        if s.not_before is not None and s.not_after is not None and position[s.not_before] > position[s.not_after]:
            reasons.append(
                f"{s.name} may not be before {slots[position[s.not_before]].name} and not after "
                f"{slots[position[s.not_after]].name}: no slot is left"
            )
        elif not allowed[s.id]:
            reasons.append(f"{s.name} is locked to {slots[position[s.locked_to]].name}, outside the slots it may take")
    groups = same_slot_groups(problem)
    group_of = {s.id: i for i, g in enumerate(groups) for s in g}
    for group in groups:
        common = set(range(len(slots)))
        for s in group:
            common &= set(allowed[s.id])
        if not common:
            reasons.append(f"{_names(group)} must share a slot, but their allowed slots or locks have none in common")
            continue
        fits = [t for t in sorted(common) if slots[t].rooms is None or (slots[t].rooms or 0) >= len(group)]
        if not fits:
            where = (
                f"{slots[min(common)].name}, which has {_rooms(slots[min(common)].rooms)}"
                if len(common) == 1
                else f"a slot, but none of their slots has {len(group)} rooms (the largest has "
                f"{_rooms(max(slots[t].rooms or 0 for t in common))})"
            )
            reasons.append(f"{_names(group)} must share {where}")
        presenters = Counter(s.presenter for s in group if s.presenter)
        for presenter, count in presenters.items():
            if count > 1:
                reasons.append(
                    f"{_names([s for s in group if s.presenter == presenter])} must share a slot but have the same "
                    f"presenter ({presenter}), who cannot be in two places at once"
                )
    for s in sessions:
        other = s.not_same_slot_as
        if other is not None and (
            s.id in group_of and group_of.get(other) == group_of[s.id] or s.same_slot_as == other
        ):
            reasons.append(f"{s.name} must be in the same slot as {by_id[other].name} and also not in the same slot")
    locked_in: dict[int, list[SessionSpec]] = defaultdict(list)
    for s in sessions:
        if s.locked_to is not None:
            locked_in[position[s.locked_to]].append(s)
    for t, locked in sorted(locked_in.items()):
        rooms = slots[t].rooms
        if rooms is not None and len(locked) > rooms:
            reasons.append(f"{len(locked)} breakouts are locked to {slots[t].name}, which has {_rooms(rooms)}")
    by_presenter: dict[str, list[SessionSpec]] = defaultdict(list)
    for s in sessions:
        if s.presenter:
            by_presenter[s.presenter].append(s)
    for presenter, theirs in sorted(by_presenter.items()):
        if len(theirs) < 2:
            continue
        if len(theirs) > len(slots):
            reasons.append(f"{presenter} presents {len(theirs)} breakouts but the day has {len(slots)} slots")
        elif not _distinct_slots_possible([allowed[s.id] for s in theirs]):
            reasons.append(
                f"{presenter} presents {_names(theirs)}, which cannot all be in different slots with their allowed "
                "slots and locks: one person cannot be in two places at once"
            )
    return reasons


def _distinct_slots_possible(options: Sequence[Sequence[int]]) -> bool:
    """Can every item get its own slot from its options (a bipartite matching covering all items)?"""
    return len(_matching(options)) == len(options)


def _matching(options: Sequence[Sequence[int]], order: Sequence[int] | None = None) -> dict[int, int]:
    """A maximal-by-augmenting-paths matching item -> slot, trying items in `order` (greedy by weight is optimal:
    the matchable sets of items form a transversal matroid)."""
    slot_of_item: dict[int, int] = {}
    item_in_slot: dict[int, int] = {}

    def augment(item: int, seen: set[int]) -> bool:
        for t in options[item]:
            if t in seen:
                continue
            seen.add(t)
            if t not in item_in_slot or augment(item_in_slot[t], seen):
                item_in_slot[t] = item
                slot_of_item[item] = t
                return True
        return False

    for item in order if order is not None else range(len(options)):
        augment(item, set())
    return slot_of_item


# --------------------------------------------------------------------------------------------- evaluation


@dataclass
class SlotLoss:
    """People who lose a wanted theme that is offered in this slot, and the worded top reasons."""

    slot_id: Id
    people: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class Evaluation:
    attendees: int
    clash_free: int
    weight: int
    max_weight: int
    losses: list[SlotLoss]
    unoffered: dict[str, int]  # wanted theme with no session -> people who want it
    violations: list[str]

    @property
    def share(self) -> float:
        return self.clash_free / self.attendees if self.attendees else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "attendees": self.attendees,
            "clash_free": self.clash_free,
            "clash_free_share": round(self.share, 4),
            "weight": self.weight,
            "max_weight": self.max_weight,
            "per_slot": [
                {"slot_id": loss.slot_id, "people": loss.people, "reasons": loss.reasons} for loss in self.losses
            ],
            "unoffered": [{"theme": t, "people": n} for t, n in sorted(self.unoffered.items(), key=lambda kv: -kv[1])],
            "violations": self.violations,
        }


def theme_slots(problem: Problem, placement: Placement) -> dict[str, set[int]]:
    position = problem.slot_position()
    slots: dict[str, set[int]] = defaultdict(set)
    for session in problem.sessions:
        slot = placement.get(session.id)
        if slot in position:
            slots[session.theme].add(position[slot])
    return slots


def attended(profile: Profile, slots_of: Mapping[str, set[int]]) -> dict[int, int]:
    """Theme index -> slot position of the best attendable themes of a profile (heaviest first)."""
    order = sorted(range(len(profile.themes)), key=lambda i: (-profile.weights[i], profile.themes[i]))
    options = [sorted(slots_of.get(theme, ())) for theme in profile.themes]
    return _matching(options, order)


def evaluate(problem: Problem, placement: Placement, *, top_reasons: int = 3) -> Evaluation:
    """How good a placement is: clash-free attendees, attendable preference weight, and per slot who loses a wanted
    theme offered there and why ("40 want both 'consent' and 'data linkage', only offered here together")."""
    slots_of = theme_slots(problem, placement)
    clash_free = weight = max_weight = 0
    people = [0] * len(problem.slots)
    why: list[Counter[tuple[str, str]]] = [Counter() for _ in problem.slots]
    unoffered: Counter[str] = Counter()
    for profile in problem.profiles:
        max_weight += sum(profile.weights)
        got = attended(profile, slots_of)
        weight += sum(profile.weights[i] for i in got)
        if len(got) == len(profile.themes):
            clash_free += profile.count
            continue
        blamed: set[int] = set()
        for i, theme in enumerate(profile.themes):
            if i in got:
                continue
            if not slots_of.get(theme):
                unoffered[theme] += profile.count
                continue
            for t in slots_of[theme]:
                blamed.add(t)
                rivals = [profile.themes[j] for j, tt in got.items() if tt == t]
                why[t][(theme, rivals[0] if rivals else "")] += profile.count
        for t in blamed:
            people[t] += profile.count
    losses = []
    for t, slot in enumerate(problem.slots):
        reasons = []
        for (lost, rival), count in sorted(why[t].items(), key=lambda kv: (-kv[1], kv[0]))[:top_reasons]:
            who = f"{count} {'person' if count == 1 else 'people'}"
            reasons.append(
                f"{who} lose {lost!r}: they also want {rival!r}, which is in this slot too"
                if rival
                else f"{who} lose {lost!r}: their other wanted themes leave no slot for it"
            )
        losses.append(SlotLoss(slot.id, people[t], reasons))
    return Evaluation(
        problem.attendees, clash_free, weight, max_weight, losses, dict(unoffered), violations(problem, placement)
    )


def violations(problem: Problem, placement: Placement) -> list[str]:
    """Constraints a placement breaks, in words (empty for a valid timetable)."""
    found: list[str] = []
    position = problem.slot_position()
    by_id = {s.id: s for s in problem.sessions}
    allowed = allowed_slots(problem)
    used: Counter[int] = Counter()
    for session in problem.sessions:
        slot = placement.get(session.id)
        if slot not in position:
            found.append(f"{session.name} has no slot" if slot is None else f"{session.name}: no slot {slot!r}")
            continue
        t = position[slot]
        used[t] += 1
        if t not in allowed[session.id]:
            found.append(f"{session.name} may not be in {problem.slots[t].name} (its window or lock)")
        for ref, same in ((session.same_slot_as, True), (session.not_same_slot_as, False)):
            if ref is None or ref not in by_id or placement.get(ref) is None:
                continue
            if (placement.get(ref) == slot) != same:
                relation = "in the same slot as" if same else "in another slot than"
                found.append(f"{session.name} must be {relation} {by_id[ref].name}")
    for t, count in sorted(used.items()):
        rooms = problem.slots[t].rooms
        if rooms is not None and count > rooms:
            found.append(f"{problem.slots[t].name} has {count} breakouts for {_rooms(rooms)}")
    presenters: dict[tuple[str, Id], list[SessionSpec]] = defaultdict(list)
    for session in problem.sessions:
        if session.presenter and placement.get(session.id) is not None:
            presenters[(session.presenter, placement[session.id])].append(session)
    for (presenter, _slot), theirs in presenters.items():
        if len(theirs) > 1:
            found.append(f"{presenter} would present {_names(theirs)} at the same time")
    return found
