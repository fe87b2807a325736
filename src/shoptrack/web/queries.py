"""What the pages show, read through the store, each read scoped to the signed-in user's
account.

Every function takes ``account_id`` and reads with it (or with an integration already checked
to be the account's): a page can only ever show its own account's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from shoptrack.domain.events import Metric
from shoptrack.store._rows import from_row
from shoptrack.store.events import metrics_named
from shoptrack.store.flows import activity_of_profile
from shoptrack.store.integrations import integration_rows
from shoptrack.store.metrics import API_SOURCE, EMAIL_SOURCE
from shoptrack.store.sync_runs import latest_run, list_runs, pending_rows

__all__ = [
    "FeedEvent",
    "FlowStep",
    "IntegrationSummary",
    "SyncStatus",
    "feed_events",
    "flow_steps_of_profile",
    "integration_summaries",
    "placed_order_metrics",
    "source_label",
    "sync_status",
]


@dataclass(frozen=True, slots=True)
class IntegrationSummary:
    """One integration as the lists show it."""

    id: str
    name: str
    platform: str
    enabled: bool
    health: str
    health_detail: dict[str, Any] | None
    next_sync_at: datetime | None
    last_run: Row[Any] | None


def integration_summaries(connection: Connection, account_id: str) -> list[IntegrationSummary]:
    """The account's integrations (removed ones left out), each with its latest sync run."""
    return [
        from_row(IntegrationSummary, row, last_run=latest_run(connection, row.id))
        for row in integration_rows(connection, account_id)
    ]


def source_label(row: Any) -> str:
    """Where a metric row's events come from, as the web UI names it."""
    return _label(row.source, row.integration_name)


def _label(source: str, integration_name: str | None) -> str:
    """Where a metric's events come from, as the web UI names it."""
    if source == EMAIL_SOURCE:
        return "Email"
    if source == API_SOURCE or integration_name is None:
        return "API"
    return integration_name


def placed_order_metrics(connection: Connection, account_id: str) -> list[Row[Any]]:
    return metrics_named(connection, account_id, Metric.PLACED_ORDER)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event in a list: with its metric's name and source, and its profile's email."""

    id: str
    time: datetime
    metric_id: str
    metric: str
    source: str
    profile_id: str
    email: str | None
    value: Decimal | None
    currency: str | None
    backfill: bool
    test: bool
    properties: dict[str, Any]


def feed_events(rows: Sequence[Row[Any]]) -> list[FeedEvent]:
    """A page of events as ``store.events.event_page`` reads it, as the pages show it."""
    return [
        from_row(
            FeedEvent,
            row,
            metric=row.metric_name,
            source=_label(row.metric_source, row.integration_name),
            email=row.profile_email,
            currency=row.value_currency,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class FlowStep:
    """One step a profile took in a flow, for its activity feed beside its events."""

    id: int
    time: datetime
    flow_id: str
    flow: str
    step_id: str | None
    kind: str
    reason: str | None
    detail: str | None


def flow_steps_of_profile(
    connection: Connection,
    account_id: str,
    profile_id: str,
    *,
    since: datetime | None,
    before: datetime | None,
    limit: int = 200,
) -> list[FlowStep]:
    """The profile's flow activity (entered, waited, emailed, skipped…) at or after ``since``
    and before ``before`` (None: no bound), newest first: the stretch of time a page of its
    events covers."""
    rows = activity_of_profile(
        connection, account_id, profile_id, since=since, before=before, limit=limit
    )
    return [
        from_row(FlowStep, row, id=int(row.id), time=row.at, flow=row.flow_name or "a deleted flow")
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Where the integration's syncing is, for the progress panel."""

    state: str  # idle, queued, running, processing
    run: Row[Any] | None
    pending_rows: int

    @property
    def active(self) -> bool:
        return self.state != "idle"


def sync_status(
    connection: Connection, integration: Row[Any], now: datetime, *, stale: timedelta
) -> SyncStatus:
    """The latest run of the integration and whether a sync is queued, running, or the rows of
    its recent syncs are still being processed (``stale`` ago at most: a run's rows that wait
    longer wait for a worker, not for the panel). ``integration`` is the account's row."""
    latest = list_runs(connection, integration.account_id, integration.id, limit=1)
    run = latest[0] if latest else None
    pending = pending_rows(connection, integration.id, now - stale)
    if run is not None and run.state == "running":
        state = "running"
    elif (
        integration.enabled
        and integration.removed_at is None
        and integration.next_sync_at is not None
        and integration.next_sync_at <= now
    ):
        state = "queued"
    elif pending:
        state = "processing"
    else:
        state = "idle"
    return SyncStatus(state, run, pending)
