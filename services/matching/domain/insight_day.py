"""Rules of an insight day's schedule. Pure: no Flask, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_LENGTH = timedelta(hours=24)  # an insight day is one day


class ScheduleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Schedule:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    timezone: str

    @classmethod
    def of(cls, starts_at: datetime, ends_at: datetime, tz: str) -> Schedule:
        if tz not in available_timezones():
            raise ScheduleError("timezone", f"unknown time zone {tz!r}; use an IANA name like Europe/London")
        try:
            ZoneInfo(tz)
        except ZoneInfoNotFoundError:
            raise ScheduleError("timezone", f"unknown time zone {tz!r}") from None
        for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
            if value.tzinfo is None:
                raise ScheduleError(name, "must include a UTC offset, e.g. 2026-05-04T09:00:00+01:00")
        start, end = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
        if end <= start:
            raise ScheduleError("ends_at", "must be after starts_at")
        if end - start > MAX_LENGTH:
            raise ScheduleError("ends_at", "an insight day lasts at most 24 hours")
        return cls(start, end, tz)
