"""Metrics: event names scoped to their source (an integration, or the API)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from shoptrack.ids import new_id
from shoptrack.store.schema import metrics
from shoptrack.store.sql import insert_ignore

__all__ = ["API_SOURCE", "EMAIL_SOURCE", "ensure_metric"]

API_SOURCE = "api"
# What flow emails record about themselves: Received, Opened, Clicked, Bounced Email, Unsubscribed.
EMAIL_SOURCE = "email"


def ensure_metric(
    connection: Connection,
    account_id: str,
    name: str,
    now: datetime,
    *,
    integration_id: str | None = None,
    source: str | None = None,
) -> str:
    """The id of the metric ``name`` of this source (``source``, else the integration, else
    the API), created if it does not exist yet."""
    source = source or integration_id or API_SOURCE
    key = (metrics.c.account_id == account_id, metrics.c.source == source, metrics.c.name == name)
    metric_id = connection.execute(select(metrics.c.id).where(*key)).scalar()
    if metric_id is not None:
        return str(metric_id)
    insert_ignore(
        connection,
        metrics,
        {
            "id": new_id(),
            "account_id": account_id,
            "name": name,
            "source": source,
            "integration_id": integration_id,
            "created_at": now,
            "updated_at": now,
        },
        conflict=("account_id", "source", "name"),
    )
    return str(connection.execute(select(metrics.c.id).where(*key)).scalar_one())
