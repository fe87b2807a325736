"""A period's figures for Home, the Metrics list and a metric's page: event counts, summed
values per source and per currency and profiles with events, the same for the period before
it, and their charts.

Amounts are never added across currencies: every value is kept under its currency (``""`` for
events without one), and a total of several sources adds each currency on its own. The figures
come from the hourly rollups, which keep each currency and test orders apart (see
``store/aggregates.py``); test orders' events are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from shoptrack.domain.buckets import Buckets, Interval
from shoptrack.store.aggregates import AggregateQuery, Series, aggregate
from shoptrack.web.charts import Chart, chart
from shoptrack.web.periods import Period
from shoptrack.web.queries import source_label

__all__ = [
    "TOTALS_ONLY",
    "Charted",
    "MetricGroup",
    "SourceFigures",
    "Totals",
    "change",
    "combined_totals",
    "count_chart",
    "counts",
    "metric_groups",
    "period_chart",
    "source_figures",
    "unique_profiles",
    "value_charts",
    "values",
]

_BY_CURRENCY = ("$value_currency",)
_UNIQUE = ("unique",)


@dataclass(frozen=True, slots=True)
class Totals:
    """How many events, and their summed value per currency (currencies by code)."""

    counts: dict[str, int] = field(default_factory=dict)
    values: dict[str, Decimal] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Events of every currency: a count, unlike an amount, adds up across them."""
        return sum(self.counts.values())

    @property
    def currencies(self) -> list[str]:
        return sorted(self.counts)

    def average(self, currency: str) -> Decimal | None:
        """The mean value of the events in ``currency`` (an order's average value)."""
        count = self.counts.get(currency, 0)
        return self.values.get(currency, Decimal(0)) / count if count else None

    @classmethod
    def of(cls, by_currency: Mapping[str, Series]) -> Totals:
        counts: dict[str, int] = {}
        values: dict[str, Decimal] = {}
        for currency, series in sorted(by_currency.items()):
            if sum(series.count):
                counts[currency] = sum(series.count)
                values[currency] = sum(series.sum_value, Decimal(0))
        return cls(counts, values)

    @classmethod
    def combined(cls, parts: Iterable[Totals]) -> Totals:
        counts: dict[str, int] = {}
        values: dict[str, Decimal] = {}
        for part in parts:
            for currency, count in part.counts.items():
                counts[currency] = counts.get(currency, 0) + count
                values[currency] = values.get(currency, Decimal(0)) + part.values[currency]
        return cls(dict(sorted(counts.items())), dict(sorted(values.items())))


@dataclass(frozen=True, slots=True)
class SourceFigures:
    """One metric (of one source) over a period: its totals and, when charted, its series per
    currency in the period's buckets; the same for the previous period when compared."""

    metric_id: str
    label: str
    platform: str  # the source's platform, "api" for events sent through the API
    totals: Totals
    previous: Totals | None
    series: dict[str, Series]
    previous_series: dict[str, Series]


def combined_totals(
    sources: Sequence[SourceFigures], period: Period
) -> tuple[Totals, Totals | None]:
    """Every source's totals together, and the previous period's together (None when the
    period is not compared)."""
    totals = Totals.combined(source.totals for source in sources)
    if not period.compare:
        return totals, None
    previous = (source.previous for source in sources if source.previous is not None)
    return totals, Totals.combined(previous)


def counts(series: Mapping[str, Series], length: int) -> list[int]:
    """Events per bucket, every currency together, in ``length`` buckets (a previous period
    counted in weeks can have one more or one less than this one)."""
    found = [0] * length
    for measured in series.values():
        for index, count in enumerate(measured.count[:length]):
            found[index] += count
    return found


def values(series: Mapping[str, Series], currency: str, length: int) -> list[Decimal]:
    """Summed values per bucket in ``currency`` (zeros when it had none), in ``length``
    buckets."""
    found = [Decimal(0)] * length
    for index, value in enumerate(
        series[currency].sum_value[:length] if currency in series else []
    ):
        found[index] = value
    return found


@dataclass(frozen=True, slots=True)
class Charted:
    """How a period's figures are counted: bucket by bucket in ``interval`` (the period's own
    when None) or, when not ``by_bucket``, the whole period as one; test orders' events only
    when ``include_test``."""

    by_bucket: bool = True
    interval: Interval | None = None
    include_test: bool = False

    def buckets(self, period: Period) -> Buckets:
        # Totals alone are one bucket: the whole period.
        if not self.by_bucket:
            return Buckets((period.start, period.end))
        return period.buckets(self.interval)


TOTALS_ONLY = Charted(by_bucket=False)


def _measured(
    connection: Connection,
    account_id: str,
    metric_id: str,
    period: Period,
    charted: Charted,
    *,
    measurements: tuple[str, ...] = ("count", "sum_value"),
) -> dict[str, Series]:
    # Events of the period only: a week or month bucket can start before it or end after it.
    found = aggregate(
        connection,
        AggregateQuery(
            account_id=account_id,
            metric_id=metric_id,
            start=period.start,
            end=period.end,
            buckets=charted.buckets(period),
            measurements=measurements,
            by=_BY_CURRENCY if "unique" not in measurements else (),
            include_test=charted.include_test,
        ),
    )
    return {key[0] if key else "": series for key, series in found.items()}


def source_figures(
    connection: Connection,
    account_id: str,
    metric_rows: list[Row[Any]],
    period: Period,
    charted: Charted,
) -> list[SourceFigures]:
    """The figures of each metric in ``period`` (bucket by bucket when ``charted`` so), and
    of the previous period when ``period.compare``."""
    before = period.previous()
    found = []
    for row in metric_rows:
        now = _measured(connection, account_id, row.id, period, charted)
        then = (
            _measured(connection, account_id, row.id, before, charted) if period.compare else None
        )
        found.append(
            SourceFigures(
                metric_id=row.id,
                label=source_label(row),
                platform=row.integration_platform or "api",
                totals=Totals.of(now),
                previous=None if then is None else Totals.of(then),
                series=now if charted.by_bucket else {},
                previous_series=then if charted.by_bucket and then is not None else {},
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class MetricGroup:
    """A metric name with every source's events together, and each source on its own."""

    name: str
    sources: list[SourceFigures]
    totals: Totals
    previous: Totals | None


def metric_groups(
    connection: Connection, account_id: str, metric_rows: list[Row[Any]], period: Period
) -> list[MetricGroup]:
    """The metrics of ``metric_rows`` by name, in name order, each source's totals in
    ``period`` beside the previous period's (when compared). A removed integration's metric
    is left out unless it had events in either period."""
    figures = source_figures(connection, account_id, metric_rows, period, TOTALS_ONLY)
    named: dict[str, list[SourceFigures]] = {}
    for row, found in zip(metric_rows, figures, strict=True):
        had_events = found.totals.count or (found.previous is not None and found.previous.count)
        if row.integration_removed_at is None or had_events:
            named.setdefault(row.name, []).append(found)
    groups = []
    for name, sources in sorted(named.items(), key=lambda item: item[0].lower()):
        totals, previous = combined_totals(sources, period)
        shown = sorted(sources, key=lambda source: source.label.lower())
        groups.append(MetricGroup(name=name, sources=shown, totals=totals, previous=previous))
    return groups


def unique_profiles(
    connection: Connection,
    account_id: str,
    metric_rows: list[Row[Any]],
    period: Period,
    charted: Charted,
) -> list[tuple[list[int], list[int] | None]]:
    """Each metric's profiles with events, bucket by bucket, in ``period`` and (when compared)
    in the previous period."""

    def unique(metric_id: str, when: Period) -> list[int]:
        found = _measured(connection, account_id, metric_id, when, charted, measurements=_UNIQUE)
        return found[""].unique

    before = period.previous()
    return [
        (unique(row.id, period), unique(row.id, before) if period.compare else None)
        for row in metric_rows
    ]


def period_chart(
    labels: list[str],
    sources: Sequence[tuple[str, Sequence[int] | Sequence[Decimal]]],
    previous: Sequence[Sequence[int] | Sequence[Decimal]] | None,
    period: Period,
    *,
    money: bool = False,
    scale: str = "full",
) -> Chart:
    """A chart of ``sources`` stacked, with ``previous`` (each source's figures of the period
    before, in as many buckets or one more or fewer) added up as one dashed line."""
    length = len(labels)
    before = None
    if previous is not None:
        summed: list[Decimal] = [Decimal(0)] * length
        for earlier in previous:
            for index in range(min(length, len(earlier))):
                summed[index] += earlier[index]
        shown = summed if money else [int(value) for value in summed]
        before = (f"Previous {period.days} days", shown)
    return chart(labels, sources, money=money, scale=scale, previous=before)


def count_chart(
    figures: list[SourceFigures], period: Period, labels: list[str], scale: str = "full"
) -> Chart:
    """Events per bucket, sources stacked, every currency together."""
    length = len(labels)
    return period_chart(
        labels,
        [(source.label, counts(source.series, length)) for source in figures],
        [counts(source.previous_series, length) for source in figures] if period.compare else None,
        period,
        scale=scale,
    )


def value_charts(
    figures: list[SourceFigures], period: Period, labels: list[str], scale: str = "full"
) -> list[tuple[str, Chart]]:
    """One chart of summed values per currency (``""`` alone when no event had a value),
    sources stacked: amounts in different currencies are never added."""
    length = len(labels)
    currencies = {
        currency
        for source in figures
        for totals in (source.totals, source.previous)
        if totals is not None
        for currency in totals.counts
    }
    charts = []
    for currency in sorted(currencies) or [""]:
        had = [
            source
            for source in figures
            if currency in source.totals.counts
            or (source.previous is not None and currency in source.previous.counts)
        ]
        charts.append(
            (
                currency,
                period_chart(
                    labels,
                    [
                        (source.label, values(source.series, currency, length))
                        for source in had or figures
                    ],
                    [values(source.previous_series, currency, length) for source in figures]
                    if period.compare
                    else None,
                    period,
                    money=True,
                    scale=scale,
                ),
            )
        )
    return charts


def change(current: int | Decimal, previous: int | Decimal | None) -> str:
    """The change from ``previous`` to ``current`` as people read it: "+12%", "-4%" (with a
    minus sign), "new", "no change"; "" when there is nothing to compare."""
    if previous is None:
        return ""
    if previous == 0:
        return "no change" if current == 0 else "new"
    ratio = (Decimal(current) - Decimal(previous)) / Decimal(previous) * 100
    rounded = round(ratio)
    if rounded == 0:
        return "no change" if current == previous else ("+<1%" if ratio > 0 else "\u2212<1%")
    return f"+{rounded}%" if rounded > 0 else f"\u2212{-rounded}%"
