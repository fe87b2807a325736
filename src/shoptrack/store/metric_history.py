"""A metric's history as drop detection reads it: hourly counts from the rollups (live and
backfill events by event time, test orders left out), the hour of its first event, and how far
an integration's counts are complete (its last successful sync, its oldest unprocessed
delivery)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from shoptrack.store.schema import inbox, metric_rollups, metrics, sync_runs

__all__ = [
    "first_event_hour",
    "hourly_counts",
    "integration_metric_id",
    "last_synced_until",
    "oldest_pending_delivery",
]


def integration_metric_id(connection: Connection, integration_id: str, name: str) -> str | None:
    """The id of the integration's metric ``name``, if it exists."""
    metric_id = connection.execute(
        select(metrics.c.id).where(metrics.c.source == integration_id, metrics.c.name == name)
    ).scalar()
    return None if metric_id is None else str(metric_id)


def hourly_counts(
    connection: Connection, account_id: str, metric_id: str, since: datetime, until: datetime
) -> dict[datetime, int]:
    """The metric's events per UTC hour in [since, until), every currency together, test
    orders left out; hours without events are absent."""
    rows = connection.execute(
        select(metric_rollups.c.hour, func.sum(metric_rollups.c.count))
        .where(
            metric_rollups.c.account_id == account_id,
            metric_rollups.c.metric_id == metric_id,
            metric_rollups.c.hour >= since,
            metric_rollups.c.hour < until,
            metric_rollups.c.test.is_(False),
        )
        .group_by(metric_rollups.c.hour)
    )
    return {row[0]: int(row[1]) for row in rows if row[1]}


def first_event_hour(connection: Connection, account_id: str, metric_id: str) -> datetime | None:
    """The hour of the metric's first event (test orders left out), or None without one."""
    hour: datetime | None = connection.execute(
        select(func.min(metric_rollups.c.hour)).where(
            metric_rollups.c.account_id == account_id,
            metric_rollups.c.metric_id == metric_id,
            metric_rollups.c.test.is_(False),
            metric_rollups.c.count > 0,
        )
    ).scalar()
    return hour


def last_synced_until(connection: Connection, integration_id: str) -> datetime | None:
    """The end of the window of the integration's newest successful sync: what the store
    changed before it has been fetched."""
    until: datetime | None = connection.execute(
        select(func.max(sync_runs.c.window_until)).where(
            sync_runs.c.integration_id == integration_id, sync_runs.c.state == "succeeded"
        )
    ).scalar()
    return until


def oldest_pending_delivery(connection: Connection, integration_id: str) -> datetime | None:
    """When the integration's oldest delivery still waiting for processing was received: its
    events are not counted yet."""
    received: datetime | None = connection.execute(
        select(func.min(inbox.c.received_at)).where(
            inbox.c.integration_id == integration_id, inbox.c.state == "pending"
        )
    ).scalar()
    return received
