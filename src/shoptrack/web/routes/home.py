"""Home: the watchdog's open alerts first (drops among them), then Placed Order over the period
chosen (the last 7, 30 or 90 days or custom dates, in the account's time zone, the previous
period beside it) — orders and revenue in each currency, per integration and together, revenue
from flows — the health of each integration at a glance, and the doctor's other open warnings
and errors, from its mode that asks no store (``live=False``), so a view of Home never calls a
store."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.doctor import DROP_CODES, diagnose_account
from shoptrack.store.accounts import account_settings
from shoptrack.store.flow_reports import attributed_revenue
from shoptrack.web.charts import SCALES, bucket_labels
from shoptrack.web.period_figures import (
    Charted,
    Totals,
    count_chart,
    source_figures,
    value_charts,
)
from shoptrack.web.periods import read_period
from shoptrack.web.queries import integration_summaries, placed_order_metrics
from shoptrack.web.routes._common import pages
from shoptrack.web.routes.alerts import open_alert_views
from shoptrack.web.routes.doctor import open_problems
from shoptrack.web.security import VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, visitor: VisitorDep) -> Response:
    services = services_of(request)
    params = request.query_params
    scale = params.get("scale", "fit")
    scale = scale if scale in SCALES else "fit"
    with services.database.read() as connection:
        zone = account_settings(connection, visitor.account_id).zone
        period = read_period(params, services.clock.now(), zone)
        summaries = integration_summaries(connection, visitor.account_id)
        placed = placed_order_metrics(connection, visitor.account_id)
        figures = source_figures(connection, visitor.account_id, placed, period, Charted())
        alerts = open_alert_views(connection, visitor.account_id)
        from_flows, flows_before = period.and_previous(
            lambda when: attributed_revenue(connection, visitor.account_id, when.start, when.end)
        )
    names = {summary.id: summary.name for summary in summaries}
    # Drops reach Home as the watchdog's alerts (listed first); judging them again on every
    # view would repeat those and read five weeks of counts per metric and integration.
    report = diagnose_account(services, visitor.account_id, live=False, without=DROP_CODES)
    labels = bucket_labels(period.buckets(), period.interval)
    orders_chart = count_chart(figures, period, labels, scale)
    revenue_charts = value_charts(figures, period, labels, scale)
    total = Totals.combined(source.totals for source in figures)
    previous_total = (
        Totals.combined(source.previous for source in figures if source.previous is not None)
        if period.compare
        else None
    )
    return pages(request).render(
        request,
        "home.html",
        {
            "integrations": summaries,
            "period": period,
            "scale": scale,
            "sources": figures,
            "total": total,
            "previous_total": previous_total,
            "orders_chart": orders_chart,
            "revenue_charts": revenue_charts,
            "flow_revenue": from_flows,
            "flow_revenue_before": flows_before,
            "problems": open_problems(report.findings),
            "integration_names": names,
            "alerts": alerts,
        },
        visitor=visitor,
    )
