"""Time buckets in a time zone's local calendar: the hours, days, weeks and months that metric
aggregates are counted in.

Boundaries are local midnights (or local hour starts) turned into instants with ``zoneinfo``, so a
day in ``America/New_York`` is 23 hours long on 2026-03-08 and 25 hours long on 2026-11-01, and
a local midnight that does not exist (a clock that jumps forward at 00:00) starts its day at the
first instant that does. Weeks start on Monday, as ISO 8601 and PostgreSQL's ``date_trunc`` have
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["INTERVALS", "Buckets", "Interval", "Run", "make_buckets"]

Interval = Literal["hour", "day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("hour", "day", "week", "month")

_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive buckets of one length, so a bucket index is arithmetic on epoch seconds.

    An instant ``t`` (epoch seconds) with ``start <= t < end`` is in bucket
    ``first + (t - start) // width``.
    """

    first: int
    start: int
    end: int
    width: int


@dataclass(frozen=True, slots=True)
class Buckets:
    """Consecutive buckets: bucket ``i`` runs from ``boundaries[i]`` to ``boundaries[i + 1]``.

    The boundaries are timezone-aware instants written in the buckets' own time zone.
    """

    boundaries: tuple[datetime, ...]

    @property
    def starts(self) -> tuple[datetime, ...]:
        return self.boundaries[:-1]

    def __len__(self) -> int:
        return len(self.boundaries) - 1

    @property
    def on_whole_hours(self) -> bool:
        """Whether every boundary is the start of a UTC hour (so hourly totals add up exactly
        into these buckets): true in every zone whose offset is a whole number of hours."""
        return all(_epoch(boundary) % 3600 == 0 for boundary in self.boundaries)

    def runs(self) -> list[Run]:
        """The buckets grouped into runs of equal length, in order.

        Hours are one run in nearly every zone; days and weeks split only around daylight-saving
        changes; months split where their lengths change. A few runs cover a year.
        """
        epochs = [_epoch(boundary) for boundary in self.boundaries]
        runs: list[Run] = []
        for index in range(len(epochs) - 1):
            width = epochs[index + 1] - epochs[index]
            if runs and runs[-1].width == width:
                last = runs[-1]
                runs[-1] = Run(last.first, last.start, epochs[index + 1], width)
            else:
                runs.append(Run(index, epochs[index], epochs[index + 1], width))
        return runs


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # fold=0 reads a midnight inside a gap with the offset from before the jump, which gives
    # the first instant of that day.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _hour_start(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _first_day(moment: datetime, interval: Interval, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date()
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_day(day: date, interval: Interval) -> date:
    if interval == "week":
        return day + timedelta(days=7)
    if interval == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def make_buckets(start: datetime, end: datetime, interval: Interval, zone: ZoneInfo) -> Buckets:
    """The buckets of ``interval`` in ``zone`` that cover ``[start, end)``.

    The first bucket is the one ``start`` falls in (a range starting at 10:30 has its first day
    bucket at midnight), the last the one ``end`` is in or right after.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("bucket boundaries need timezone-aware instants")
    if not start < end:
        raise ValueError("the range must end after it starts")
    # Instants are kept in UTC while they are compared: Python compares two times of the same
    # zone by their wall clocks, which ignores which of a repeated hour each one is.
    boundaries: list[datetime]
    if interval == "hour":
        boundaries = [_hour_start(start, zone)]
        while boundaries[-1] < end:
            following = _hour_start(boundaries[-1] + _HOUR, zone)
            # A zone whose clocks move back by half an hour can floor onto the same hour.
            boundaries.append(following if following > boundaries[-1] else boundaries[-1] + _HOUR)
    else:
        day = _first_day(start, interval, zone)
        boundaries = [_local_midnight(day, zone)]
        while boundaries[-1] < end:
            day = _next_day(day, interval)
            boundaries.append(_local_midnight(day, zone))
    return Buckets(tuple(boundary.astimezone(zone) for boundary in boundaries))
