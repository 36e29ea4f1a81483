"""Breakout assignment: the solver vs first-come sign-up (greedy) on generated instances of 300, 2,000 and 10,000
attendees (10k: 300 organisations, 30 themes, 4 slots x 60 breakouts).

Two instances per size (services/matching/assignment/generate.py, seed 7):
- "as specified": breakouts shared out between themes in proportion to demand and sized so that every theme has
  10 % more places than demand (attendees with it among their top themes, one per slot);
- "contended": the same attendees, but equal rooms (10 % more places than attendees per slot) shared evenly between
  themes and a flatter popularity (so that every theme still has places for all who ranked it first): the popular
  themes are oversubscribed, as when rooms are booked before preferences are known.

Per run: objective as a % of the upper bound (which bound: see services/matching/assignment/bound.py), time, and
peak memory = the peak resident set size (ru_maxrss) of a fresh process that read the instance JSON and solved it,
so it includes the Python interpreter, numpy and OR-Tools. Runs go one after another, one process each.
Goals: >= 99.5 % of the bound at every size; 10k in under a minute and under 1 GiB.

    .venv/bin/python bench/bench_assignment.py [--sizes 300,2000,10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS: dict[str, dict[str, object]] = {
    "as specified": {},
    "contended": {"rooms": True, "even": True, "skew": 0.4},
}
GOAL_RATIO = 0.995
GOAL_SECONDS = 60.0
GOAL_MIB = 1024.0


def measure(path: Path, seed: int) -> dict[str, object]:
    """In a fresh process: read and parse the instance file, solve, then run the greedy baseline."""
    from services.matching.assignment.domain import evaluate, parse_instance
    from services.matching.assignment.greedy import greedy
    from services.matching.assignment.solver import solve

    started = time.perf_counter()
    instance = parse_instance(json.loads(path.read_text()))
    result = solve(instance, seed=seed)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    baseline = greedy(instance, seed=seed)
    greedy_seconds = time.perf_counter() - started
    ours, theirs = evaluate(instance, result.assignment), evaluate(instance, baseline)
    return {
        "size": len(instance.attendees),
        "shape": f"{len({a.org for a in instance.attendees})} orgs, {len(instance.themes)} themes, "
        f"{len(instance.slots)} slots x {len(instance.slots[0].breakouts)} breakouts",
        "objective": result.objective,
        "bound": result.bound.value,
        "bound_kind": result.bound.kind,
        "bounds": result.bound.values,
        "ratio": result.ratio,
        "greedy_objective": theirs.objective,
        "greedy_ratio": theirs.objective / result.bound.value,
        "greedy_left_out": theirs.left_out,
        "seconds": seconds,
        "stages": result.stats["seconds"],
        "greedy_seconds": greedy_seconds,
        "peak_mib": peak_mib,
        "first": (ours.got_first, theirs.got_first),
        "top3": (ours.got_top3, theirs.got_top3),
        "perfect": (ours.perfect_day, theirs.perfect_day),
        "max_org_share": (ours.max_org_share_of_capacity, theirs.max_org_share_of_capacity),
        "max_org_share_attendance": (ours.max_org_share, theirs.max_org_share),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="300,2000,10000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.seed)))
        return 0
    from services.matching.assignment.generate import SIZES, generate

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, variant in ((int(s), v) for s in args.sizes.split(",") for v in VARIANTS):
            path = Path(tmp) / f"instance-{size}.json"
            path.write_text(json.dumps(generate(SIZES[size], seed=args.seed, **VARIANTS[variant]).to_json()))
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), "--seed", str(args.seed)],
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 1
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]) | {"variant": variant})
            _print_row(rows[-1])
    print()
    print(
        f"{'attendees':>9} | {'instance':<12} | {'solver % of bound':>17} | {'greedy % of bound':>17} | "
        f"{'time':>7} | {'peak RSS':>9}"
    )
    failed = []
    for row in rows:
        print(
            f"{row['size']:>9,} | {row['variant']:<12} | {100 * row['ratio']:>16.3f}% | "
            f"{100 * row['greedy_ratio']:>16.3f}% | "
            f"{row['seconds']:>6.1f}s | {row['peak_mib']:>5.0f} MiB"
        )
        if row["ratio"] < GOAL_RATIO:
            failed.append(
                f"{row['size']} {row['variant']}: {100 * row['ratio']:.3f} % of the bound < {100 * GOAL_RATIO} %"
            )
        if row["size"] >= 10_000 and row["seconds"] > GOAL_SECONDS:
            failed.append(f"{row['size']} {row['variant']}: {row['seconds']:.1f} s > {GOAL_SECONDS:.0f} s")
        if row["size"] >= 10_000 and row["peak_mib"] > GOAL_MIB:
            failed.append(f"{row['size']} {row['variant']}: {row['peak_mib']:.0f} MiB > {GOAL_MIB:.0f} MiB")
    print("goals (>= 99.5 % of the bound everywhere; 10k < 60 s, < 1 GiB):", "; ".join(failed) if failed else "met")
    return 1 if failed else 0


def _print_row(row: dict) -> None:  # type: ignore[type-arg]
    pct = lambda pair: f"{100 * pair[0]:.1f} % vs {100 * pair[1]:.1f} %"  # noqa: E731
    print(f"\n{row['size']:,} attendees, {row['variant']} ({row['shape']})")
    print(
        f"  solver: objective {row['objective']:.3f} = {100 * row['ratio']:.3f} % of the bound {row['bound']:.3f} "
        f"({row['bound_kind']}; computed: {', '.join(f'{k} {v:.3f}' for k, v in row['bounds'].items())})"
    )
    print(
        f"  greedy: objective {row['greedy_objective']:.3f} = {100 * row['greedy_ratio']:.3f} % of the bound, "
        f"left out of some slot: {row['greedy_left_out']}"
    )
    stages = ", ".join(f"{k} {v:.2f}" for k, v in row["stages"].items())
    print(
        f"  time: solver {row['seconds']:.2f} s (parse + solve + bound; stages: {stages}), "
        f"greedy {row['greedy_seconds']:.2f} s"
    )
    print(f"  peak memory: {row['peak_mib']:.0f} MiB (ru_maxrss of the solving process)")
    print(
        f"  solver vs greedy: got 1st theme {pct(row['first'])}; all of top 3 {pct(row['top3'])}; "
        f"every slot a top-slots theme {pct(row['perfect'])}; largest org share of a breakout's capacity "
        f"{pct(row['max_org_share'])}, of its attendance {pct(row['max_org_share_attendance'])}"
    )


if __name__ == "__main__":
    sys.exit(main())
