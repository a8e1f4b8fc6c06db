"""The history's time window and the checks of its durations.

A load sees the times ``(now - lookback, now]``: a time at exactly ``now - lookback`` is outside,
one at exactly ``now`` inside. Times are the caller's (``now`` may be a replayed recording
time), never the wall clock nor a blob's ``last_modified``; naive datetimes are taken as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "DEFAULT_LOOKBACK",
    "DEFAULT_RETENTION",
    "Window",
    "check_lookback_and_retention",
    "epoch_us",
    "floor_hour",
    "require_positive",
    "utc",
]

DEFAULT_LOOKBACK = timedelta(hours=24)
DEFAULT_RETENTION = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken as UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch."""
    return (utc(value) - _EPOCH) // _ONE_US


def floor_hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _describe(value: object) -> str:
    if isinstance(value, timedelta):
        return f"{value} ({value.total_seconds():g} s)"
    return repr(value)


def require_positive(what: str, value: object) -> None:
    """Raise ``ValueError`` naming ``what`` unless ``value`` is a positive ``timedelta``."""
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValueError(f"{what} must be a positive timedelta, got {_describe(value)}")


def check_lookback_and_retention(lookback: timedelta, retention: timedelta) -> None:
    """Both positive, and the retention at least the lookback (else cleanup would delete
    entries a load still needs)."""
    require_positive("history lookback", lookback)
    require_positive("history retention", retention)
    if retention < lookback:
        raise ValueError(
            f"history retention ({retention}) must be at least the lookback ({lookback}): "
            "entries still inside the lookback window would be deleted"
        )


@dataclass(frozen=True, slots=True)
class Window:
    """The times ``(start, end]`` in UTC: ``start`` itself is outside, ``end`` inside."""

    start: datetime
    end: datetime

    @classmethod
    def ending_at(cls, now: datetime, lookback: timedelta) -> Window:
        """The window a load at ``now`` sees: ``(now - lookback, now]``."""
        require_positive("history lookback", lookback)
        end = utc(now)
        return cls(end - lookback, end)

    def __contains__(self, when: datetime) -> bool:
        return self.start < utc(when) <= self.end

    def bounds_us(self) -> tuple[int, int]:
        """``(start, end)`` in epoch microseconds: a time ``t`` is inside when
        ``start < t <= end``."""
        return epoch_us(self.start), epoch_us(self.end)

    def hours(self) -> tuple[datetime, datetime]:
        """The first and last hour (their starts) that hold a time of the window."""
        return floor_hour(self.start), floor_hour(self.end)

    def days(self) -> Iterator[datetime]:
        """Midnights (UTC) of every day the window touches, the first and last included."""
        day = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day <= self.end:
            yield day
            day += _ONE_DAY
