"""Breakout assignment: every attendee one breakout per slot, capacities and organisation caps hard, no theme twice,
preferences maximised. Pure code (no Flask, database or Redis) apart from the `solve` command in `cli.py`.

- `domain`: instance, validation, feasibility pre-check with worded reasons, quality metrics
- `solver`: min-cost flows per slot (OR-Tools) coupled by the themes; locks; progress callback
- `bound`: upper bounds (theme-set flow; HiGHS LP relaxation for small instances)
- `greedy`: first-come sign-up baseline
- `generate`: generated instances for benchmarks and tests

Importing this package loads nothing heavy: matching's feature loader imports it on every start.
"""
