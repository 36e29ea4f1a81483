"""`flask --app services.matching solve INSTANCE.json --out ASSIGNMENT.json`: the solver on a JSON file, for
benchmarks and audits. Exit codes: 0 solved, 1 the day cannot be scheduled (reasons on stderr), 2 malformed input
(the field named on stderr). Needs no database or Redis."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    @app.cli.command("solve")
    @click.argument("instance_path", metavar="INSTANCE.json", type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--out",
        "out_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the assignment {attendee_id: [breakout_id per slot]}.",
    )
    @click.option("--seed", default=0, show_default=True, help="Breaks ties; same seed, same assignment.")
    @click.option(
        "--org-weight",
        default=0.0,
        show_default=True,
        type=float,
        help="Value of each distinct organisation in a breakout (meeting new organisations).",
    )
    @click.option(
        "--locks",
        "locks_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="JSON {attendee_id: {slot_id: breakout_id}} placements to keep.",
    )
    def solve_command(
        instance_path: Path, out_path: Path, seed: int, org_weight: float, locks_path: Path | None
    ) -> None:
        """Assign breakouts for INSTANCE.json; print objective, bound, time and peak memory."""
        sys.exit(run(instance_path, out_path, seed=seed, org_weight=org_weight, locks_path=locks_path))


def run(
    instance_path: Path, out_path: Path, *, seed: int = 0, org_weight: float = 0.0, locks_path: Path | None = None
) -> int:
    from services.matching.assignment.domain import Infeasible, InstanceError, evaluate, parse_instance, parse_locks
    from services.matching.assignment.solver import solve  # OR-Tools and numpy load only for this command

    started = time.perf_counter()
    try:
        instance = parse_instance(_read_json(instance_path, "instance"))
        locks = parse_locks(instance, _read_json(locks_path, "locks")) if locks_path else {}
        if org_weight < 0:
            raise InstanceError("--org-weight", "must be >= 0")
    except InstanceError as error:
        click.echo(f"invalid input: {error}", err=True)
        return 2
    try:
        result = solve(instance, locks=locks, seed=seed, org_weight=org_weight)
    except Infeasible as infeasible:
        click.echo("the day cannot be scheduled:", err=True)
        for reason in infeasible.reasons:
            click.echo(f"  {reason}", err=True)
        return 1
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux; read before the metrics below
    out_path.write_text(json.dumps(result.assignment, indent=1) + "\n")
    metrics = evaluate(instance, result.assignment, org_weight)
    click.echo(f"objective: {result.objective:.3f}")
    click.echo(f"bound: {result.bound.value:.3f} ({result.bound.kind})")
    click.echo(f"objective / bound: {100 * result.ratio:.3f} %")
    click.echo(f"time: {elapsed:.2f} s (reading, checking, solving, bound)")
    click.echo(
        f"peak memory: {peak_kib / 1024:.0f} MiB (peak resident set size of this process up to the solution, ru_maxrss)"
    )
    click.echo(
        f"attendees: {metrics.attendees}, got their 1st theme: {100 * metrics.got_first:.1f} %, "
        f"all of their top 3: {100 * metrics.got_top3:.1f} %, every slot a top-{len(instance.slots)} theme: "
        f"{100 * metrics.perfect_day:.1f} %, left out: {metrics.left_out}"
    )
    click.echo(
        f"organisations per breakout: min {metrics.min_orgs_per_breakout}, mean {metrics.mean_orgs_per_breakout:.1f}; "
        f"largest share from one organisation: {100 * metrics.max_org_share_of_capacity:.1f} % of capacity, "
        f"{100 * metrics.max_org_share:.1f} % of attendance; other organisations met per attendee: "
        f"{metrics.mean_orgs_met:.1f}"
    )
    click.echo(f"assignment written to {out_path}")
    return 0


def _read_json(path: Path | None, what: str) -> Any:
    from services.matching.assignment.domain import InstanceError

    assert path is not None
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InstanceError(what, f"no such file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InstanceError(what, f"cannot read {str(path)!r}: {error}") from None
    except json.JSONDecodeError as error:
        raise InstanceError(what, f"not valid JSON ({error})") from None
