"""The Alerts page: what the watchdog opened, open ones first, then their history — each with
the finding as last seen (summary, evidence, fix). Home lists the open ones first of all."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from shoptrack.store.alerts import AlertRecord, list_alerts, open_alerts
from shoptrack.store.integrations import find_integration
from shoptrack.web.routes._common import pages
from shoptrack.web.security import VisitorDep, services_of

__all__ = ["AlertView", "alert_views", "open_alert_views", "router"]

router = APIRouter(include_in_schema=False)

# The page shows this many of the newest; ``GET /api/alerts`` pages through all of them.
HISTORY_SHOWN = 200


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert with the name of what it is about."""

    alert: AlertRecord
    subject: str  # the integration's name, or "Account"


def alert_views(connection: Connection, alerts: list[AlertRecord]) -> list[AlertView]:
    names: dict[str, str] = {}
    views = []
    for alert in alerts:
        subject = "Account"
        if alert.integration_id is not None:
            if alert.integration_id not in names:
                found = find_integration(connection, alert.integration_id)
                names[alert.integration_id] = (
                    found.name if found is not None else f"Integration {alert.integration_id}"
                )
            subject = names[alert.integration_id]
        views.append(AlertView(alert, subject))
    return views


def open_alert_views(connection: Connection, account_id: str) -> list[AlertView]:
    """The account's open alerts, newest first (what Home shows first)."""
    return alert_views(connection, list(reversed(open_alerts(connection, account_id))))


@router.get("/alerts")
def alerts_page(request: Request, visitor: VisitorDep) -> Response:
    services = services_of(request)
    with services.database.read() as connection:
        found = list_alerts(connection, visitor.account_id, limit=HISTORY_SHOWN + 1)
        views = alert_views(connection, found[:HISTORY_SHOWN])
    return pages(request).render(
        request,
        "alerts.html",
        {
            "open": [v for v in views if v.alert.is_open],
            "resolved": [v for v in views if not v.alert.is_open],
            "more": len(found) > HISTORY_SHOWN,
            "interval": services.settings.watch_interval_minutes,
        },
        visitor=visitor,
    )
