"""The period a page's figures cover, read from its URL: the last 7, 30 or 90 days, or custom
dates, in the account's time zone, and whether the period just before it is shown beside it.

``?range=7d|30d|90d|custom&start=YYYY-MM-DD&end=YYYY-MM-DD&compare=previous|none`` — ``start``
and ``end`` only with ``custom`` (both days included); without ``range`` a page shows the last
30 days beside the 30 before them. Every page with a period keeps these parameters in its URL
and in its links to other pages with one, so a period can be shared and reloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from shoptrack.domain.buckets import Buckets, Interval, make_buckets
from shoptrack.errors import InputError

__all__ = ["MAX_DAYS", "RANGES", "Period", "read_period"]

_Measured = TypeVar("_Measured")

# The picker's choices, with the number of days each covers (today included).
RANGES: dict[str, int] = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_RANGE = "30d"
# A custom period is a year at most: a year of days is still a readable chart.
MAX_DAYS = 366
# Dates outside these years name no period shoptrack could hold events for (events are from
# 1990 on) and would overflow a date's arithmetic at year 9999.
_YEARS = range(1990, 2201)
# Past this many days, a chart counts weeks rather than days.
_MOST_DAYS_CHARTED = 92
# The fewest days a chart counts in weeks or in months: fewer make a chart of one or two bars.
_FEWEST_DAYS_BY: dict[Interval, int] = {"week": 14, "month": 60}


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days ``first_day`` to ``last_day`` (both included) in ``zone``."""

    range: str
    first_day: date
    last_day: date
    zone: ZoneInfo
    compare: bool

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def start(self) -> datetime:
        """The first instant of the period: ``first_day``'s midnight in ``zone``."""
        return datetime.combine(self.first_day, time.min, self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min, self.zone)

    @property
    def interval(self) -> Interval:
        """The interval a chart of this period counts in unless another is chosen."""
        return "day" if self.days <= _MOST_DAYS_CHARTED else "week"

    @property
    def intervals(self) -> tuple[Interval, ...]:
        """The intervals a chart of this period may count in: days up to a quarter, weeks from
        two weeks on, months from two months on."""
        chosen: list[Interval] = ["day"] if self.days <= _MOST_DAYS_CHARTED else []
        return (
            *chosen,
            *(each for each, fewest in _FEWEST_DAYS_BY.items() if self.days >= fewest),
        )

    def buckets(self, interval: Interval | None = None) -> Buckets:
        """The period in days (or ``interval``s: the first week or month can start before the
        period, the last end after it)."""
        return make_buckets(self.start, self.end, interval or self.interval, self.zone)

    def and_previous(
        self, measure: Callable[[Period], _Measured]
    ) -> tuple[_Measured, _Measured | None]:
        """``measure`` of this period, and of the previous one when compared (else None)."""
        return measure(self), measure(self.previous()) if self.compare else None

    def previous(self) -> Period:
        """The period of as many days that ends the day before this one starts."""
        last = self.first_day - timedelta(days=1)
        return replace(
            self,
            range="custom",
            first_day=last - timedelta(days=self.days - 1),
            last_day=last,
            compare=False,
        )

    @property
    def label(self) -> str:
        """ "the last 30 days", or the dates (see ``dates``)."""
        if self.range in RANGES:
            return f"the last {self.days} days"
        return f"{_day(self.first_day)} \u2013 {_day(self.last_day)}"

    @property
    def dates(self) -> str:
        return f"{_day(self.first_day)} \u2013 {_day(self.last_day)}"

    @property
    def parameters(self) -> dict[str, str]:
        """The URL parameters that name this period."""
        named = {"range": self.range}
        if self.range == "custom":
            named |= {"start": self.first_day.isoformat(), "end": self.last_day.isoformat()}
        named["compare"] = "previous" if self.compare else "none"
        return named

    def query(self, **more: str) -> str:
        """This period's URL query (without ``?``), with ``more`` parameters after it."""
        return urlencode(self.parameters | {key: value for key, value in more.items() if value})


def _day(value: date) -> str:
    return f"{value.day} {value.strftime('%b %Y')}"


def _date(params: Mapping[str, str], name: str) -> date:
    text = params.get(name, "").strip()
    if not text:
        raise InputError(
            f"{name}: a custom period needs a {name} date, written as YYYY-MM-DD",
            parameter=name,
        )
    try:
        found = date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{name}: {text[:40]!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-30",
            parameter=name,
        ) from None
    if found.year not in _YEARS:
        raise InputError(
            f"{name}: choose a date between {_YEARS.start} and {_YEARS.stop - 1}",
            parameter=name,
        )
    return found


def read_period(params: Mapping[str, str], now: datetime, zone: ZoneInfo) -> Period:
    """The period ``params`` name (see the module's docstring), ``now`` being in its last day
    unless custom dates say otherwise; a parameter that names none is an ``InputError`` naming
    it."""
    chosen = params.get("range", "") or DEFAULT_RANGE
    compare_text = params.get("compare", "") or "previous"
    if compare_text not in ("previous", "none"):
        raise InputError(
            f"compare: {compare_text[:40]!r} is not a choice; use previous or none",
            parameter="compare",
        )
    compare = compare_text == "previous"
    today = now.astimezone(zone).date()
    if chosen in RANGES:
        first = today - timedelta(days=RANGES[chosen] - 1)
        return Period(chosen, first, today, zone, compare)
    if chosen != "custom":
        raise InputError(
            f"range: {chosen[:40]!r} is not a period; use 7d, 30d, 90d or custom",
            parameter="range",
        )
    first, last = _date(params, "start"), _date(params, "end")
    if last < first:
        raise InputError("end: the period must end on or after its start date", parameter="end")
    if (last - first).days + 1 > MAX_DAYS:
        raise InputError(
            f"end: a period is {MAX_DAYS} days at most; choose a later start or an earlier end",
            parameter="end",
        )
    return Period("custom", first, last, zone, compare)
