"""Timetabling: the CP-SAT solver vs random placement vs the greedy "most popular pairs apart", on generated
instances where a clash-free timetable is known to exist (services/matching/timetable/generate.py hides one: it
draws a placement, then each attendee's 3 wanted sessions from distinct slots of it, Zipf-like popularity, a few
themes offered twice). Sizes 300 (3 slots x 6 rooms), 2,000 (4 x 10) and 10,000 attendees (4 slots x 15 rooms).

Per size, side by side in one run: the clash-free share (attendees whose top-3 themes are all attendable in
different slots) of the hidden timetable, the solver, random and greedy; each as a ratio of the hidden share; the
time of each; the solver's peak memory (ru_maxrss of a fresh process that read the JSON and solved it, so it
includes Python and OR-Tools). Goal: the solver reaches the hidden share at every size, 10k in under a minute.

    .venv/bin/python bench/bench_timetable.py [--sizes 300,2000,10000] [--seed 1] [--time-limit 60]
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

GOAL_SECONDS = 60.0


def measure(path: Path, seed: int, time_limit: float) -> dict[str, object]:
    """In a fresh process: read the instance and the hidden timetable, solve, then the two baselines."""
    from services.matching.timetable.baselines import greedy_pairs_apart, random_placement
    from services.matching.timetable.domain import evaluate, parse_instance
    from services.matching.timetable.solver import solve

    data = json.loads(path.read_text())
    started = time.perf_counter()
    problem = parse_instance(data["instance"])
    solution = solve(problem, seed=seed, time_limit=time_limit)
    solver_s = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    random_share = evaluate(problem, random_placement(problem, seed)).share
    random_s = time.perf_counter() - started
    started = time.perf_counter()
    greedy_share = evaluate(problem, greedy_pairs_apart(problem)).share
    greedy_s = time.perf_counter() - started
    return {
        "attendees": problem.attendees,
        "shape": f"{len(problem.slots)} slots x {problem.slots[0].rooms} rooms, {len(problem.sessions)} sessions, "
        f"{len(problem.profiles)} profiles",
        "hidden": evaluate(problem, data["hidden"]).share,
        "solver": solution.evaluation.share,
        "solver_s": solver_s,
        "status": solution.status,
        "random": random_share,
        "random_s": random_s,
        "greedy": greedy_share,
        "greedy_s": greedy_s,
        "peak_mib": peak_mib,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="300,2000,10000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=GOAL_SECONDS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one size in a fresh process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.seed, args.time_limit)))
        return 0
    from services.matching.timetable.generate import SIZES, generate

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            instance, hidden = generate(SIZES[size], seed=args.seed)
            path = Path(tmp) / f"timetable-{size}.json"
            path.write_text(json.dumps({"instance": instance, "hidden": hidden}))
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    str(path),
                    "--seed",
                    str(args.seed),
                    "--time-limit",
                    str(args.time_limit),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"{size}: failed\n{done.stderr[-2000:]}", flush=True)
                return 1
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"{row['attendees']:>6} attendees ({row['shape']}): clash-free share hidden {row['hidden']:.4f} | "
                f"solver {row['solver']:.4f} in {row['solver_s']:.1f} s ({row['status']}, peak {row['peak_mib']:.0f} "
                f"MiB) | greedy {row['greedy']:.4f} in {row['greedy_s']:.2f} s | random {row['random']:.4f} in "
                f"{row['random_s']:.2f} s",
                flush=True,
            )
    print("\nratios to the hidden timetable's share (1.000 = as good as the hidden one):")
    ok = True
    for row in rows:
        hidden = float(row["hidden"]) or 1.0
        reached = float(row["solver"]) >= float(row["hidden"]) - 1e-9
        fast = float(row["solver_s"]) < GOAL_SECONDS
        ok &= reached and (int(row["attendees"]) < 10_000 or fast)
        print(
            f"{row['attendees']:>6}: solver {float(row['solver']) / hidden:.3f}  "
            f"greedy {float(row['greedy']) / hidden:.3f}"
            f"  random {float(row['random']) / hidden:.3f}   solver time / greedy time "
            f"{float(row['solver_s']) / max(float(row['greedy_s']), 1e-6):.0f}x   "
            f"{'reached the hidden share' if reached else 'BELOW the hidden share'}"
            + ("" if int(row["attendees"]) < 10_000 else f", {'under' if fast else 'OVER'} {GOAL_SECONDS:.0f} s")
        )
    print(f"goal (hidden share at every size, 10k under {GOAL_SECONDS:.0f} s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
