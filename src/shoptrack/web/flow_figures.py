"""What flows earned, as the web UI shows it: recipients, open and click rates, conversions,
revenue and revenue per recipient of a flow and of each of its emails over the period chosen
(see ``periods.py``) beside the period before, with charts per day (per week past 60 days).
Conversions are the orders credited to the emails (attribution), whatever store they came
from; revenue is kept per currency, never added across currencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection

from shoptrack.domain.flow_reports import Tally, bucket_of, buckets
from shoptrack.flows.reports import ReportRow, collect
from shoptrack.store.flow_reports import Credit, credited_orders
from shoptrack.store.flows import FlowRecord
from shoptrack.web.charts import Chart
from shoptrack.web.period_figures import Totals, period_chart
from shoptrack.web.periods import Period

__all__ = ["FlowFigures", "Performance", "flow_figures", "revenue_totals"]

# Flow reports count days for two months at most (see domain/flow_reports.py).
_MOST_DAYS_BY_DAY = 60


@dataclass(frozen=True, slots=True)
class Performance:
    """A flow's or an email's figures over a period; revenue per currency."""

    recipients: int
    open_rate: float
    click_rate: float
    conversions: int
    delivered: int
    revenue: dict[str, Decimal] = field(default_factory=dict)

    @property
    def revenue_per_recipient(self) -> dict[str, Decimal]:
        """Revenue per email delivered, in each currency."""
        return {
            currency: value / self.delivered if self.delivered else Decimal(0)
            for currency, value in self.revenue.items()
        }

    @classmethod
    def of(cls, tally: Tally, credits: list[Credit]) -> Performance:
        revenue: dict[str, Decimal] = {}
        for credit in credits:
            revenue[credit.currency] = revenue.get(credit.currency, Decimal(0)) + credit.value
        return cls(
            recipients=int(tally.statistic("recipients")),
            open_rate=float(tally.statistic("open_rate")),
            click_rate=float(tally.statistic("click_rate")),
            conversions=tally.conversions,
            delivered=tally.delivered,
            revenue=dict(sorted(revenue.items())),
        )


@dataclass(frozen=True, slots=True)
class FlowFigures:
    """A flow's performance over ``period``, per email, and its charts; the same figures of
    the period before when compared."""

    period: Period
    per: str  # "day" or "week": what a bar of the charts counts
    total: Performance
    by_step: dict[str, Performance]
    previous: Performance | None
    previous_by_step: dict[str, Performance]
    recipients_chart: Chart
    revenue_charts: list[tuple[str, Chart]]  # one per currency


@dataclass(frozen=True, slots=True)
class _Measured:
    starts: list[datetime]
    rows: list[ReportRow]
    credits: list[Credit]

    def performance(self) -> tuple[Performance, dict[str, Performance]]:
        total = Tally()
        by_step: dict[str, Performance] = {}
        for row in self.rows:
            step_total = Tally()
            for tally in row.tallies:
                step_total.merge(tally)
            total.merge(step_total)
            credited = [credit for credit in self.credits if credit.step_id == row.step_id]
            by_step[row.step_id] = Performance.of(step_total, credited)
        return Performance.of(total, self.credits), by_step

    def revenue(self, currency: str, step_id: str | None = None) -> list[Decimal]:
        """Credited revenue in ``currency`` per bucket, of one email or all."""
        found = [Decimal(0)] * len(self.starts)
        for credit in self.credits:
            if credit.currency == currency and step_id in (None, credit.step_id):
                found[bucket_of(self.starts, credit.time)] += credit.value
        return found


def _measure(connection: Connection, flow: FlowRecord, period: Period, interval: str) -> _Measured:
    starts = buckets(period.start, period.end, interval, period.zone)
    rows = [
        row
        for row in collect(connection, flow.account_id, period.start, period.end, starts=starts)
        if row.flow.id == flow.id
    ]
    credits = credited_orders(connection, flow.account_id, flow.id, period.start, period.end)
    return _Measured(starts, rows, credits)


def flow_figures(connection: Connection, flow: FlowRecord, period: Period) -> FlowFigures:
    interval = "weekly" if period.days > _MOST_DAYS_BY_DAY else "daily"
    now, before = period.and_previous(lambda when: _measure(connection, flow, when, interval))
    total, by_step = now.performance()
    previous, previous_by_step = before.performance() if before else (None, {})
    names = {step.id: step.name for step in flow.definition.messages()}
    labels = [moment.astimezone(period.zone).strftime("%d %b") for moment in now.starts]
    if interval == "weekly":
        labels = [f"week of {label}" for label in labels]
    recipients = [
        (names.get(row.step_id, row.step_id), [int(t.statistic("recipients")) for t in row.tallies])
        for row in now.rows
    ]
    earlier = (
        [[int(t.statistic("recipients")) for t in row.tallies] for row in before.rows]
        if before
        else None
    )
    currencies = sorted(
        {credit.currency for credit in now.credits + (before.credits if before else [])}
    )
    revenue_charts = []
    for currency in currencies or [""]:
        steps = [row.step_id for row in now.rows]
        revenue_charts.append(
            (
                currency,
                period_chart(
                    labels,
                    [
                        (names.get(step_id, step_id), now.revenue(currency, step_id))
                        for step_id in steps
                    ]
                    or [("Revenue", [Decimal(0)] * len(labels))],
                    [before.revenue(currency)] if before else None,
                    period,
                    money=True,
                ),
            )
        )
    return FlowFigures(
        period=period,
        per="week" if interval == "weekly" else "day",
        total=total,
        by_step=by_step,
        previous=previous,
        previous_by_step=previous_by_step,
        recipients_chart=period_chart(
            labels, recipients or [("Recipients", [0] * len(labels))], earlier, period
        ),
        revenue_charts=revenue_charts,
    )


def revenue_totals(revenue: dict[str, Decimal]) -> Totals:
    """Revenue per currency as the ``amounts`` macro shows it."""
    return Totals(dict.fromkeys(revenue, 1), revenue)
