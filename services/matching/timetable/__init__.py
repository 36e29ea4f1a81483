"""Timetabling: place a day's themed breakouts into its slots so that what each attendee wants does not clash.
Pure code (no Flask, database or Redis) apart from `models`, `service`, `api`, `tasks` and the `timetable` command.

- `domain`: the problem, its validation, the worded feasibility pre-check, the evaluation of a placement
- `solver`: OR-Tools CP-SAT (lexicographic: clash-free attendees first, then preference weight)
- `baselines`: random placement and the greedy "most popular pairs apart"
- `generate`: instances with a hidden clash-free timetable, for benchmarks and tests

Importing this package loads nothing heavy: matching's feature loader imports it on every start.
"""
