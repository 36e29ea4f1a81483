"""The two ways a solver's input goes wrong, shared by the optimisation features (assignment, timetable): the
instance is malformed (a field to name), or well formed but no answer satisfies its constraints (reasons in words)."""

from __future__ import annotations

from collections.abc import Sequence


class InstanceError(ValueError):
    """The instance is malformed; `field` names where (e.g. `slots[0].breakouts[2].capacity`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Infeasible(Exception):
    """No answer satisfies the constraints; `reasons` say why, in words."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)
