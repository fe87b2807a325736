"""A period's figures for Home and the Metrics list: event counts and summed values per source
and per currency, and the same for the period before it.

Amounts are never added across currencies: every value is kept under its currency (``""`` for
events without one), and a total of several sources adds each currency on its own. The figures
come from the hourly rollups, which keep each currency and test orders apart (see
``store/aggregates.py``); test orders' events are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from shoptrack.domain.buckets import Buckets
from shoptrack.store.aggregates import AggregateQuery, Series, aggregate
from shoptrack.web.periods import Period
from shoptrack.web.queries import source_label

__all__ = [
    "MetricGroup",
    "SourceFigures",
    "Totals",
    "change",
    "counts",
    "metric_groups",
    "source_figures",
    "values",
]

_BY_CURRENCY = ("$value_currency",)


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


def _measured(
    connection: Connection, account_id: str, metric_id: str, buckets: Buckets
) -> dict[str, Series]:
    found = aggregate(
        connection,
        AggregateQuery(
            account_id=account_id,
            metric_id=metric_id,
            start=buckets.boundaries[0],
            end=buckets.boundaries[-1],
            buckets=buckets,
            measurements=("count", "sum_value"),
            by=_BY_CURRENCY,
            include_test=False,
        ),
    )
    return {key[0]: series for key, series in found.items()}


def source_figures(
    connection: Connection,
    account_id: str,
    metric_rows: list[Row[Any]],
    period: Period,
    *,
    charted: bool,
) -> list[SourceFigures]:
    """The figures of each metric in ``period`` (bucket by bucket when ``charted``), and of
    the previous period when ``period.compare``."""
    before = period.previous()
    found = []
    for row in metric_rows:
        now = _measured(connection, account_id, row.id, _buckets(period, charted))
        then = (
            _measured(connection, account_id, row.id, _buckets(before, charted))
            if period.compare
            else None
        )
        found.append(
            SourceFigures(
                metric_id=row.id,
                label=source_label(row),
                platform=row.integration_platform or "api",
                totals=Totals.of(now),
                previous=None if then is None else Totals.of(then),
                series=now if charted else {},
                previous_series=then if charted and then is not None else {},
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
    figures = source_figures(connection, account_id, metric_rows, period, charted=False)
    named: dict[str, list[SourceFigures]] = {}
    for row, found in zip(metric_rows, figures, strict=True):
        had_events = found.totals.count or (found.previous is not None and found.previous.count)
        if row.integration_removed_at is None or had_events:
            named.setdefault(row.name, []).append(found)
    return [
        MetricGroup(
            name=name,
            sources=sorted(sources, key=lambda source: source.label.lower()),
            totals=Totals.combined(source.totals for source in sources),
            previous=None
            if not period.compare
            else Totals.combined(source.previous for source in sources if source.previous),
        )
        for name, sources in sorted(named.items(), key=lambda item: item[0].lower())
    ]


def _buckets(period: Period, charted: bool) -> Buckets:
    # Totals alone are one bucket: the whole period.
    return period.buckets() if charted else Buckets((period.start, period.end))


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
