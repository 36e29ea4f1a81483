"""`make simulate` (services/matching/simulation.py, scripts/simulate.py): a small generated day run through the real
domain code (registration, set-up checks, the solver, the first-come baseline, chat slot rules, coffee pairing);
exactly three lines in the contract's format, in order; the solver ahead of the baselines on this day; no coffee
pair repeated; the same lines for the same seed, in another process with another hash seed too."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from services.matching.assignment.domain import violations
from services.matching.chat_slots.domain import cells
from services.matching.simulation import (
    MAX_ROOM,
    STRATEGIES,
    THEMES,
    Options,
    Outcome,
    generate_day,
    lines,
    random_assignment,
    simulate,
    tables,
)

ROOT = Path(__file__).resolve().parents[2]
SMALL = Options(attendees=60, organisations=12, seed=4)
LINE = re.compile(
    r"^(solver|random|first_come) top3_every_slot=(\d\.\d\d) new_crossorg_per_attendee=(\d+\.\d) repeated_pairs=(\d+)$"
)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return simulate(SMALL)


def test_the_cli_prints_exactly_three_lines_in_order(outcomes: list[Outcome]) -> None:
    args = ["--attendees", "60", "--organisations", "12", "--seed", "4", "--coffee-rounds", "3"]
    env = os.environ | {"PYTHONHASHSEED": "12345"}  # string hashing differs from this process's
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "simulate.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert len(printed) == 3, done.stdout
    assert [LINE.match(line).group(1) for line in printed] == ["solver", "random", "first_come"]  # type: ignore[union-attr]
    assert done.stdout == lines(outcomes) + "\n"  # deterministic across processes
    assert "day: 60 attendees" in done.stderr  # diagnostics go to stderr


def test_solver_is_ahead_of_the_baselines_and_repeats_no_coffee_pair(outcomes: list[Outcome]) -> None:
    by_name = {o.strategy: o for o in outcomes}
    assert [o.strategy for o in outcomes] == list(STRATEGIES)
    solver, rnd, first_come = by_name["solver"], by_name["random"], by_name["first_come"]
    assert solver.top3_every_slot >= rnd.top3_every_slot
    assert solver.top3_every_slot >= first_come.top3_every_slot
    assert solver.diagnostics["preference"] >= first_come.diagnostics["preference"]  # the solver's own objective
    assert solver.repeated_pairs == 0
    assert all(o.repeated_pairs == 0 for o in outcomes)  # every line pairs coffee with the real domain code
    assert solver.diagnostics["rule_breaks"] == 0 and solver.diagnostics["left_out"] == 0
    for o in outcomes:
        # With 3 slots "top-3 in every slot" is evaluate's perfect_day (and got_top3).
        assert o.top3_every_slot == pytest.approx(o.diagnostics["perfect_day"], abs=1e-3)
        parts = [o.diagnostics[k] for k in ("from_tables", "from_chats", "from_coffee")]
        assert max(parts) - 0.05 <= o.new_crossorg_per_attendee <= sum(parts) + 0.15
        assert o.new_crossorg_per_attendee <= o.diagnostics["room_crossorg_per_attendee"] + 0.05
        assert LINE.match(o.line())


def test_deterministic_for_a_seed(outcomes: list[Outcome]) -> None:
    again = simulate(SMALL)
    assert lines(again) == lines(outcomes)
    assert [o.diagnostics | {"seconds": 0, "seconds_assignment": 0} for o in again] == [
        o.diagnostics | {"seconds": 0, "seconds_assignment": 0} for o in outcomes
    ]
    other = generate_day(Options(attendees=60, organisations=12, seed=5))
    assert other.people != generate_day(SMALL).people


def test_the_default_day_is_realistic() -> None:
    day = generate_day(Options())
    n = len(day.people)
    assert n == 300
    assert len(day.thesaurus.themes) == len(THEMES) == 14
    sizes = Counter(p.organisation for p in day.people)
    assert len(sizes) == 40 and max(sizes.values()) >= 5 * min(sizes.values())  # uneven organisations
    assert len({p.region for p in day.people}) == 6
    assert all(3 <= len(p.ranking) <= 5 and len(set(p.ranking)) == len(p.ranking) for p in day.people)
    assert {t for p in day.people for t in p.ranking} <= set(day.thesaurus.names())  # synonyms were folded
    demand = Counter(t for p in day.people for t in p.ranking[:3])
    assert max(demand.values()) >= 4 * min(demand.values())  # popular and niche themes
    org = day.org_of
    assert day.known and all(org[a] != org[b] for a, b in day.known)  # cross-organisation acquaintances
    # Breakouts: places per slot ~10 % above the attendees, several breakouts for a popular theme.
    for slot in day.instance.slots:
        places = sum(b.capacity for b in slot.breakouts)
        assert 1.1 * n <= places <= 1.25 * n
        assert all(b.capacity <= MAX_ROOM + 3 for b in slot.breakouts)
    per_theme = Counter(b.theme for _, b in day.instance.breakouts())
    assert per_theme[demand.most_common(1)[0][0]] >= 6
    # Chats: booked on the booker's themes, nobody double-booked, never one's own.
    assert day.bookings
    slot_of = {s.id: s for s in day.chat_slots}
    busy: dict[int, list[int]] = defaultdict(list)
    for s in day.chat_slots:
        busy[s.author_id] += cells(s.times.starts_at, s.times.ends_at)
    ranking = {p.user_id: p.ranking for p in day.people}
    for slot_id, attendee in day.bookings:
        slot = slot_of[slot_id]
        assert slot.author_id != attendee and set(slot.project_themes) & set(ranking[attendee])
        busy[attendee] += slot.times.cells
    assert all(len(c) == len(set(c)) for c in busy.values())
    assert len(day.coffee_rounds) == 3
    assert all(0.6 * n <= len(ids) <= 0.8 * n for ids in day.coffee_opt_ins)


def test_tables_mix_organisations_and_partition_the_breakout() -> None:
    org = {i: f"org {i % 3}" if i < 12 else f"org {i}" for i in range(1, 23)}
    made = tables(list(org), org, 5, random.Random(1))
    assert sorted(x for t in made for x in t) == sorted(org)
    assert len(made) == 5 and {len(t) for t in made} <= {4, 5}
    for t in made:  # 4 people per big organisation over 5 tables: never two at one table
        assert max(Counter(org[x] for x in t).values()) == 1


def test_random_assignment_keeps_the_rules_when_the_day_allows() -> None:
    day = generate_day(Options())  # 10 % spare places per theme: room for a random choice that keeps the rules
    assignment = random_assignment(day.instance, seed=3)
    assert violations(day.instance, assignment) == []
    assert assignment == random_assignment(day.instance, seed=3)
    small = generate_day(SMALL)  # tighter: it may repeat a theme or pass a cap, never overfill a breakout
    problems = violations(small.instance, random_assignment(small.instance, seed=3))
    assert not [p for p in problems if "capacity" in p or "breakouts for" in p]
