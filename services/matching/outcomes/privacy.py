"""Small-cell suppression for the outcome report, pure.

A cell counting fewer than `MIN_CELL` people is hidden (primary suppression). Totals could still give a hidden cell
away by subtraction: a slice's figure for "all regions" minus the figures of every region but one is that one region's
figure. So the report's additive relations (a parent equals the sum of its children) are written down as equations,
and more cells are hidden (secondary suppression, smallest first) until no hidden cell is *determined* by the visible
ones: a hidden cell x_i is determined exactly when the unit vector e_i lies in the row space of the equations
restricted to the hidden cells (linear algebra, numpy's matrix rank).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MIN_CELL = 5

Cell = Hashable


@dataclass(frozen=True)
class Sum:
    """`parent` = sum of `children` (all cells counted in people)."""

    parent: Cell
    children: tuple[Cell, ...]


def _determined_cells(hidden: Sequence[Cell], equations: Sequence[Sum]) -> list[Cell]:
    """The hidden cells that the visible cells and the equations pin down to one value.

    x_i is determined iff e_i lies in the row space of A (the equations over the hidden cells), i.e. iff every
    vector of A's null space is 0 at i. One SVD gives the null space for all cells at once.
    """
    index = {c: i for i, c in enumerate(hidden)}
    rows = []
    for eq in equations:
        row = np.zeros(len(hidden))
        if eq.parent in index:
            row[index[eq.parent]] += 1.0
        for child in eq.children:
            if child in index:
                row[index[child]] -= 1.0
        if row.any():
            rows.append(row)
    if not rows:
        return []
    a = np.array(rows)
    _, singular, vt = np.linalg.svd(a, full_matrices=True)
    rank = int((singular > 1e-9 * max(1.0, float(singular.max(initial=0.0)))).sum())
    null = vt[rank:]  # rows span the null space
    if null.shape[0] == 0:
        return list(hidden)
    free = np.abs(null).max(axis=0) > 1e-9
    return [c for c, is_free in zip(hidden, free, strict=True) if not is_free]


def _relevant(equations: Sequence[Sum], cells: set[Cell]) -> list[Sum]:
    """Only equations that touch a hidden cell matter (others have no unknown)."""
    return [eq for eq in equations if eq.parent in cells or any(c in cells for c in eq.children)]


def suppress(
    values: Mapping[Cell, int],
    equations: Iterable[Sum],
    *,
    min_cell: int = MIN_CELL,
    importance: Callable[[Cell], int] = lambda cell: 0,
) -> set[Cell]:
    """The cells to hide: every cell below `min_cell`, and enough others that none of those can be recovered.
    Among equally small candidates for secondary suppression, the less `importance` the sooner hidden (the report
    keeps its headline totals and hides a filtered figure instead)."""
    eqs = list(equations)
    hidden: set[Cell] = {c for c, v in values.items() if v < min_cell}
    neighbours: dict[Cell, set[Cell]] = {}
    for eq in eqs:
        members = (eq.parent, *eq.children)
        for m in members:
            neighbours.setdefault(m, set()).update(members)
    while True:
        ordered = sorted(hidden, key=repr)
        determined = _determined_cells(ordered, _relevant(eqs, hidden))
        added = False
        for cell in determined:
            # Hide the smallest visible cell that shares an equation with it (the least information lost).
            visible = [n for n in neighbours.get(cell, ()) if n not in hidden]
            if visible:
                hidden.add(min(visible, key=lambda n: (values[n], importance(n), repr(n))))
                added = True
        if not added:
            return hidden


def leaks(values: Mapping[Cell, int], hidden: set[Cell], equations: Iterable[Sum]) -> list[Cell]:
    """Hidden cells that the visible ones still determine (for tests and audits: should be empty)."""
    ordered = sorted(hidden, key=repr)
    return _determined_cells(ordered, _relevant(list(equations), hidden))
