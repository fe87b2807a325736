"""What flows count of a metric's events: a trigger metric's recent ones (the warning given for
a trigger metric without events lately) and a profile's (the conditions of filters and splits,
such as "has placed an order at least twice")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from shoptrack.store.schema import events, metric_rollups, metrics

__all__ = ["count_profile_events", "recent_event_count"]


def recent_event_count(
    connection: Connection, account_id: str, metric_id: str, since: datetime
) -> int:
    """How many events of a metric happened since ``since`` (from the hourly rollups)."""
    total = connection.execute(
        select(func.coalesce(func.sum(metric_rollups.c.count), 0)).where(
            metric_rollups.c.account_id == account_id,
            metric_rollups.c.metric_id == metric_id,
            metric_rollups.c.hour >= since,
        )
    ).scalar_one()
    return int(total)


def count_profile_events(
    connection: Connection,
    account_id: str,
    profile_id: str,
    *,
    metric: str,
    metric_id: str | None,
    since: datetime | None,
    excluding_event_id: str | None,
) -> int:
    """How many events of a metric (by name across sources, or one metric id) a profile has,
    optionally at or after ``since`` and leaving one event out."""
    metric_ids = select(metrics.c.id).where(metrics.c.account_id == account_id)
    metric_ids = (
        metric_ids.where(metrics.c.id == metric_id)
        if metric_id is not None
        else metric_ids.where(metrics.c.name == metric)
    )
    conditions: list[Any] = [
        events.c.account_id == account_id,
        events.c.profile_id == profile_id,
        events.c.metric_id.in_(metric_ids.scalar_subquery()),
    ]
    if since is not None:
        conditions.append(events.c.time >= since)
    if excluding_event_id is not None:
        conditions.append(events.c.id != excluding_event_id)
    return int(
        connection.execute(select(func.count()).select_from(events).where(*conditions)).scalar_one()
    )
