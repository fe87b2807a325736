"""Home: the watchdog's open alerts first, then Placed Order count and revenue over the last 30
days per integration, the health of each integration at a glance, and the doctor's open warnings
and errors — from its mode that asks no store (``live=False``), so a view of Home never calls a
store."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.doctor import diagnose_account
from shoptrack.domain.buckets import make_buckets
from shoptrack.store.accounts import account_settings
from shoptrack.store.flow_reports import attributed_revenue
from shoptrack.web.charts import bucket_labels, chart, range_for
from shoptrack.web.queries import integration_summaries, metric_series, placed_order_metrics
from shoptrack.web.routes._common import pages
from shoptrack.web.routes.alerts import open_alert_views
from shoptrack.web.routes.doctor import open_problems
from shoptrack.web.security import VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, visitor: VisitorDep) -> Response:
    services = services_of(request)
    with services.database.read() as connection:
        zone = account_settings(connection, visitor.account_id).zone
        start, end = range_for("day", services.clock.now(), zone)
        buckets = make_buckets(start, end, "day", zone)
        summaries = integration_summaries(connection, visitor.account_id)
        placed = metric_series(
            connection,
            visitor.account_id,
            placed_order_metrics(connection, visitor.account_id),
            buckets,
            ("count", "sum_value"),
        )
        alerts = open_alert_views(connection, visitor.account_id)
        from_flows = attributed_revenue(connection, visitor.account_id, start, end)
    names = {summary.id: summary.name for summary in summaries}
    report = diagnose_account(services, visitor.account_id, live=False)
    labels = bucket_labels(buckets, "day")
    totals = [
        (named.label, sum(named.series.count), sum(named.series.sum_value, Decimal(0)))
        for named in placed
    ]
    return pages(request).render(
        request,
        "home.html",
        {
            "integrations": summaries,
            "totals": totals,
            "orders_chart": chart(labels, [(n.label, n.series.count) for n in placed]),
            "revenue_chart": chart(
                labels, [(n.label, n.series.sum_value) for n in placed], money=True
            ),
            "has_orders": any(count for _, count, _ in totals),
            "flow_revenue": from_flows,
            "total_revenue": sum((revenue for _, _, revenue in totals), Decimal(0)),
            "since": start,
            "time_zone": zone.key,
            "problems": open_problems(report.findings),
            "integration_names": names,
            "alerts": alerts,
        },
        visitor=visitor,
    )
