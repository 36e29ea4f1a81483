"""`make simulate`: a generated insight day run through matching's domain code, one line per assignment strategy.

    .venv/bin/python scripts/simulate.py [--attendees 300] [--organisations 40] [--seed 1] [--coffee-rounds 3]
        [--table-size 5] [--slack 0.10]

stdout gets exactly three lines, solver, random and first-come, e.g.
`solver top3_every_slot=0.98 new_crossorg_per_attendee=13.3 repeated_pairs=0`; the day's description and per
strategy diagnostics go to stderr (`--quiet` drops them). Definitions: services/matching/simulation.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--attendees", type=int, default=300)
    parser.add_argument("--organisations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--coffee-rounds", type=int, default=3)
    parser.add_argument("--table-size", type=int, default=5, help="people per discussion table in a breakout")
    parser.add_argument("--slack", type=float, default=0.10, help="spare places per theme (0.10: 10 %% above demand)")
    parser.add_argument("--quiet", action="store_true", help="no diagnostics on stderr")
    args = parser.parse_args(argv)

    from services.matching.assignment.domain import Infeasible
    from services.matching.simulation import Options, lines, simulate

    options = Options(
        attendees=args.attendees,
        organisations=args.organisations,
        seed=args.seed,
        coffee_rounds=args.coffee_rounds,
        table_size=args.table_size,
        slack=args.slack,
    )
    try:
        options.check()
    except ValueError as exc:
        parser.error(str(exc))

    def log(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    try:
        outcomes = simulate(options, log=log)
    except Infeasible as exc:
        print("the generated day cannot be scheduled: " + "; ".join(exc.reasons), file=sys.stderr)
        return 1
    print(lines(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
