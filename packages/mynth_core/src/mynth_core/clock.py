"""The Clock port and the system clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol


class Clock(Protocol):
    """**Port**: the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's wall clock, in UTC, truncated to milliseconds (the API's precision)."""

    def now(self) -> datetime:
        at = datetime.now(UTC)
        return at.replace(microsecond=at.microsecond // 1000 * 1000)


def utc_day(at: datetime) -> date:
    """The UTC calendar day `at` falls on (the half-open day [00:00Z, next 00:00Z))."""
    return at.astimezone(UTC).date()


def next_utc_midnight(at: datetime) -> datetime:
    """The first 00:00:00.000Z strictly after `at`."""
    return datetime.combine(utc_day(at) + timedelta(days=1), time(), tzinfo=UTC)
