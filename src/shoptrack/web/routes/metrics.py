"""Metrics: every metric by name over a period (all stores together, each on demand); a
metric's page over a period beside the one before: totals, a chart of events, values (per
currency) or unique profiles by day, week or month (of its source or of every source with its
name), and its latest events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeVar

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from shoptrack.domain.buckets import Interval
from shoptrack.errors import InputError, NotFoundError
from shoptrack.store.accounts import account_settings
from shoptrack.store.events import event_page, metrics_by_id, metrics_named, searched_metrics
from shoptrack.web.charts import bucket_labels
from shoptrack.web.period_figures import (
    Charted,
    combined_totals,
    count_chart,
    metric_groups,
    period_chart,
    source_figures,
    unique_profiles,
    value_charts,
)
from shoptrack.web.periods import read_period
from shoptrack.web.queries import feed_events
from shoptrack.web.routes._common import moved, moving_old_links, pages
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
# Whose events a metric's page charts: its own source's, or every source's with its name.
_SOURCES = {"one": "this source", "all": "every integration"}
_Choice = TypeVar("_Choice", bound=str)


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


def _choice(
    params: QueryParams, name: str, choices: Mapping[_Choice, str], default: _Choice
) -> _Choice:
    """The choice ``params`` name, ``default`` when it names none; anything else is an
    ``InputError`` naming the parameter and its choices."""
    value = params.get(name, "") or default
    for choice in choices:
        if value == choice:
            return choice
    raise InputError(
        f"{name}: {value[:40]!r} is not a choice; use {_either(list(choices))}",
        parameter=name,
    )


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _without_old_compare(request: Request) -> Response | None:
    """Before periods, ``compare=1`` charted every integration; such a link is sent on to
    ``integrations=all``, its other parameters kept (``compare`` now names the period's)."""
    if request.query_params.get("compare") != "1":
        return None
    every = [] if "integrations" in request.query_params else [("integrations", "all")]
    return moved(request, "compare", every)


@router.get("/metrics/{metric_id}")
@moving_old_links(_without_old_compare)
def metric_page(request: Request, metric_id: str, visitor: VisitorDep) -> Response:
    """A metric over the period chosen, beside the period before: its totals (values per
    currency), its chart of events, values (one chart per currency) or profiles by day, week
    or month — of this source or of every source with its name — and its latest events."""
    params = request.query_params
    measure = _choice(params, "measure", MEASURES, "count")
    every = _choice(params, "integrations", _SOURCES, "one") == "all"
    include_test = params.get("test") == "1"  # test orders stay out unless asked for
    services = services_of(request)
    with services.database.read() as connection:
        zone = account_settings(connection, visitor.account_id).zone
        period = read_period(params, services.clock.now(), zone)
        asked = _choice(params, "interval", INTERVALS, period.interval)
        # A range too short or too long for the interval asked for counts in its own.
        interval = asked if asked in period.intervals else period.interval
        metric = metrics_by_id(connection, visitor.account_id, [metric_id]).get(metric_id)
        if metric is None:
            raise NotFoundError(f"no metric {metric_id} in this account", parameter="metric")
        siblings = metrics_named(connection, visitor.account_id, metric.name)
        shown = siblings if every else [row for row in siblings if row.id == metric_id]
        charted = Charted(interval=interval, include_test=include_test)
        figures = source_figures(connection, visitor.account_id, shown, period, charted)
        profiles = (
            unique_profiles(connection, visitor.account_id, shown, period, charted)
            if measure == "unique"
            else []
        )
        rows, _ = event_page(connection, visitor.account_id, metric_id=metric_id, limit=20)
        latest = feed_events(rows)
    labels = bucket_labels(period.buckets(interval), interval)
    if measure == "value":
        charts = value_charts(figures, period, labels)
    elif measure == "unique":
        drawn = [(source.label, now) for source, (now, _) in zip(figures, profiles, strict=True)]
        earlier = [then for _, then in profiles if then is not None]
        charts = [("", period_chart(labels, drawn, earlier if period.compare else None, period))]
    else:
        charts = [("", count_chart(figures, period, labels))]
    total, previous_total = combined_totals(figures, period)
    return pages(request).render(
        request,
        "metrics/show.html",
        {
            "metric": metric,
            "period": period,
            "measure": measure,
            "measures": MEASURES,
            "interval": interval,
            "intervals": {each: INTERVALS[each] for each in period.intervals},
            "every": every,
            "include_test": include_test,
            "can_compare": len(siblings) > 1,
            "sources": figures,
            "total": total,
            "previous_total": previous_total,
            "charts": charts,
            "events": latest,
        },
        visitor=visitor,
    )
