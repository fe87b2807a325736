"""Metrics: every metric by name over a period (all stores together, each on demand); a
metric's chart over time (count, value or unique
profiles by day, week or month, per integration) and its latest events."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, TypeVar, get_args

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.domain.buckets import Interval, make_buckets
from shoptrack.errors import NotFoundError
from shoptrack.store.accounts import account_settings
from shoptrack.store.events import metrics_by_id
from shoptrack.web.charts import bucket_labels, chart, range_for
from shoptrack.web.period_figures import metric_groups
from shoptrack.web.periods import read_period
from shoptrack.web.queries import (
    NamedSeries,
    event_page,
    metric_series,
    metrics_named,
    searched_metrics,
)
from shoptrack.web.routes._common import pages
from shoptrack.web.security import VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Measure = Literal["count", "value", "unique"]
MEASURES: dict[Measure, str] = {
    "count": "Events",
    "value": "Value (sum)",
    "unique": "Unique profiles",
}
INTERVALS: dict[Interval, str] = {"day": "Day", "week": "Week", "month": "Month"}
_Choice = TypeVar("_Choice", bound=str)
_MEASUREMENTS = {"count": ("count",), "value": ("sum_value",), "unique": ("unique",)}


@router.get("/metrics")
def metric_list(request: Request, visitor: VisitorDep) -> Response:
    """One row per metric name, every source together and each on its own, over the period
    chosen beside the one before; names without events in the period behind a toggle."""
    params = request.query_params
    search = params.get("q", "")[:200]
    show_zeros = params.get("zeros") == "show"
    services = services_of(request)
    with services.database.read() as connection:
        zone = account_settings(connection, visitor.account_id).zone
        period = read_period(params, services.clock.now(), zone)
        rows = searched_metrics(connection, visitor.account_id, search)
        groups = metric_groups(connection, visitor.account_id, rows, period)
    active = [group for group in groups if group.totals.count]
    return pages(request).render(
        request,
        "metrics/list.html",
        {
            "groups": groups if show_zeros else active,
            "without_events": len(groups) - len(active),
            "show_zeros": show_zeros,
            "search": search,
            "period": period,
        },
        visitor=visitor,
    )


def _choice(value: str | None, choices: tuple[_Choice, ...], default: _Choice) -> _Choice:
    for choice in choices:
        if value == choice:
            return choice
    return default


@router.get("/metrics/{metric_id}")
def metric_page(request: Request, metric_id: str, visitor: VisitorDep) -> Response:
    params = request.query_params
    measure = _choice(params.get("measure"), get_args(Measure), "count")
    interval = _choice(params.get("interval"), tuple(INTERVALS), "day")
    compare = params.get("compare") == "1"
    include_test = params.get("test") == "1"  # test orders stay out of charts unless asked for
    services = services_of(request)
    with services.database.read() as connection:
        zone = account_settings(connection, visitor.account_id).zone
        start, end = range_for(interval, services.clock.now(), zone)
        buckets = make_buckets(start, end, interval, zone)
        metric = metrics_by_id(connection, visitor.account_id, [metric_id]).get(metric_id)
        if metric is None:
            raise NotFoundError(f"no metric {metric_id} in this account", parameter="metric")
        siblings = metrics_named(connection, visitor.account_id, metric.name)
        shown = siblings if compare else [row for row in siblings if row.id == metric_id]
        measured = metric_series(
            connection,
            visitor.account_id,
            shown,
            buckets,
            _MEASUREMENTS[measure],
            include_test=include_test,
        )
        latest, _ = event_page(connection, visitor.account_id, metric_id=metric_id, limit=20)

    def values(named: NamedSeries) -> list[int] | list[Decimal]:
        if measure == "value":
            return named.series.sum_value
        return named.series.unique if measure == "unique" else named.series.count

    figures = chart(
        bucket_labels(buckets, interval),
        [(named.label, values(named)) for named in measured],
        money=measure == "value",
    )
    return pages(request).render(
        request,
        "metrics/show.html",
        {
            "metric": metric,
            "measure": measure,
            "measures": MEASURES,
            "interval": interval,
            "intervals": INTERVALS,
            "compare": compare,
            "include_test": include_test,
            "can_compare": len(siblings) > 1,
            "figures": figures,
            "since": start,
            "time_zone": zone.key,
            "events": latest,
        },
        visitor=visitor,
    )
