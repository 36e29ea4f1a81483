"""Random coffee pairing (services/matching/coffee/domain.py), pure: maximum-weight matching that prefers other
organisations and people not met before, never repeats a pair within a day, gives one trio for an odd number,
explains an unreachable minimum cross-organisation share in words, and is the same for the same seed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from services.matching.coffee.domain import (
    Group,
    Person,
    RoundError,
    best_cross_org_groups,
    pair,
    pair_key,
    pairs_of,
    plan_round,
)


def _people(orgs: list[str]) -> list[Person]:
    return [Person(i + 1, org) for i, org in enumerate(orgs)]


def _check_partition(groups: tuple[Group, ...], unpaired: tuple[int, ...], people: list[Person]) -> None:
    seen = [u for g in groups for u in g.user_ids] + list(unpaired)
    assert sorted(seen) == sorted(p.user_id for p in people)  # everyone once


def test_no_pair_repeats_within_a_day_over_several_rounds() -> None:
    rng = random.Random(5)
    people = _people([f"org {rng.randrange(6)}" for _ in range(40)])
    made: set[tuple[int, int]] = set()
    for round_number in range(8):
        result = pair(people, forbidden=made, seed=round_number)
        _check_partition(result.groups, result.unpaired, people)
        assert result.unpaired == ()  # 40 people, 8 rounds: plenty of new pairs left
        pairs = {p for g in result.groups for p in pairs_of(g.user_ids)}
        assert not pairs & made
        made |= pairs
    assert len(made) == 8 * 20


def test_an_odd_number_gives_exactly_one_trio() -> None:
    for count in (3, 5, 7, 21):
        people = _people([f"org {i % 3}" for i in range(count)])
        result = pair(people, seed=1)
        sizes = sorted(len(g.user_ids) for g in result.groups)
        assert sizes == [2] * (count // 2 - 1) + [3] and result.unpaired == ()
    even = pair(_people(["a", "b", "c", "d"]), seed=1)
    assert [len(g.user_ids) for g in even.groups] == [2, 2]


def test_one_person_or_nobody_cannot_be_paired() -> None:
    assert pair([Person(1, "a")]).unpaired == (1,) and pair([]).groups == ()
    assert pair([]).shortfall is None and pair([]).share is None


def test_other_organisations_are_preferred() -> None:
    people = _people(["NHS"] * 10 + ["University"] * 6 + ["Council"] * 4)
    result = pair(people, seed=3)
    assert result.cross_org_groups == 10 == result.best_possible  # the largest organisation is half: all mixed
    # with organisation names compared case- and space-blind
    blind = pair(_people(["NHS  Trust", "nhs trust", "Uni", "uni "]), seed=3)
    assert all(g.cross_org for g in blind.groups)
    assert {frozenset(g.user_ids) for g in blind.groups} & {frozenset({1, 2}), frozenset({3, 4})} == set()


def test_cross_organisation_beats_random_pairing_on_a_skewed_day() -> None:
    rng = random.Random(11)
    orgs = ["Big Trust"] * 120 + [f"org {rng.randrange(30)}" for _ in range(280)]
    people = _people(orgs)
    ours = pair(people, seed=1, block_size=100)  # blocks: the path large rounds take
    shuffled = [p.user_id for p in people]
    rng.shuffle(shuffled)
    org = {p.user_id: p.organisation for p in people}
    random_cross = sum(org[a] != org[b] for a, b in zip(shuffled[::2], shuffled[1::2], strict=True))
    assert ours.cross_org_groups >= 0.98 * ours.best_possible
    assert ours.cross_org_groups > random_cross


def test_people_who_met_before_are_paired_only_when_nothing_better_is_left() -> None:
    people = _people(["a", "b", "c", "d"])
    met = {(1, 2), (3, 4)}
    for seed in range(10):
        result = pair(people, met=met, seed=seed)
        assert not {pair_key(*g.user_ids) for g in result.groups} & met
        assert all(g.new for g in result.groups)
    # only met pairs are left: they are made (and flagged as not new) rather than nobody meeting
    forced = pair(people, met=met, forbidden={(1, 3), (1, 4)}, seed=0)
    assert {g.user_ids for g in forced.groups} == {(1, 2), (3, 4)} and not any(g.new for g in forced.groups)


def test_an_unreachable_minimum_share_is_explained_with_the_numbers() -> None:
    people = _people(["NHS"] * 14 + ["Uni", "Uni", "Council", "Council", "Charity", "Charity"])
    result = pair(people, seed=2, min_cross_org_share=0.8)
    assert result.best_possible == 6 and result.cross_org_groups == 6 and len(result.groups) == 10
    assert result.shortfall == (
        "The minimum share of cross-organisation pairs is 80% (8 of 10 pairs), but at most 6 of the 10 pairs "
        "(60%) can be across organisations: 14 of the 20 people who opted in are from the same organisation."
    )
    assert pair(people, seed=2, min_cross_org_share=0.6).shortfall is None
    assert best_cross_org_groups(people) == (6, 14)


def test_a_minimum_missed_because_of_repeats_is_explained_too() -> None:
    people = _people(["a", "a", "b", "b"])
    cross_pairs = {(1, 3), (1, 4), (2, 3), (2, 4)}
    # only 1-3 is still allowed across organisations; taking it would leave 2 and 4 (already paired today)
    # without coffee: everyone paired comes first, so both pairs are within an organisation
    result = pair(people, forbidden=cross_pairs - {(1, 3)}, seed=0, min_cross_org_share=1.0)
    assert {g.user_ids for g in result.groups} == {(1, 2), (3, 4)} and result.cross_org_groups == 0
    blocked = pair(people, forbidden=cross_pairs, seed=0, min_cross_org_share=1.0)
    assert blocked.cross_org_groups == 0 and blocked.best_possible == 2
    assert blocked.shortfall is not None and blocked.shortfall.startswith(
        "This pairing has 0 of 2 pairs (0%) across organisations, below the minimum of 100% (2 of 2 pairs)"
    )


def test_the_same_seed_gives_the_same_pairing_whatever_the_input_order() -> None:
    rng = random.Random(9)
    people = _people([f"org {rng.randrange(5)}" for _ in range(61)])
    met = {pair_key(rng.randrange(1, 62), rng.randrange(1, 62)) for _ in range(40)}
    first = pair(people, met=met, seed=123)
    reordered = list(reversed(people))
    assert pair(reordered, met=met, seed=123) == first
    assert pair(people, met=met, seed=123, block_size=20) == pair(reordered, met=met, seed=123, block_size=20)
    others = {pair(people, met=met, seed=s).groups for s in range(5)}
    assert len(others) > 1  # a different seed: another draw among equally good pairings


def test_large_rounds_in_blocks_pair_everyone_without_repeats() -> None:
    rng = random.Random(4)
    people = _people([f"org {min(int(rng.paretovariate(1.3)), 40)}" for _ in range(601)])
    made: set[tuple[int, int]] = set()
    for round_number in range(3):
        result = pair(people, forbidden=made, seed=round_number, block_size=64)
        _check_partition(result.groups, result.unpaired, people)
        assert result.unpaired == () and sum(len(g.user_ids) == 3 for g in result.groups) == 1
        pairs = {p for g in result.groups for p in pairs_of(g.user_ids)}
        assert not pairs & made
        made |= pairs


def test_the_trio_never_repeats_a_pair_either() -> None:
    people = _people(["a", "b", "c"])
    result = pair(people, forbidden={(1, 2)}, seed=0)
    made = {p for g in result.groups for p in pairs_of(g.user_ids)}
    assert (1, 2) not in made and len(result.unpaired) == 1  # 1-3 or 2-3 meet; the third cannot join them
    assert pair(people, seed=0, allow_trio=False).unpaired != ()


def test_pairs_of_a_trio() -> None:
    assert pairs_of((3, 1, 2)) == [(1, 3), (2, 3), (1, 2)]
    assert list(combinations((1, 2, 3), 2)) == sorted(pairs_of((1, 2, 3)))


# --- a round's time -------------------------------------------------------------------------------------------
DAY_START = datetime(2030, 6, 3, 8, tzinfo=UTC)
DAY_END = datetime(2030, 6, 3, 17, tzinfo=UTC)
NOW = datetime(2030, 6, 1, tzinfo=UTC)


def test_a_round_fits_in_the_day() -> None:
    start = datetime(2030, 6, 3, 10, tzinfo=UTC)
    assert plan_round(start, 15, DAY_START, DAY_END, NOW) == (start, start + timedelta(minutes=15))


@pytest.mark.parametrize(
    ("start", "minutes", "field"),
    [
        (datetime(2030, 6, 3, 10, tzinfo=UTC), 4, "minutes"),
        (datetime(2030, 6, 3, 10, tzinfo=UTC), 121, "minutes"),
        (datetime(2030, 6, 3, 7, 55, tzinfo=UTC), 15, "starts_at"),
        (datetime(2030, 6, 3, 16, 50, tzinfo=UTC), 15, "starts_at"),
        (datetime(2030, 5, 31, 10, tzinfo=UTC), 15, "starts_at"),
    ],
)
def test_a_round_outside_the_day_or_in_the_past_is_refused(start: datetime, minutes: int, field: str) -> None:
    day_start = DAY_START if start.day == 3 else datetime(2030, 5, 31, 8, tzinfo=UTC)
    with pytest.raises(RoundError) as refused:
        plan_round(start, minutes, day_start, DAY_END, NOW)
    assert refused.value.field == field
