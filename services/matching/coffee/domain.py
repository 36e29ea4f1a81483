"""Random coffee pairing as a maximum-weight matching (networkx's blossom algorithm). Pure: no Flask, no database.

The graph has one node per person who opted in and an edge for every pair that may meet: a pair already put
together in a coffee of the same day (`forbidden`) has no edge, so it can never be repeated. Edge weights are
integers:

    BASE + CROSS_ORG (different organisations) + NEW (never met: chats, earlier coffees, breakouts) + jitter

with CROSS_ORG > NEW, so a cross-organisation pair beats a same-organisation one and, between equals, people who
have not met win. `max_weight_matching(maxcardinality=True)` first pairs as many people as the forbidden pairs
allow, then maximises the weight; `jitter` (0..JITTER-1, drawn from `seed`) picks among equally good pairings, so a
run is random-looking yet the same for the same seed.

Large rounds (more than `block_size` people) are cut into blocks of similar organisation mix (each organisation
dealt round-robin over the blocks), each block matched exactly on its complete graph, then the few left over
(odd blocks, forbidden pairs) matched together. A person still alone joins the group where they add most, as the
round's one trio; anyone after that stays unpaired (everyone left has already been paired with them today).

The cross-organisation share counts groups (a pair, or the trio) with more than one organisation among them. The
most any pairing can reach is min(groups, people outside the largest organisation); `shortfall` says in words,
with the numbers, when the organiser's minimum is out of reach or this pairing missed it.
"""

from __future__ import annotations

import gc
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import networkx as nx

BASE = 100
CROSS_ORG = 1000
NEW = 300
JITTER = 50
BLOCK_SIZE = 160  # exact matching on a complete graph of this many takes well under a second

MIN_MINUTES, MAX_MINUTES = 5, 120

Pair = tuple[int, int]


def pair_key(a: int, b: int) -> Pair:
    return (a, b) if a < b else (b, a)


def org_key(organisation: str) -> str:
    """Organisations compare case- and space-blind ("NHS  Digital" == "nhs digital")."""
    return " ".join(organisation.casefold().split())


@dataclass(frozen=True)
class Person:
    user_id: int
    organisation: str


@dataclass(frozen=True)
class Group:
    user_ids: tuple[int, ...]  # 2, or 3 for the trio; ascending
    cross_org: bool  # more than one organisation in the group
    new: bool  # no two members met before


@dataclass(frozen=True)
class Pairing:
    groups: tuple[Group, ...]
    unpaired: tuple[int, ...]
    minimum: float  # the organiser's minimum cross-organisation share, 0..1
    best_possible: int  # the most cross-organisation groups any pairing of these people could have
    largest_organisation: int  # people in the largest organisation

    @property
    def cross_org_groups(self) -> int:
        return sum(g.cross_org for g in self.groups)

    @property
    def share(self) -> float | None:
        return self.cross_org_groups / len(self.groups) if self.groups else None

    @property
    def needed(self) -> int:
        """Cross-organisation groups the minimum asks for."""
        return math.ceil(self.minimum * len(self.groups) - 1e-9)

    @property
    def shortfall(self) -> str | None:
        """Why the minimum is not met, in words with the numbers; None when it is."""
        total = len(self.groups)
        if not total or self.cross_org_groups >= self.needed:
            return None
        minimum = f"{_percent(self.minimum)} ({self.needed} of {total} {_pairs(total)})"
        if self.best_possible < self.needed:
            people = sum(len(g.user_ids) for g in self.groups) + len(self.unpaired)
            return (
                f"The minimum share of cross-organisation pairs is {minimum}, but at most {self.best_possible} of "
                f"the {total} {_pairs(total)} ({_percent(self.best_possible / total)}) can be across organisations: "
                f"{self.largest_organisation} of the {people} people who opted in are from the same organisation."
            )
        return (
            f"This pairing has {self.cross_org_groups} of {total} {_pairs(total)} "
            f"({_percent(self.cross_org_groups / total)}) across organisations, below the minimum of {minimum}: "
            "most people from other organisations have already been paired with them today, and pairs are never "
            "repeated within a day."
        )


def _percent(share: float) -> str:
    return f"{round(share * 100)}%"


def _pairs(count: int) -> str:
    return "pair" if count == 1 else "pairs"


def best_cross_org_groups(people: Sequence[Person]) -> tuple[int, int]:
    """(the most cross-organisation groups any pairing can have, the largest organisation's head count).

    Every cross-organisation group holds someone outside the largest organisation, so there are at most that
    many; when the largest organisation is at most half, every group can be mixed."""
    if len(people) < 2:
        return 0, len(people)
    sizes: dict[str, int] = defaultdict(int)
    for person in people:
        sizes[org_key(person.organisation)] += 1
    largest = max(sizes.values())
    return min(len(people) // 2, len(people) - largest), largest


class _Graph:
    """Weights of the pairs that may meet."""

    def __init__(self, people: Sequence[Person], forbidden: set[Pair], met: set[Pair], rng: random.Random) -> None:
        self.org = {p.user_id: org_key(p.organisation) for p in people}
        self.forbidden = forbidden
        self.met = met
        self.rng = rng
        self.matched_blocks = 0

    def allowed(self, a: int, b: int) -> bool:
        return a != b and pair_key(a, b) not in self.forbidden

    def value(self, a: int, b: int) -> int:
        """The weight without jitter: what a pair is worth."""
        return BASE + (CROSS_ORG if self.org[a] != self.org[b] else 0) + (0 if pair_key(a, b) in self.met else NEW)

    def match(self, ids: Sequence[int]) -> tuple[list[Pair], list[int]]:
        """Exact maximum-weight, maximum-cardinality matching of `ids` on their complete graph."""
        graph = nx.Graph()
        graph.add_nodes_from(ids)
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if self.allowed(a, b):
                    # whole numbers as floats: exact (the algorithm only halves them), and networkx skips its
                    # integer-only self-check, a sixth of the time
                    graph.add_edge(a, b, weight=float(self.value(a, b) + self.rng.randrange(JITTER)))
        matched = nx.max_weight_matching(graph, maxcardinality=True)
        del graph
        self.matched_blocks += 1
        if self.matched_blocks % 8 == 0:  # the blossom algorithm leaves reference cycles: free them every few blocks
            gc.collect()
        pairs = sorted(pair_key(a, b) for a, b in matched)
        paired = {x for p in pairs for x in p}
        return pairs, [x for x in ids if x not in paired]


def _blocks(ids: Sequence[int], org: dict[int, str], size: int, rng: random.Random) -> list[list[int]]:
    """Cut `ids` into blocks of at most about `size`, each with the same organisation mix: people of each
    organisation (largest first, shuffled within) are dealt round-robin over the blocks."""
    count = math.ceil(len(ids) / size)
    by_org: dict[str, list[int]] = defaultdict(list)
    for x in ids:
        by_org[org[x]].append(x)
    blocks: list[list[int]] = [[] for _ in range(count)]
    at = 0
    for key in sorted(by_org, key=lambda k: (-len(by_org[k]), k)):
        members = by_org[key]
        rng.shuffle(members)
        for x in members:
            blocks[at % count].append(x)
            at += 1
    return blocks


def _match_all(graph: _Graph, ids: list[int], size: int) -> tuple[list[Pair], list[int]]:
    if len(ids) <= size:
        return graph.match(ids)
    pairs: list[Pair] = []
    left: list[int] = []
    for block in _blocks(ids, graph.org, size, graph.rng):
        found, alone = graph.match(block)
        pairs += found
        left += alone
    if len(left) >= 2 and len(left) < len(ids):
        found, left = _match_all(graph, sorted(left), size)
        pairs += found
    return pairs, left


def _trio(graph: _Graph, groups: list[list[int]], alone: list[int]) -> tuple[int, int] | None:
    """(who, into which group) makes the best trio: both new pairs allowed, most value added; None if none."""
    best: tuple[int, int, int] | None = None  # (-value, group index, person)
    for person in alone:
        for index, group in enumerate(groups):
            if len(group) != 2 or not all(graph.allowed(person, m) for m in group):
                continue
            candidate = (-sum(graph.value(person, m) for m in group), index, person)
            if best is None or candidate < best:
                best = candidate
    return None if best is None else (best[2], best[1])


def pair(
    people: Iterable[Person],
    *,
    forbidden: Iterable[Pair] = (),
    met: Iterable[Pair] = (),
    seed: int = 0,
    min_cross_org_share: float = 0.0,
    allow_trio: bool = True,
    block_size: int = BLOCK_SIZE,
) -> Pairing:
    """Pair `people` (each user id once; the input order does not matter). `forbidden`: pairs that must not be
    made (already paired today); `met`: pairs who met before (chats, earlier coffees, breakouts), made only when
    nothing better is left. The same input and seed always give the same pairing."""
    unique = {p.user_id: p for p in people}
    ordered = [unique[k] for k in sorted(unique)]
    rng = random.Random(seed)
    graph = _Graph(ordered, {pair_key(*p) for p in forbidden}, {pair_key(*p) for p in met}, rng)
    ids = [p.user_id for p in ordered]
    rng.shuffle(ids)  # which of equal candidates meet depends on the seed, not on user ids
    pairs, alone = _match_all(graph, ids, max(block_size, 4))
    groups = [list(p) for p in pairs]
    if allow_trio and alone:
        found = _trio(graph, groups, alone)
        if found is not None:
            person, index = found
            groups[index].append(person)
            alone.remove(person)
    best, largest = best_cross_org_groups(ordered)
    made = tuple(
        sorted(
            (
                Group(
                    tuple(sorted(g)),
                    len({graph.org[x] for x in g}) > 1,
                    not any(pair_key(a, b) in graph.met for i, a in enumerate(g) for b in g[i + 1 :]),
                )
                for g in groups
            ),
            key=lambda g: g.user_ids,
        )
    )
    return Pairing(made, tuple(sorted(alone)), min_cross_org_share, best, largest)


def pairs_of(group: Sequence[int]) -> list[Pair]:
    """Every pair within a group (one for a pair, three for a trio)."""
    return [pair_key(a, b) for i, a in enumerate(group) for b in group[i + 1 :]]


# --- a round's time -------------------------------------------------------------------------------------------
class RoundError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def plan_round(
    starts_at: datetime, minutes: int, day_starts: datetime, day_ends: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """(starts, ends) of a round: MIN_MINUTES..MAX_MINUTES long, inside the insight day, not started yet. All
    times aware."""
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise RoundError("minutes", f"must be between {MIN_MINUTES} and {MAX_MINUTES} minutes")
    ends_at = starts_at + timedelta(minutes=minutes)
    if starts_at < day_starts or ends_at > day_ends:
        raise RoundError("starts_at", "the round must start and end within the insight day")
    if starts_at <= now:
        raise RoundError("starts_at", "must be in the future")
    return starts_at, ends_at
