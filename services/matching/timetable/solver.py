"""The timetable as a CP-SAT model (OR-Tools).

Variables: x[s, t] = session s in slot t (only the slots its window and lock allow). Hard: one slot per session,
at most `rooms` sessions per slot, same-slot / not-same-slot pairs, one slot per presenter at a time.
Per profile P (attendees sharing a set of top-k themes, weighted by their number) a[P, h] = theme h attendable and
ok[P] = all of P's themes attendable in distinct slots:
- when every theme of P has a single session, a set of themes is attendable iff their sessions are pairwise in
  different slots: a[P, h] + a[P, g] <= 1 + apart(h, g), with apart(h, g) <= 2 - x[h, t] - x[g, t] for every t
  (one apart variable per pair of sessions, shared by all profiles);
- otherwise a matching: z[P, h, t] <= "some session of h is in t", sum_h z[P, h, t] <= 1, a[P, h] = sum_t z[P, h, t].
ok[P] <= a[P, h] for every h. Objective (lexicographic as one weighted sum): BIG * sum count_P ok[P] + sum
weight_P,h a[P, h], BIG > the largest possible weight, so one more clash-free person beats any amount of weight.

A greedy timetable is given as a complete hint; `progress` is told the clash-free share of every better timetable.
One search worker by default: deterministic for a seed (when it stops by proof or by `work_limit`, CP-SAT's
deterministic time), and measured faster on this 2-core machine than 2 workers (10k attendees: 11 s against 36 s;
the interleaved deterministic 2-worker mode did not reach the hidden timetable in 60 s). `workers` > 1 runs CP-SAT's
parallel portfolio, which is not reproducible run to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from ortools.sat.python import cp_model

from services.matching.timetable.baselines import greedy_pairs_apart
from services.matching.timetable.domain import (
    Evaluation,
    Id,
    Infeasible,
    Problem,
    Profile,
    allowed_slots,
    attended,
    evaluate,
    precheck,
    theme_slots,
)

Progress = Callable[[float, float], None]  # (best clash-free share so far, seconds since the start)


@dataclass
class Solution:
    placement: dict[Id, Id]
    evaluation: Evaluation
    status: str  # "optimal" or "feasible" (stopped by the time limit)
    bound_share: float  # no timetable can make more than this share clash-free (CP-SAT's bound)
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)


class _Reporter(cp_model.CpSolverSolutionCallback):
    def __init__(
        self, ok: list[tuple[int, Any]], always: int, attendees: int, progress: Progress | None, started: float
    ) -> None:
        super().__init__()
        self._ok, self._always, self._attendees = ok, always, attendees
        self._progress, self._started = progress, started
        self.best = -1.0
        self.solutions = 0

    def on_solution_callback(self) -> None:
        self.solutions += 1
        people = self._always + sum(count for count, var in self._ok if self.Value(var))
        share = people / self._attendees if self._attendees else 1.0
        if share > self.best:
            self.best = share
            if self._progress is not None:
                self._progress(share, time.perf_counter() - self._started)


def solve(
    problem: Problem,
    *,
    seed: int = 0,
    time_limit: float = 60.0,
    work_limit: float | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> Solution:
    """The best timetable found within the limits. Raises Infeasible with worded reasons (pre-check first, then
    CP-SAT's proof as a fallback). `work_limit`: CP-SAT's deterministic time (same seed, same answer)."""
    started = time.perf_counter()
    reasons = precheck(problem)
    if reasons:
        raise Infeasible(reasons)
    model = cp_model.CpModel()
    slots = problem.slots
    allowed = allowed_slots(problem)
    x: dict[tuple[Id, int], Any] = {}
    for s in problem.sessions:
        for t in allowed[s.id]:
            x[(s.id, t)] = model.NewBoolVar(f"x[{s.id},{t}]")
        model.AddExactlyOne(x[(s.id, t)] for t in allowed[s.id])
    for t, slot in enumerate(slots):
        here = [x[(s.id, t)] for s in problem.sessions if (s.id, t) in x]
        if slot.rooms is not None and len(here) > slot.rooms:
            model.Add(sum(here) <= slot.rooms)
    for s in problem.sessions:
        for t in range(len(slots)):
            mine, other = x.get((s.id, t)), None
            if s.same_slot_as is not None:
                other = x.get((s.same_slot_as, t))
                if mine is not None and other is not None:
                    model.Add(mine == other)
                elif mine is not None or other is not None:
                    model.Add((mine if mine is not None else other) == 0)
            if s.not_same_slot_as is not None:
                other = x.get((s.not_same_slot_as, t))
                if mine is not None and other is not None:
                    model.AddAtMostOne(mine, other)
    presenters: dict[str, list[Id]] = {}
    for s in problem.sessions:
        if s.presenter:
            presenters.setdefault(s.presenter, []).append(s.id)
    for theirs in presenters.values():
        for t in range(len(slots)):
            here = [x[(sid, t)] for sid in theirs if (sid, t) in x]
            if len(here) > 1:
                model.AddAtMostOne(here)

    themes = problem.themes()
    offered: dict[tuple[str, int], Any] = {}  # theme h has a session in slot t

    def in_slot(theme: str, t: int) -> Any:
        if (theme, t) not in offered:
            here = [x[(s.id, t)] for s in themes[theme] if (s.id, t) in x]
            if len(here) == 1:
                offered[(theme, t)] = here[0]
            elif not here:
                offered[(theme, t)] = 0
            else:
                var = model.NewBoolVar(f"y[{theme},{t}]")
                model.AddBoolOr(here).OnlyEnforceIf(var)
                offered[(theme, t)] = var
        return offered[(theme, t)]

    apart: dict[tuple[Id, Id], Any] = {}

    def sessions_apart(a: Id, b: Id) -> Any:
        key = (a, b) if str(a) <= str(b) else (b, a)
        if key not in apart:
            var = model.NewBoolVar(f"apart[{key[0]},{key[1]}]")
            for t in range(len(slots)):
                xa, xb = x.get((a, t)), x.get((b, t))
                if xa is not None and xb is not None:
                    model.AddBoolOr([xa.Not(), xb.Not()]).OnlyEnforceIf(var)
            apart[key] = var
        return apart[key]

    hints: list[tuple[Profile, dict[int, Any], dict[tuple[int, int], Any], Any]] = []
    ok_terms: list[tuple[int, Any]] = []
    weight_terms: list[tuple[int, Any]] = []
    constant_ok = constant_weight = 0
    for p, profile in enumerate(problem.profiles):
        present = [i for i, h in enumerate(profile.themes) if themes.get(h)]
        whole = len(present) == len(profile.themes)  # a theme nobody offers can never be attended
        if len(present) <= 1:
            constant_weight += sum(profile.weights[i] for i in present)
            constant_ok += profile.count if whole else 0
            continue
        a = {i: model.NewBoolVar(f"a[{p},{i}]") for i in present}
        z: dict[tuple[int, int], Any] = {}
        if all(len(themes[profile.themes[i]]) == 1 for i in present):
            for i, j in combinations(present, 2):
                si, sj = themes[profile.themes[i]][0].id, themes[profile.themes[j]][0].id
                model.Add(a[i] + a[j] <= 1 + sessions_apart(si, sj))
        else:
            z = {(i, t): model.NewBoolVar(f"z[{p},{i},{t}]") for i in present for t in range(len(slots))}
            for (i, t), var in z.items():
                y = in_slot(profile.themes[i], t)
                if isinstance(y, int):
                    model.Add(var == 0)
                else:
                    model.AddImplication(var, y)
            for t in range(len(slots)):
                model.AddAtMostOne(z[(i, t)] for i in present)
            for i in present:
                model.Add(a[i] == sum(z[(i, t)] for t in range(len(slots))))
        for i in present:
            weight_terms.append((profile.weights[i], a[i]))
        ok = None
        if whole:
            ok = model.NewBoolVar(f"ok[{p}]")
            for i in present:
                model.AddImplication(ok, a[i])
            ok_terms.append((profile.count, ok))
        hints.append((profile, a, z, ok))
    big = sum(w for w, _ in weight_terms) + constant_weight + 1
    model.Maximize(big * sum(c * v for c, v in ok_terms) + sum(w * v for w, v in weight_terms))

    # The greedy timetable as a complete hint (every variable, not only x): CP-SAT starts from its clash-free share
    # instead of climbing from zero one profile at a time.
    hint = greedy_pairs_apart(problem)
    position = problem.slot_position()
    hinted = {sid: position.get(slot) for sid, slot in hint.items()}
    for (sid, t), var in x.items():
        model.AddHint(var, hinted.get(sid) == t)
    for (a_id, b_id), var in apart.items():
        model.AddHint(var, hinted.get(a_id) != hinted.get(b_id))
    for (theme, t), var in offered.items():
        if not isinstance(var, int) and var.Name().startswith("y["):  # the others are x variables, hinted above
            model.AddHint(var, any(hinted.get(s.id) == t for s in themes[theme]))
    slots_hinted = theme_slots(problem, hint)
    for profile, a, z, ok in hints:
        got = attended(profile, slots_hinted)
        for i, var in a.items():
            model.AddHint(var, i in got)
        for (i, t), var in z.items():
            model.AddHint(var, got.get(i) == t)
        if ok is not None:
            model.AddHint(ok, all(i in got for i in a))

    solver = cp_model.CpSolver()
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = time_limit
    if work_limit is not None:
        solver.parameters.max_deterministic_time = work_limit
    reporter = _Reporter(ok_terms, constant_ok, problem.attendees, progress, started)
    status = solver.Solve(model, reporter)
    if status == cp_model.INFEASIBLE:
        raise Infeasible(
            [
                "the constraints together leave no possible timetable (proved by the solver; each one alone is "
                "satisfiable): look at same-slot groups, apart pairs, presenters, windows and locks together"
            ]
        )
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"timetable model invalid: {model.Validate()}")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise Infeasible([f"no timetable was found within {time_limit:g} s: allow more time or loosen constraints"])
    placement: dict[Id, Id] = {}
    for s in problem.sessions:
        t = next(t for t in allowed[s.id] if solver.Value(x[(s.id, t)]))
        placement[s.id] = slots[t].id
    evaluation = evaluate(problem, placement)
    bound_people = min(problem.attendees, int(solver.BestObjectiveBound() // big) + constant_ok)
    return Solution(
        placement=placement,
        evaluation=evaluation,
        status="optimal" if status == cp_model.OPTIMAL else "feasible",
        bound_share=bound_people / problem.attendees if problem.attendees else 1.0,
        seconds=time.perf_counter() - started,
        stats={
            "profiles": len(problem.profiles),
            "variables": len(model.Proto().variables),
            "constraints": len(model.Proto().constraints),
            "solutions": reporter.solutions,
            "wall_time": round(solver.response_proto.wall_time, 3),
            "deterministic_time": round(solver.response_proto.deterministic_time, 3),
        },
    )
