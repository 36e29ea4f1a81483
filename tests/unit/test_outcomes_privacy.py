"""Small-cell suppression of the outcome report: nothing under 5 people shows, and no hidden figure can be
recovered from the visible ones by subtraction, whatever the filters (the cube of every filter combination)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from services.matching.outcomes import domain
from services.matching.outcomes.domain import ALL, Attendee, DayFacts, SurveyAnswer
from services.matching.outcomes.privacy import MIN_CELL, Sum, leaks, suppress

END = datetime(2030, 6, 3, 17, 0, tzinfo=UTC)


def test_a_lone_small_cell_takes_its_smallest_sibling_with_it() -> None:
    values = {"all": 20, "north": 12, "south": 5, "east": 3}
    equations = [Sum("all", ("north", "south", "east"))]
    hidden = suppress(values, equations)
    assert hidden == {"east", "south"}  # south (5) is the smallest visible sibling: 20 - 12 = 8 = south + east
    assert leaks(values, hidden, equations) == []


def test_without_secondary_suppression_the_subtraction_recovers_the_cell() -> None:
    """The check itself can fail: hiding only the primary cell leaks it."""
    values = {"all": 20, "north": 12, "south": 5, "east": 3}
    equations = [Sum("all", ("north", "south", "east"))]
    assert leaks(values, {"east"}, equations) == ["east"]


def test_zero_counts_are_hidden_too() -> None:
    assert suppress({"a": 0, "b": 7}, []) == {"a"}


def test_a_chain_of_equations_is_closed_as_a_whole() -> None:
    # Two dimensions: rows sum to row totals, columns to column totals, all to the grand total.
    values = {("r1", "c1"): 10, ("r1", "c2"): 2, ("r2", "c1"): 9, ("r2", "c2"): 8}
    values |= {("r1", "*"): 12, ("r2", "*"): 17, ("*", "c1"): 19, ("*", "c2"): 10, ("*", "*"): 29}
    equations = [
        Sum(("r1", "*"), (("r1", "c1"), ("r1", "c2"))),
        Sum(("r2", "*"), (("r2", "c1"), ("r2", "c2"))),
        Sum(("*", "c1"), (("r1", "c1"), ("r2", "c1"))),
        Sum(("*", "c2"), (("r1", "c2"), ("r2", "c2"))),
        Sum(("*", "*"), (("r1", "*"), ("r2", "*"))),
        Sum(("*", "*"), (("*", "c1"), ("*", "c2"))),
    ]
    hidden = suppress(values, equations)
    assert ("r1", "c2") in hidden and leaks(values, hidden, equations) == []
    assert all(values[c] >= MIN_CELL for c in values if c not in hidden)


def _random_day(seed: int) -> DayFacts:
    rng = random.Random(seed)
    regions = ["North", "South", "East", "West", ""][: rng.randint(1, 5)]
    orgs = [f"Org {i}" for i in range(rng.randint(2, 12))]
    people = [
        Attendee(user_id=u, organisation=rng.choice(orgs), region=rng.choice(regions), first_time=rng.random() < 0.4)
        for u in range(1, rng.randint(3, 60))
    ]
    ids = [a.user_id for a in people]

    def some(p: float) -> set[int]:
        return {u for u in ids if rng.random() < p}

    contacts = {frozenset(rng.sample(ids, 2)) for _ in range(rng.randint(0, 80))} if len(ids) > 1 else set()
    return DayFacts(
        ended_at=END,
        attendees=people,
        posters_viewed={u: rng.randint(0, 6) for u in ids},
        booked_chat=some(0.4),
        held_chat=some(0.3),
        noted_followup=some(0.2),
        placed_breakout=some(0.7),
        coffee_opted_in=some(0.5),
        coffee_accepted=some(0.3),
        coffee_held=some(0.2),
        survey=[
            SurveyAnswer(u, rng.random() < 0.5, rng.random() < 0.3, END + timedelta(days=rng.randint(0, 30)))
            for u in some(0.5)
        ],
        contacts=contacts,
        known_before={p for p in contacts if rng.random() < 0.2},
        breakouts={f"b{i}": rng.sample(ids, min(len(ids), rng.randint(1, 15))) for i in range(rng.randint(0, 5))},
    )


@pytest.mark.parametrize("seed", range(8))
def test_no_filter_combination_shows_or_gives_away_a_small_cell(seed: int) -> None:
    facts = _random_day(seed)
    values, hidden = domain.suppressed_cube(facts)
    assert all(v >= MIN_CELL for k, v in values.items() if k not in hidden)
    assert all(k in hidden for k, v in values.items() if v < MIN_CELL)
    assert leaks(values, hidden, domain.cube_equations(facts)) == []


@pytest.mark.parametrize("seed", range(8))
def test_the_overall_tables_hide_small_cells_without_leaks(seed: int) -> None:
    facts = _random_day(seed)
    for table in (domain.contacts_table(facts), domain.survey_table(facts)):
        for label, row in table.rows:
            for column in table.columns:
                assert (label, column) in table.hidden or row[column] >= MIN_CELL
        values = {(label, c): row[c] for label, row in table.rows for c in table.columns}
        if table.columns == ("new", "already_known", "total"):
            eqs = [Sum(("contacts", "total"), (("contacts", "new"), ("contacts", "already_known")))]
        else:
            eqs = [Sum(("all weeks", c), tuple((lbl, c) for lbl, _ in table.rows[:-1])) for c in table.columns]
        assert leaks(values, table.hidden, eqs) == []
    breakouts = domain.breakouts_table(facts)
    for label, row in breakouts.rows:
        if row["people"] < MIN_CELL:
            assert {(label, c) for c in breakouts.columns} <= breakouts.hidden


def test_the_funnel_counts_people_by_the_report_s_definitions() -> None:
    people = [Attendee(u, f"Org {u % 3}", "North", first_time=u <= 4) for u in range(1, 13)]
    facts = DayFacts(
        ended_at=END,
        attendees=people,
        posters_viewed={1: 3, 2: 2, 3: 5},  # 1 and 3 viewed at least 3 posters
        held_chat={4, 5},
        placed_breakout={6},
        survey=[
            SurveyAnswer(1, True, False, END),
            SurveyAnswer(2, False, False, END),
            SurveyAnswer(7, False, True, END),
        ],
        contacts={frozenset((1, 2)), frozenset((1, 5)), frozenset((3, 6))},  # 1-2 and 1-5: other organisations
        known_before={frozenset((3, 6))},
    )
    values = domain.cube(facts)
    everyone = (ALL, ALL, ALL)
    assert values[(everyone, "registered")] == 12
    assert values[(everyone, "active")] == 5  # 1, 3 (posters), 4, 5 (chats), 6 (breakout)
    assert values[(everyone, "followed_up")] == 2  # 1 contacted someone, 7 adopted something
    assert values[(everyone, "new_contacts_1-2")] == 3  # 1 (two), 2 and 5 (one each)
    assert values[(everyone, "met_someone_known")] == 2  # 3 and 6 met again
    assert values[((ALL, "first_time", ALL), "registered")] == 4
    bins = sum(values[(everyone, f"new_contacts_{n}")] for n, _, _ in domain.CONTACT_BINS)
    assert bins == 12


def test_every_slice_of_the_cube_is_a_filter_combination_the_page_offers() -> None:
    facts = _random_day(3)
    options = domain.dimension_values(facts)
    expected = set(itertools.product(*[[ALL, *options[d]] for d in domain.DIMENSIONS]))
    assert {s for s, _ in domain.cube(facts)} == expected
