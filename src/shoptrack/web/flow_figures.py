"""What flows earned, as the web UI shows it: recipients, open and click rates, conversions,
revenue and revenue per recipient of a flow and of each of its emails over a chosen period,
with charts per day (per week over 90 days). Conversions are the orders credited to the emails
(attribution), whatever store they came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from shoptrack.domain.flow_reports import KeyTimeframe, Tally, buckets, resolve_timeframe
from shoptrack.flows.reports import collect
from shoptrack.store.flows import FlowRecord
from shoptrack.web.charts import Chart, chart

__all__ = ["PERIODS", "FlowFigures", "Performance", "flow_figures", "revenue_by_flow"]

# The periods a flow's page offers, in days, and the one it shows first.
PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30


@dataclass(frozen=True, slots=True)
class Performance:
    """A flow's or an email's figures over a period."""

    recipients: int
    open_rate: float
    click_rate: float
    conversions: int
    revenue: Decimal
    revenue_per_recipient: Decimal

    @classmethod
    def of(cls, tally: Tally) -> Performance:
        delivered = tally.delivered
        return cls(
            recipients=int(tally.statistic("recipients")),
            open_rate=float(tally.statistic("open_rate")),
            click_rate=float(tally.statistic("click_rate")),
            conversions=tally.conversions,
            revenue=tally.conversion_value,
            revenue_per_recipient=tally.conversion_value / delivered if delivered else Decimal(0),
        )


@dataclass(frozen=True, slots=True)
class FlowFigures:
    """A flow's performance over ``days`` days (ending today), per email, and its charts."""

    days: int
    start: datetime
    total: Performance
    by_step: dict[str, Performance]
    recipients_chart: Chart
    revenue_chart: Chart


def period(days: str | None) -> int:
    """The period asked for, one of ``PERIODS`` (the default for anything else)."""
    return int(days) if days in {str(value) for value in PERIODS} else DEFAULT_PERIOD


def _timeframe(days: int, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    key = {7: "last_7_days", 30: "last_30_days", 90: "last_90_days"}[days]
    return resolve_timeframe(KeyTimeframe.model_validate({"key": key}), zone, now)


def flow_figures(
    connection: Connection,
    flow: FlowRecord,
    *,
    days: int,
    zone: ZoneInfo,
    now: datetime,
) -> FlowFigures:
    start, end = _timeframe(days, zone, now)
    interval = "weekly" if days > 60 else "daily"
    starts = buckets(start, end, interval, zone)
    rows = [
        row
        for row in collect(connection, flow.account_id, start, end, starts=starts)
        if row.flow.id == flow.id
    ]
    total = Tally()
    by_step: dict[str, Performance] = {}
    for row in rows:
        step_total = Tally()
        for tally in row.tallies:
            step_total.merge(tally)
        total.merge(step_total)
        by_step[row.step_id] = Performance.of(step_total)
    names = {step.id: step.name for step in flow.definition.messages()}
    labels = [moment.astimezone(zone).strftime("%d %b") for moment in starts]
    if interval == "weekly":
        labels = [f"week of {label}" for label in labels]
    recipients = [
        (names.get(row.step_id, row.step_id), [int(t.statistic("recipients")) for t in row.tallies])
        for row in rows
    ]
    revenue = [
        (names.get(row.step_id, row.step_id), [t.conversion_value for t in row.tallies])
        for row in rows
    ]
    per = "week" if interval == "weekly" else "day"
    return FlowFigures(
        days=days,
        start=start,
        total=Performance.of(total),
        by_step=by_step,
        recipients_chart=chart(labels, recipients or [("Recipients", [0] * len(labels))]),
        revenue_chart=chart(
            labels,
            revenue or [("Revenue", [Decimal(0)] * len(labels))],
            money=True,
            title=f"Revenue per {per}",
        ),
    )


def revenue_by_flow(
    connection: Connection, account_id: str, *, days: int, zone: ZoneInfo, now: datetime
) -> dict[str, Decimal]:
    """Each flow's credited revenue over the last ``days`` days."""
    start, end = _timeframe(days, zone, now)
    revenue: dict[str, Decimal] = {}
    for row in collect(connection, account_id, start, end):
        revenue[row.flow.id] = (
            revenue.get(row.flow.id, Decimal(0)) + row.tallies[0].conversion_value
        )
    return revenue
