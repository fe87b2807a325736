"""Flow reports: what each flow email earned, grouped by flow and message, over a timeframe or
per interval — the figures of ``POST /api/flow-values-reports`` and ``/api/flow-series-reports``
and of the web UI's flow pages (``domain.flow_reports`` defines each statistic)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from shoptrack.domain.flow_reports import (
    ReportAttributes,
    SeriesAttributes,
    Tally,
    bucket_of,
    buckets,
    resolve_timeframe,
)
from shoptrack.errors import InputError
from shoptrack.store.flow_reports import metric_exists, report_items
from shoptrack.store.flows import FlowRecord, list_flows

__all__ = ["FILTERABLE", "FlowReport", "ReportRow", "collect", "flow_report"]

# What a report's filter may name, as Klaviyo's flow reports do.
FILTERABLE = ("flow_id", "flow_message_id", "flow_name", "flow_message_name", "send_channel")
# More flows than an account has in practice.
_MAX_FLOWS = 10_000


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One flow message's figures: its groupings, and each statistic's tally (one per interval
    in a series)."""

    flow: FlowRecord
    step_id: str
    groupings: dict[str, str | None]
    tallies: list[Tally]


@dataclass(frozen=True, slots=True)
class FlowReport:
    """A report's rows (by flow, then message) and, for a series, its intervals' starts."""

    rows: list[ReportRow]
    date_times: list[datetime] | None
    start: datetime
    end: datetime
    zone: ZoneInfo

    def results(self, statistics: Sequence[str]) -> list[dict[str, Any]]:
        """The rows in Klaviyo's ``results`` shape: values, or lists of values for a series."""
        series = self.date_times is not None
        return [
            {
                "groupings": row.groupings,
                "statistics": {
                    name: [tally.statistic(name) for tally in row.tallies]
                    if series
                    else row.tallies[0].statistic(name)
                    for name in statistics
                },
            }
            for row in self.rows
        ]


def _step_names(flow: FlowRecord) -> dict[str, str | None]:
    return {step.id: getattr(step, "name", None) for step in flow.definition.actions}


def flow_report(
    connection: Connection,
    account_id: str,
    attributes: ReportAttributes,
    *,
    zone: ZoneInfo,
    now: datetime,
    keep: Callable[[Mapping[str, str | None]], bool] | None = None,
) -> FlowReport:
    """The report ``attributes`` ask for, of the messages whose description (their
    ``FILTERABLE`` attributes) ``keep`` keeps; a 400 naming the attribute that cannot be
    answered. The filter itself is the caller's to read."""
    grouping = attributes.grouping()
    if not metric_exists(connection, account_id, attributes.conversion_metric_id):
        raise InputError(
            f"no metric {attributes.conversion_metric_id} in this account: give the id of a "
            "Placed Order metric (GET /api/metrics)",
            pointer="/data/attributes/conversion_metric_id",
        )
    start, end = resolve_timeframe(attributes.timeframe, zone, now)
    starts = None
    if isinstance(attributes, SeriesAttributes):
        starts = buckets(start, end, attributes.interval, zone)
    rows = collect(
        connection,
        account_id,
        start,
        end,
        starts=starts,
        conversion_metric_id=attributes.conversion_metric_id,
        grouping=grouping,
        keep=keep,
    )
    return FlowReport(rows, starts, start, end, zone)


def collect(
    connection: Connection,
    account_id: str,
    start: datetime,
    end: datetime,
    *,
    starts: Sequence[datetime] | None = None,
    conversion_metric_id: str | None = None,
    grouping: Sequence[str] = (),
    keep: Callable[[Mapping[str, str | None]], bool] | None = None,
) -> list[ReportRow]:
    """The rows of flow messages with anything in ``[start, end)`` (by interval with
    ``starts``), crediting conversions of ``conversion_metric_id`` (of every metric without)."""
    flows = {flow.id: flow for flow in list_flows(connection, account_id, limit=_MAX_FLOWS)}
    names = {flow.id: _step_names(flow) for flow in flows.values()}
    rows: dict[tuple[str, str], ReportRow] = {}
    left_out: set[tuple[str, str]] = set()
    for item in report_items(connection, account_id, start, end, conversion_metric_id):
        flow = flows.get(item.flow_id)
        if flow is None:
            continue
        key = (item.flow_id, item.step_id)
        row = rows.get(key)
        if key in left_out:
            continue
        if row is None:
            description: dict[str, str | None] = {
                "flow_id": flow.id,
                "flow_name": flow.name,
                "flow_message_id": item.step_id,
                "flow_message_name": names[flow.id].get(item.step_id) or item.step_id,
                "send_channel": "email",
            }
            if keep is not None and not keep(description):
                left_out.add(key)
                continue
            tallies = [Tally() for _ in starts] if starts is not None else [Tally()]
            groupings = {name: description[name] for name in grouping}
            row = rows[key] = ReportRow(flow, item.step_id, groupings, tallies)
        row.tallies[bucket_of(starts, item.at) if starts is not None else 0].add(item)
    return [rows[key] for key in sorted(rows)]
