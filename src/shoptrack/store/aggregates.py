"""Metric aggregates: how many events a metric had, their summed value and how many profiles had
them, per time bucket and per dimension value, within one account.

Where the numbers come from:

- ``count`` and ``sum_value`` come from the hourly rollups whenever every bucket boundary is the
  start of a UTC hour — true in every time zone whose offset is a whole number of hours — so a
  year of a busy metric reads at most 8,784 rollup rows instead of every event. The partial
  hours at the ends of a range that does not start or end on the hour come from the events
  table.
  Rollups are kept per currency, so grouping or filtering by ``$value_currency`` reads them
  too (an event without a currency is under ``""`` in both).
- The events table answers alone for time zones whose offset is not a whole number of hours
  (India, Nepal, parts of Australia: their buckets split UTC hours).
- ``unique`` always comes from the events table: a distinct count per hour cannot be added up
  into a distinct count per day. It is exact.

Each row is put in its bucket by SQL arithmetic on epoch seconds (see ``Buckets.runs``), the same
on SQLite and PostgreSQL, so grouping happens in the database in every case — except for
``unique`` on PostgreSQL, which counts each bucket's distinct profiles apart (a lateral subquery
per bucket over its slice of the metric's time index, ids compared byte by byte): a month of the
busiest metric then sorts thirty days of a few thousand ids each rather than all its events at
once, in about half the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Label,
    and_,
    case,
    column,
    distinct,
    func,
    literal,
    or_,
    select,
    true,
    values,
)

from shoptrack.domain.buckets import Buckets, Run
from shoptrack.store.schema import events, metric_rollups
from shoptrack.store.sql import epoch_seconds
from shoptrack.store.types import UTCDateTime

__all__ = ["DIMENSIONS", "AggregateQuery", "Series", "aggregate"]

# The dimensions of Klaviyo's ``by`` list that shoptrack records, and the column holding each.
DIMENSIONS = {"$value_currency": events.c.value_currency}
# The same dimensions in the hourly rollups (which keep each currency apart).
_ROLLUP_DIMENSIONS = {"$value_currency": metric_rollups.c.currency}

_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """One metric's events in ``[start, end)``, counted in ``buckets``.

    ``by`` names dimensions of ``DIMENSIONS`` to group by; ``equals`` keeps only events whose
    dimension has the given value, as ``(dimension, value)`` pairs.
    """

    account_id: str
    metric_id: str
    start: datetime
    end: datetime
    buckets: Buckets
    measurements: tuple[str, ...]
    by: tuple[str, ...] = ()
    equals: tuple[tuple[str, str], ...] = ()
    include_test: bool = True  # test orders' events (the web UI's charts leave them out)


@dataclass(slots=True)
class Series:
    """The values of each measurement, bucket by bucket, for one combination of dimension
    values (a measurement that was not asked for stays all zeros)."""

    count: list[int]
    sum_value: list[Decimal]
    unique: list[int]

    @classmethod
    def zeros(cls, length: int) -> Series:
        return cls([0] * length, [Decimal(0)] * length, [0] * length)


def _bucket_index(epoch: ColumnElement[int], runs: Sequence[Run]) -> ColumnElement[int]:
    """The bucket of each row: one CASE branch per run of equal-length buckets, a handful a
    year however many buckets there are."""
    branches = [
        (epoch < run.end, literal(run.first, BigInteger) + (epoch - run.start) // run.width)
        for run in runs
    ]
    return case(*branches)


def _time_spans(column: Any, spans: Sequence[tuple[datetime, datetime]]) -> ColumnElement[bool]:
    return or_(*(and_(column >= since, column < before) for since, before in spans))


def _rollup_span(query: AggregateQuery) -> tuple[datetime, datetime] | None:
    """The whole UTC hours of the range that rollups can answer for, if any."""
    named = {*query.by, *(name for name, _ in query.equals)}
    if not named <= _ROLLUP_DIMENSIONS.keys() or not query.buckets.on_whole_hours:
        return None
    # In UTC: a bound written as 10:00+05:30 is not on a rollup hour.
    start, end = query.start.astimezone(UTC), query.end.astimezone(UTC)
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += _HOUR
    last = end.replace(minute=0, second=0, microsecond=0)
    return (first, last) if first < last else None


def _add_rollups(
    connection: Connection,
    query: AggregateQuery,
    span: tuple[datetime, datetime],
    series: dict[tuple[str, ...], Series],
) -> None:
    epoch = epoch_seconds(connection.dialect.name, metric_rollups.c.hour)
    dimensions = [
        _ROLLUP_DIMENSIONS[name].label(f"dimension_{index}") for index, name in enumerate(query.by)
    ]
    rows = select(
        _bucket_index(epoch, query.buckets.runs()).label("bucket"),
        *dimensions,
        metric_rollups.c.count,
        metric_rollups.c.value_sum,
    ).where(
        metric_rollups.c.account_id == query.account_id,
        metric_rollups.c.metric_id == query.metric_id,
        _time_spans(metric_rollups.c.hour, [span]),
        *(_ROLLUP_DIMENSIONS[name] == value for name, value in query.equals),
        *(() if query.include_test else (metric_rollups.c.test.is_(False),)),
    )
    inner = rows.subquery()
    # Grouping on a subquery's columns, not on the CASE itself: PostgreSQL cannot tell that a
    # GROUP BY expression equals the selected one when each carries its own bind parameters.
    keys = [inner.c.bucket, *(inner.c[f"dimension_{index}"] for index in range(len(query.by)))]
    grouped = select(*keys, func.sum(inner.c.count), func.sum(inner.c.value_sum)).group_by(*keys)
    for row in connection.execute(grouped):
        bucket, key = row[0], tuple(row[1 : len(keys)])
        count, value_sum = row[len(keys)], row[len(keys) + 1]
        entry = series.setdefault(key, Series.zeros(len(query.buckets)))
        entry.count[bucket] += int(count)
        entry.sum_value[bucket] += value_sum or Decimal(0)


def _event_dimensions(query: AggregateQuery) -> list[Label[Any]]:
    """The ``by`` dimensions of events, labelled ``dimension_N`` (an absent one reads "")."""
    return [
        func.coalesce(DIMENSIONS[name], "").label(f"dimension_{index}")
        for index, name in enumerate(query.by)
    ]


def _event_filters(query: AggregateQuery) -> list[ColumnElement[bool]]:
    """Which of the account's events ``query`` counts, time aside."""
    return [
        events.c.account_id == query.account_id,
        events.c.metric_id == query.metric_id,
        *(DIMENSIONS[name] == value for name, value in query.equals),
        *(() if query.include_test else (events.c.test.is_(False),)),
    ]


def _add_events(
    connection: Connection,
    query: AggregateQuery,
    spans: Sequence[tuple[datetime, datetime]],
    series: dict[tuple[str, ...], Series],
    *,
    totals: bool,
    unique: bool,
) -> None:
    epoch = epoch_seconds(connection.dialect.name, events.c.time)
    rows = select(
        _bucket_index(epoch, query.buckets.runs()).label("bucket"),
        *_event_dimensions(query),
        events.c.value,
        events.c.profile_id,
    ).where(*_event_filters(query), _time_spans(events.c.time, spans))
    inner = rows.subquery()
    keys = [inner.c.bucket, *(inner.c[f"dimension_{index}"] for index in range(len(query.by)))]
    measures: list[Any] = [func.count(), func.sum(inner.c.value)] if totals else []
    if unique:
        measures.append(func.count(distinct(inner.c.profile_id)))
    for row in connection.execute(select(*keys, *measures).group_by(*keys)):
        bucket, key, values = row[0], tuple(row[1 : len(keys)]), row[len(keys) :]
        entry = series.setdefault(key, Series.zeros(len(query.buckets)))
        if totals:
            entry.count[bucket] += int(values[0])
            entry.sum_value[bucket] += values[1] or Decimal(0)
        if unique:
            entry.unique[bucket] = int(values[-1])


def _add_uniques_per_bucket(
    connection: Connection, query: AggregateQuery, series: dict[tuple[str, ...], Series]
) -> None:
    """``unique`` on PostgreSQL: each bucket's distinct profiles counted by a lateral
    subquery over the bucket's own time range."""
    spans = [
        (index, max(since, query.start), min(until, query.end))
        for index, (since, until) in enumerate(pairwise(query.buckets.boundaries))
    ]
    spans = [span for span in spans if span[1] < span[2]]
    if not spans:
        return
    bounds = values(
        column("bucket", Integer),
        column("since", UTCDateTime()),
        column("until", UTCDateTime()),
        name="bounds",
    ).data(spans)
    dimensions = _event_dimensions(query)
    per_bucket = (
        select(
            *dimensions,
            # "C": byte order, the cheapest sort for ids (any collation agrees on equality).
            func.count(distinct(events.c.profile_id.collate("C"))).label("profiles"),
        )
        .where(
            *_event_filters(query),
            events.c.time >= bounds.c.since,
            events.c.time < bounds.c.until,
        )
        .group_by(*(dimension.element for dimension in dimensions))
        .lateral("per_bucket")
    )
    keys = [per_bucket.c[f"dimension_{index}"] for index in range(len(query.by))]
    rows = connection.execute(
        select(bounds.c.bucket, *keys, per_bucket.c.profiles).select_from(
            bounds.join(per_bucket, true())
        )
    )
    for row in rows:
        entry = series.setdefault(tuple(row[1:-1]), Series.zeros(len(query.buckets)))
        entry.unique[row[0]] = int(row[-1])


def aggregate(connection: Connection, query: AggregateQuery) -> dict[tuple[str, ...], Series]:
    """The measurements of ``query``, keyed by dimension values in ``query.by`` order.

    Without ``by`` there is exactly one series (key ``()``), zeros included; with it, one per
    combination of dimension values that had events (an event without the dimension counts
    under ``""``).
    """
    series: dict[tuple[str, ...], Series] = {}
    if not query.by:
        series[()] = Series.zeros(len(query.buckets))
    totals = "count" in query.measurements or "sum_value" in query.measurements
    unique = "unique" in query.measurements
    if totals:
        _add_totals(connection, query, series)
    if unique:
        _add_uniques(connection, query, series)
    return series


def _add_totals(
    connection: Connection, query: AggregateQuery, series: dict[tuple[str, ...], Series]
) -> None:
    span = _rollup_span(query)
    if span is None:
        whole = [(query.start, query.end)]
        _add_events(connection, query, whole, series, totals=True, unique=False)
        return
    _add_rollups(connection, query, span, series)
    ends = ((query.start, span[0]), (span[1], query.end))
    edges = [(since, before) for since, before in ends if since < before]
    if edges:
        _add_events(connection, query, edges, series, totals=True, unique=False)


def _add_uniques(
    connection: Connection, query: AggregateQuery, series: dict[tuple[str, ...], Series]
) -> None:
    if connection.dialect.name == "postgresql":
        _add_uniques_per_bucket(connection, query, series)
    else:
        whole = [(query.start, query.end)]
        _add_events(connection, query, whole, series, totals=False, unique=True)
