"""Coffee pairing for 5,000 opt-ins over 5 rounds: 0 repeats, share of cross-organisation pairs, time, peak memory;
the matching (services/matching/coffee/domain.py: networkx max_weight_matching in blocks of similar organisation
mix) side by side with a random pairing baseline, in one run.

The day: 5,000 people from 150 organisations with skewed sizes (the largest about a third of everyone, as when one
trust sends a big delegation), and 10,000 pairs who already met in chats. Five rounds on the same day: each round
may not repeat a pair made earlier that day (the matching gets them as `forbidden`; the random baseline ignores
them, as a shuffle does). Per method: repeated pairs, the share of cross-organisation pairs (against the most any
pairing could reach: min(pairs, people outside the largest organisation)), pairs who had not met before, time per
round (wall clock and CPU: the machine may be shared), and peak memory = peak resident set size (ru_maxrss) of a
fresh process that built the day and paired all rounds (so it includes the interpreter and networkx).

    .venv/bin/python bench/bench_coffee.py [--people 5000] [--rounds 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ORGANISATIONS = 150
MET_PAIRS = 10_000


def make_day(people: int, seed: int) -> tuple[list[tuple[int, str]], set[tuple[int, int]]]:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(ORGANISATIONS)]
    weights[0] *= 1.6  # one big delegation
    orgs = rng.choices([f"Organisation {i}" for i in range(ORGANISATIONS)], weights=weights, k=people)
    met: set[tuple[int, int]] = set()
    while len(met) < MET_PAIRS:
        a, b = rng.sample(range(1, people + 1), 2)
        met.add((min(a, b), max(a, b)))
    return [(i + 1, org) for i, org in enumerate(orgs)], met


def _random_pairing(ids: list[int], rng: random.Random) -> list[tuple[int, ...]]:
    shuffled = list(ids)
    rng.shuffle(shuffled)
    groups = [tuple(shuffled[i : i + 2]) for i in range(0, len(shuffled) - 1, 2)]
    if len(shuffled) % 2:
        groups[-1] = groups[-1] + (shuffled[-1],)  # the odd one joins the last pair: one trio
    return groups


def run(method: str, people: int, rounds: int, seed: int) -> dict[str, object]:
    """In this (fresh) process: build the day, pair every round, measure."""
    from services.matching.coffee.domain import Person, best_cross_org_groups, pair, pairs_of

    day, met = make_day(people, seed)
    org = dict(day)
    persons = [Person(u, o) for u, o in day]
    best, largest = best_cross_org_groups(persons)
    made: set[tuple[int, int]] = set()
    rng = random.Random(seed + 1)
    per_round = []
    for number in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        if method == "matching":
            result = pair(persons, forbidden=made, met=met, seed=seed * 100 + number)
            groups = [g.user_ids for g in result.groups]
            unpaired = len(result.unpaired)
        else:
            groups = _random_pairing([u for u, _ in day], rng)
            unpaired = 0
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        pairs = [p for g in groups for p in pairs_of(sorted(g))]
        repeats = sum(p in made for p in pairs)
        made |= set(pairs)
        per_round.append(
            {
                "groups": len(groups),
                "trios": sum(len(g) == 3 for g in groups),
                "unpaired": unpaired,
                "repeats": repeats,
                "cross_org": sum(len({org[u] for u in g}) > 1 for g in groups),
                "new": sum(not any(p in met for p in pairs_of(sorted(g))) for g in groups),
                "seconds": seconds,
                "cpu": cpu,
            }
        )
    return {
        "method": method,
        "people": people,
        "largest": largest,
        "best_cross_org": best,
        "rounds": per_round,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _in_fresh_process(method: str, args: argparse.Namespace) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", method, "--people", str(args.people), "--rounds", str(args.rounds)]
        + ["--seed", str(args.seed)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", choices=("matching", "random"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one, args.people, args.rounds, args.seed)))
        return

    results = {m: _in_fresh_process(m, args) for m in ("matching", "random")}
    first = results["matching"]
    print(
        f"Coffee pairing for {args.people:,} opt-ins over {args.rounds} rounds of one day "
        f"({ORGANISATIONS} organisations, the largest {first['largest']:,} people = "
        f"{_pct(first['largest'], args.people)}; {MET_PAIRS:,} pairs met before in chats)"
    )
    print(f"most cross-organisation pairs any pairing can have per round: {first['best_cross_org']:,}")
    print()
    header = f"{'round':>5}  {'method':<9} {'pairs':>6} {'trios':>5} {'alone':>5} {'repeats':>7} "
    header += f"{'cross-org':>9} {'share':>7} {'new':>7} {'seconds':>8}"
    print(header)
    for number in range(args.rounds):
        for method, result in results.items():
            r = result["rounds"][number]  # type: ignore[index]
            print(
                f"{number + 1:>5}  {method:<9} {r['groups']:>6,} {r['trios']:>5} {r['unpaired']:>5} {r['repeats']:>7} "
                f"{r['cross_org']:>9,} {_pct(r['cross_org'], r['groups']):>7} {_pct(r['new'], r['groups']):>7} "
                f"{r['seconds']:>8.2f}"
            )
    print()
    print(f"{'over all rounds':<26} {'matching':>14} {'random':>14}")
    totals: dict[str, dict[str, float]] = {}
    for method, result in results.items():
        rounds = result["rounds"]  # type: ignore[assignment]
        groups = sum(r["groups"] for r in rounds)
        totals[method] = {
            "repeats": sum(r["repeats"] for r in rounds),
            "share": sum(r["cross_org"] for r in rounds) / groups,
            "bound": sum(r["cross_org"] for r in rounds) / (first["best_cross_org"] * len(rounds)),  # type: ignore[operator]
            "new": sum(r["new"] for r in rounds) / groups,
            "seconds": sum(r["seconds"] for r in rounds),
            "per_round": sum(r["seconds"] for r in rounds) / len(rounds),
            "cpu": sum(r["cpu"] for r in rounds) / len(rounds),
            "peak": float(result["peak_mib"]),  # type: ignore[arg-type]
        }
    rows = (
        ("repeated pairs", "repeats", "{:.0f}"),
        ("cross-organisation share", "share", "{:.1%}"),
        ("  of the most possible", "bound", "{:.1%}"),
        ("pairs new to each other", "new", "{:.2%}"),
        ("time, all rounds (s)", "seconds", "{:.2f}"),
        ("time per round (s)", "per_round", "{:.2f}"),
        ("CPU time per round (s)", "cpu", "{:.2f}"),
        ("peak memory (RSS, MiB)", "peak", "{:.0f}"),
    )
    for label, key, fmt in rows:
        print(f"{label:<26} {fmt.format(totals['matching'][key]):>14} {fmt.format(totals['random'][key]):>14}")
    m, r = totals["matching"], totals["random"]
    print()
    print(
        f"matching vs random: {m['repeats']:.0f} vs {r['repeats']:.0f} repeats, cross-organisation share "
        f"{m['share']:.1%} vs {r['share']:.1%} ({m['share'] / r['share']:.2f}x), "
        f"{m['per_round'] / max(r['per_round'], 1e-9):.0f}x the time ({m['per_round']:.1f} s a round)"
    )


if __name__ == "__main__":
    main()
