"""`flask --app services.matching timetable INSTANCE.json --out TIMETABLE.json`: the timetable solver on a JSON
file, for benchmarks and audits. Writes {session_id: slot_id}; prints the clash-free share, time and peak memory.
Exit codes: 0 solved, 1 no timetable can satisfy the constraints (reasons on stderr), 2 malformed input (the field
named on stderr). Needs no database or Redis."""

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
    @app.cli.command("timetable")
    @click.argument("instance_path", metavar="INSTANCE.json", type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--out",
        "out_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the timetable {session_id: slot_id}.",
    )
    @click.option("--seed", default=0, show_default=True, help="CP-SAT's random seed; same seed, same timetable.")
    @click.option("--time-limit", default=60.0, show_default=True, help="Seconds the solver may search.")
    @click.option(
        "--top-k", "k", default=3, show_default=True, help="Wanted themes per attendee that should not clash."
    )
    @click.option("--workers", default=1, show_default=True, help="CP-SAT search workers (1 is reproducible).")
    def timetable_command(
        instance_path: Path, out_path: Path, seed: int, time_limit: float, k: int, workers: int
    ) -> None:
        """Place the sessions of INSTANCE.json into its slots; print the clash-free share, time and peak memory."""
        sys.exit(run(instance_path, out_path, seed=seed, time_limit=time_limit, k=k, workers=workers))


def run(
    instance_path: Path, out_path: Path, *, seed: int = 0, time_limit: float = 60.0, k: int = 3, workers: int = 1
) -> int:
    from services.matching.timetable.domain import Infeasible, InstanceError, parse_instance
    from services.matching.timetable.solver import solve  # OR-Tools loads only for this command

    started = time.perf_counter()
    try:
        if not 1 <= k <= 5:
            raise InstanceError("--top-k", "must be between 1 and 5")
        if time_limit <= 0:
            raise InstanceError("--time-limit", "must be > 0")
        problem = parse_instance(_read_json(instance_path), k)
    except InstanceError as error:
        click.echo(f"invalid input: {error}", err=True)
        return 2
    try:
        solution = solve(problem, seed=seed, time_limit=time_limit, workers=max(1, workers))
    except Infeasible as infeasible:
        click.echo("no timetable is possible:", err=True)
        for reason in infeasible.reasons:
            click.echo(f"  {reason}", err=True)
        return 1
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out_path.write_text(json.dumps({str(s): slot for s, slot in solution.placement.items()}, indent=1) + "\n")
    evaluation = solution.evaluation
    click.echo(
        f"clash-free share: {evaluation.share:.4f} ({evaluation.clash_free} of {evaluation.attendees} attendees have "
        f"their top-{problem.k} themes in different slots); at most {solution.bound_share:.4f} possible "
        f"({solution.status})"
    )
    click.echo(f"preference weight attendable: {evaluation.weight} of {evaluation.max_weight}")
    click.echo(f"time: {elapsed:.2f} s (reading, checking, solving)")
    click.echo(f"peak memory: {peak_kib / 1024:.0f} MiB (peak resident set size of this process, ru_maxrss)")
    click.echo(f"timetable written to {out_path}")
    return 0


def _read_json(path: Path) -> Any:
    from services.matching.timetable.domain import InstanceError

    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InstanceError("instance", f"no such file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InstanceError("instance", f"cannot read {str(path)!r}: {error}") from None
    except json.JSONDecodeError as error:
        raise InstanceError("instance", f"not valid JSON ({error})") from None
