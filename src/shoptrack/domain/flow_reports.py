"""Flow reports in Klaviyo's shape (``POST /api/flow-values-reports`` and
``/api/flow-series-reports``): the typed requests, their timeframes and intervals in the
account's time zone, and the statistics computed from what flow emails recorded.

Definitions (rates are fractions in [0, 1]; a rate over nothing is 0):

- ``recipients``: emails handed over or refused for good (``delivered + bounced + failed``);
  ``delivered``: handed to SMTP or written to the outbox (Received Email); ``bounced``: refused
  for good at sending (Bounced Email); ``failed``: given up for another reason (a template that
  fails).
- ``opens``: Opened Email, a mail privacy proxy's included (as Klaviyo counts them);
  ``opens_unique``: emails opened. ``clicks``, ``clicks_unique``: Clicked Email, link scanners'
  left out. ``open_rate`` and ``click_rate`` are over ``delivered``, ``click_to_open_rate`` over
  ``opens_unique``.
- ``conversions``: events of ``conversion_metric_id`` credited to the email (attribution),
  ``conversion_uniques`` their profiles, ``conversion_value`` their value, ``conversion_rate``
  ``conversion_uniques / delivered``, ``revenue_per_recipient`` ``conversion_value /
  delivered``, ``average_order_value`` ``conversion_value / conversions``.
- ``unsubscribes``, ``unsubscribe_uniques``, ``unsubscribe_rate``: Unsubscribed through the
  email's link. Spam complaints and the text-message statistics are 0: complaints are not
  received yet, and flows send no text messages.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from shoptrack.errors import InputError

__all__ = [
    "GROUPINGS",
    "STATISTICS",
    "Conversion",
    "CustomTimeframe",
    "Engagement",
    "Failure",
    "FlowSeriesRequest",
    "FlowValuesRequest",
    "KeyTimeframe",
    "ReportAttributes",
    "SeriesAttributes",
    "Tally",
    "buckets",
    "resolve_timeframe",
]

Statistic = Literal[
    "average_order_value",
    "bounce_rate",
    "bounced",
    "bounced_or_failed",
    "bounced_or_failed_rate",
    "click_rate",
    "click_to_open_rate",
    "clicks",
    "clicks_unique",
    "conversion_rate",
    "conversion_uniques",
    "conversion_value",
    "conversions",
    "delivered",
    "delivery_rate",
    "failed",
    "failed_rate",
    "message_segment_count_sum",
    "open_rate",
    "opens",
    "opens_unique",
    "recipients",
    "revenue_per_recipient",
    "spam_complaint_rate",
    "spam_complaints",
    "text_message_credit_usage_amount",
    "text_message_roi",
    "text_message_spend",
    "unsubscribe_rate",
    "unsubscribe_uniques",
    "unsubscribes",
]
STATISTICS: tuple[str, ...] = Statistic.__args__  # type: ignore[attr-defined]  # a Literal's values

# What results can be grouped by: Klaviyo's flow groupings that shoptrack has (no tags, text
# messages or A/B variations).
GroupBy = Literal["flow_id", "flow_message_id", "flow_message_name", "flow_name", "send_channel"]
GROUPINGS: tuple[str, ...] = GroupBy.__args__  # type: ignore[attr-defined]  # a Literal's values
DEFAULT_GROUPING = ("flow_id", "flow_message_id", "send_channel")
REQUIRED_GROUPING = ("flow_id", "flow_message_id")

TimeframeKey = Literal[
    "last_12_months",
    "last_30_days",
    "last_365_days",
    "last_3_months",
    "last_7_days",
    "last_90_days",
    "last_month",
    "last_week",
    "last_year",
    "this_month",
    "this_week",
    "this_year",
    "today",
    "yesterday",
]
Interval = Literal["daily", "hourly", "monthly", "weekly"]
# The longest timeframe an interval may cover (Klaviyo's limits).
_INTERVAL_LIMITS = {
    "hourly": timedelta(days=7),
    "daily": timedelta(days=60),
    "weekly": timedelta(days=366),
    "monthly": timedelta(days=366),
}
_LONGEST = timedelta(days=366)

_STRICT = ConfigDict(extra="forbid", frozen=True)


class KeyTimeframe(BaseModel):
    """A timeframe named by Klaviyo's key (``last_30_days``), in the account's time zone."""

    model_config = _STRICT
    key: TimeframeKey


class CustomTimeframe(BaseModel):
    """A timeframe from ``start`` to ``end``, both read in the account's time zone (any offset
    given is ignored, as Klaviyo does)."""

    model_config = _STRICT
    start: datetime
    end: datetime


class ReportAttributes(BaseModel):
    """What a flow values report asks for."""

    model_config = _STRICT
    statistics: Annotated[list[Statistic], Field(min_length=1)]
    timeframe: KeyTimeframe | CustomTimeframe
    conversion_metric_id: Annotated[str, Field(min_length=1, max_length=64)]
    group_by: list[GroupBy] | None = None
    filter: Annotated[str, Field(max_length=10_000)] | None = None

    def grouping(self) -> tuple[str, ...]:
        """The groupings asked for, in Klaviyo's default when none are; a 400 when flow_id or
        flow_message_id is left out."""
        if not self.group_by:
            return DEFAULT_GROUPING
        missing = [name for name in REQUIRED_GROUPING if name not in self.group_by]
        if missing:
            raise InputError(
                f"group_by must include flow_id and flow_message_id (missing {missing[0]})",
                pointer="/data/attributes/group_by",
            )
        return tuple(dict.fromkeys(self.group_by))


class SeriesAttributes(ReportAttributes):
    """What a flow series report asks for: a values report, per interval."""

    interval: Interval


class _ValuesData(BaseModel):
    model_config = _STRICT
    type: Literal["flow-values-report"]
    attributes: ReportAttributes


class _SeriesData(BaseModel):
    model_config = _STRICT
    type: Literal["flow-series-report"]
    attributes: SeriesAttributes


class FlowValuesRequest(BaseModel):
    """The body of ``POST /api/flow-values-reports``."""

    model_config = _STRICT
    data: _ValuesData


class FlowSeriesRequest(BaseModel):
    """The body of ``POST /api/flow-series-reports``."""

    model_config = _STRICT
    data: _SeriesData


# --- time -------------------------------------------------------------------------------------

_TIMEFRAME_POINTER = "/data/attributes/timeframe"


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _month(day: date, months: int) -> date:
    """The first of the month ``months`` after (or before) ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def resolve_timeframe(
    timeframe: KeyTimeframe | CustomTimeframe, zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """The timeframe as ``[start, end)`` in UTC; weeks start on Monday, "last N days" are the
    N days that end with today (what happened today counts)."""
    if isinstance(timeframe, CustomTimeframe):
        try:
            start = timeframe.start.replace(tzinfo=zone).astimezone(UTC)
            end = timeframe.end.replace(tzinfo=zone).astimezone(UTC)
        except OverflowError as error:  # year 1 east of UTC, 9999 west of it
            raise InputError(
                "timeframe: a time with no UTC equivalent", pointer=_TIMEFRAME_POINTER
            ) from error
        if end <= start:
            raise InputError("timeframe.end must be after its start", pointer=_TIMEFRAME_POINTER)
        if end - start > _LONGEST:
            raise InputError("a timeframe is at most a year long", pointer=_TIMEFRAME_POINTER)
        return start, end
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    january = today.replace(month=1, day=1)
    days = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90, "last_365_days": 365}
    key = timeframe.key
    if key in days:
        until = today + timedelta(days=1)
        since = until - timedelta(days=days[key])
    else:
        since, until = {
            "today": (today, today + timedelta(days=1)),
            "yesterday": (today - timedelta(days=1), today),
            "this_week": (monday, monday + timedelta(days=7)),
            "last_week": (monday - timedelta(days=7), monday),
            "this_month": (first, _month(first, 1)),
            "last_month": (_month(first, -1), first),
            "last_3_months": (_month(first, -3), first),
            "last_12_months": (_month(first, -12), first),
            "this_year": (january, january.replace(year=january.year + 1)),
            "last_year": (january.replace(year=january.year - 1), january),
        }[key]
    return _midnight(since, zone), _midnight(until, zone)


def buckets(start: datetime, end: datetime, interval: str, zone: ZoneInfo) -> list[datetime]:
    """The starts (UTC) of the intervals that cover ``[start, end)``: hours, or days, weeks
    (from Monday) and months beginning at midnight in ``zone``; a 400 for a timeframe too long
    for the interval."""
    if end - start > _INTERVAL_LIMITS[interval]:
        days = _INTERVAL_LIMITS[interval].days
        raise InputError(
            f"a {interval} series covers at most {days} days; shorten the timeframe",
            pointer="/data/attributes/interval",
        )
    if interval == "hourly":
        first = start.replace(minute=0, second=0, microsecond=0)
        count = -(-(end - first) // timedelta(hours=1))
        return [first + timedelta(hours=n) for n in range(count)]
    day = start.astimezone(zone).date()
    if interval == "weekly":
        day -= timedelta(days=day.weekday())
    elif interval == "monthly":
        day = day.replace(day=1)
    starts: list[datetime] = []
    while (moment := _midnight(day, zone)) < end:
        starts.append(moment)
        if interval == "daily":
            day += timedelta(days=1)
        elif interval == "weekly":
            day += timedelta(days=7)
        else:
            day = _month(day, 1)
    return starts


def bucket_of(starts: Sequence[datetime], moment: datetime) -> int:
    """The index of the interval ``moment`` falls in (``starts`` as ``buckets`` gives them)."""
    return max(bisect.bisect_right(starts, moment) - 1, 0)


# --- statistics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Engagement:
    """One engagement of a flow email (``kind``: received, opened, clicked, bounced,
    unsubscribed), as reports read it."""

    flow_id: str
    step_id: str
    kind: str
    machine: bool
    delivery_id: str
    profile_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Failure:
    """A flow email given up for a reason other than a bounce."""

    flow_id: str
    step_id: str
    delivery_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Conversion:
    """An event of the conversion metric credited to a flow email."""

    flow_id: str
    step_id: str
    profile_id: str
    at: datetime
    value: Decimal | None


def _rate(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def _money(value: Decimal) -> float:
    return float(round(value, 2))


@dataclass(slots=True)
class Tally:
    """What happened to the emails of one group (in one interval)."""

    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    opens: int = 0
    clicks: int = 0
    unsubscribes: int = 0
    conversions: int = 0
    conversion_value: Decimal = Decimal(0)
    opened: set[str] = field(default_factory=set)
    clicked: set[str] = field(default_factory=set)
    unsubscribed: set[str] = field(default_factory=set)
    converted: set[str] = field(default_factory=set)

    def add(self, item: Engagement | Failure | Conversion) -> None:
        if isinstance(item, Failure):
            self.failed += 1
        elif isinstance(item, Conversion):
            self.conversions += 1
            self.converted.add(item.profile_id)
            self.conversion_value += item.value or Decimal(0)
        elif item.kind == "received":
            self.delivered += 1
        elif item.kind == "bounced":
            self.bounced += 1
        elif item.kind == "opened":
            self.opens += 1
            self.opened.add(item.delivery_id)
        elif item.kind == "clicked" and not item.machine:
            self.clicks += 1
            self.clicked.add(item.delivery_id)
        elif item.kind == "unsubscribed":
            self.unsubscribes += 1
            self.unsubscribed.add(item.profile_id)

    def merge(self, other: Tally) -> None:
        """Adds another group's (or interval's) tally to this one."""
        for name in ("delivered", "bounced", "failed", "opens", "clicks", "unsubscribes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.conversions += other.conversions
        self.conversion_value += other.conversion_value
        self.opened |= other.opened
        self.clicked |= other.clicked
        self.unsubscribed |= other.unsubscribed
        self.converted |= other.converted

    def statistic(self, name: str) -> float | int:
        """One statistic's value (see the module's definitions)."""
        recipients = self.delivered + self.bounced + self.failed
        value = self.conversion_value
        figures: dict[str, float | int] = {
            "recipients": recipients,
            "delivered": self.delivered,
            "delivery_rate": _rate(self.delivered, recipients),
            "bounced": self.bounced,
            "bounce_rate": _rate(self.bounced, recipients),
            "failed": self.failed,
            "failed_rate": _rate(self.failed, recipients),
            "bounced_or_failed": self.bounced + self.failed,
            "bounced_or_failed_rate": _rate(self.bounced + self.failed, recipients),
            "opens": self.opens,
            "opens_unique": len(self.opened),
            "open_rate": _rate(len(self.opened), self.delivered),
            "clicks": self.clicks,
            "clicks_unique": len(self.clicked),
            "click_rate": _rate(len(self.clicked), self.delivered),
            "click_to_open_rate": _rate(len(self.clicked), len(self.opened)),
            "conversions": self.conversions,
            "conversion_uniques": len(self.converted),
            "conversion_value": _money(value),
            "conversion_rate": _rate(len(self.converted), self.delivered),
            "revenue_per_recipient": _money(value / self.delivered) if self.delivered else 0.0,
            "average_order_value": _money(value / self.conversions) if self.conversions else 0.0,
            "unsubscribes": self.unsubscribes,
            "unsubscribe_uniques": len(self.unsubscribed),
            "unsubscribe_rate": _rate(len(self.unsubscribed), self.delivered),
        }
        return figures.get(name, 0)


def tally_groups(
    items: Iterable[Engagement | Failure | Conversion],
) -> dict[tuple[str, str], Tally]:
    """The items' tallies by (flow, message)."""
    tallies: dict[tuple[str, str], Tally] = {}
    for item in items:
        tallies.setdefault((item.flow_id, item.step_id), Tally()).add(item)
    return tallies
