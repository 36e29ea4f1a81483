"""Rules of an insight day's schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.matching.domain.insight_day import Schedule, ScheduleError

NINE = datetime(2026, 12, 1, 9, tzinfo=timezone(timedelta(hours=1)))


def test_times_are_stored_in_utc() -> None:
    s = Schedule.of(NINE, NINE + timedelta(hours=8), "Europe/Paris")
    assert s.starts_at == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert s.starts_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("starts", "ends", "tz", "field"),
    [
        (NINE, NINE, "UTC", "ends_at"),
        (NINE, NINE - timedelta(hours=1), "UTC", "ends_at"),
        (NINE, NINE + timedelta(hours=25), "UTC", "ends_at"),
        (NINE, NINE + timedelta(hours=2), "Mars/Olympus", "timezone"),
        (NINE.replace(tzinfo=None), NINE + timedelta(hours=2), "UTC", "starts_at"),
    ],
)
def test_bad_schedules_name_the_field(starts: datetime, ends: datetime, tz: str, field: str) -> None:
    with pytest.raises(ScheduleError) as err:
        Schedule.of(starts, ends, tz)
    assert err.value.field == field
