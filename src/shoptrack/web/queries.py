"""What the pages read, each query scoped to the signed-in user's account.

Every function takes ``account_id`` and filters on it (or on an integration already checked to
be the account's): a page can only ever show its own account's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select, tuple_

from shoptrack.domain.events import Metric
from shoptrack.store.metrics import API_SOURCE, EMAIL_SOURCE
from shoptrack.store.schema import (
    events,
    flow_activity,
    flows,
    inbox,
    integrations,
    metrics,
    order_states,
    profiles,
    sync_runs,
)
from shoptrack.store.sync_runs import list_runs, pending_rows

__all__ = [
    "FlowStep",
    "IntegrationSummary",
    "SyncStatus",
    "escape_like",
    "event_page",
    "flow_steps_of_profile",
    "integration_summaries",
    "metrics_named",
    "recent_deliveries",
    "searched_metrics",
    "seen_statuses",
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
    rows = connection.execute(
        select(integrations)
        .where(integrations.c.account_id == account_id, integrations.c.removed_at.is_(None))
        .order_by(integrations.c.name, integrations.c.id)
    ).all()
    summaries = []
    for row in rows:
        last = connection.execute(
            select(sync_runs)
            .where(sync_runs.c.integration_id == row.id)
            .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
            .limit(1)
        ).first()
        summaries.append(
            IntegrationSummary(
                id=row.id,
                name=row.name,
                platform=row.platform,
                enabled=row.enabled,
                health=row.health,
                health_detail=row.health_detail,
                next_sync_at=row.next_sync_at,
                last_run=last,
            )
        )
    return summaries


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


def _metric_rows(connection: Connection, account_id: str, *conditions: Any) -> list[Row[Any]]:
    return list(
        connection.execute(
            select(
                metrics,
                integrations.c.name.label("integration_name"),
                integrations.c.platform.label("integration_platform"),
                integrations.c.removed_at.label("integration_removed_at"),
            )
            .outerjoin(integrations, integrations.c.id == metrics.c.integration_id)
            .where(metrics.c.account_id == account_id, *conditions)
            .order_by(integrations.c.name, metrics.c.source, metrics.c.id)
        )
    )


def metrics_named(connection: Connection, account_id: str, name: str) -> list[Row[Any]]:
    """The account's metrics called ``name``, one per source (its integrations, the API),
    leaving out those of removed integrations that never had an event."""
    rows = _metric_rows(connection, account_id, metrics.c.name == name)
    return [
        row
        for row in rows
        if row.integration_removed_at is None
        or connection.execute(
            select(events.c.id)
            .where(events.c.account_id == account_id, events.c.metric_id == row.id)
            .limit(1)
        ).first()
        is not None
    ]


def placed_order_metrics(connection: Connection, account_id: str) -> list[Row[Any]]:
    return metrics_named(connection, account_id, Metric.PLACED_ORDER)


def searched_metrics(connection: Connection, account_id: str, search: str) -> list[Row[Any]]:
    """The account's metrics whose name contains ``search`` (any case), each with its source's
    name, platform and removal time (``integration_name``, ``integration_platform``,
    ``integration_removed_at``)."""
    conditions = []
    if search.strip():
        pattern = "%" + escape_like(search.strip().lower()) + "%"
        conditions.append(func.lower(metrics.c.name).like(pattern, escape="\\"))
    return _metric_rows(connection, account_id, *conditions)


def escape_like(text: str) -> str:
    """``text`` matched literally by LIKE (with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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


def event_page(
    connection: Connection,
    account_id: str,
    *,
    metric_id: str | None = None,
    profile_id: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 25,
) -> tuple[list[FeedEvent], tuple[datetime, str] | None]:
    """A page of events, newest first, of one metric or one profile (an index serves each);
    returns them and the key of the next page, if there is one."""
    conditions: list[Any] = [events.c.account_id == account_id]
    if metric_id is not None:
        conditions.append(events.c.metric_id == metric_id)
    if profile_id is not None:
        conditions.append(events.c.profile_id == profile_id)
    if before is not None:
        # A row comparison, which the index starts its scan at (an OR of two would be a filter).
        conditions.append(tuple_(events.c.time, events.c.id) < before)
    page = (
        select(events)
        .where(*conditions)
        .order_by(events.c.time.desc(), events.c.id.desc())
        .limit(limit + 1)
        .subquery()
    )
    rows = connection.execute(
        select(
            page,
            metrics.c.name.label("metric_name"),
            metrics.c.source.label("metric_source"),
            integrations.c.name.label("integration_name"),
            profiles.c.email.label("profile_email"),
        )
        .join(metrics, metrics.c.id == page.c.metric_id)
        .outerjoin(integrations, integrations.c.id == metrics.c.integration_id)
        .outerjoin(profiles, profiles.c.id == page.c.profile_id)
        .order_by(page.c.time.desc(), page.c.id.desc())
    ).all()
    found = [
        FeedEvent(
            id=row.id,
            time=row.time,
            metric_id=row.metric_id,
            metric=row.metric_name,
            source=_label(row.metric_source, row.integration_name),
            profile_id=row.profile_id,
            email=row.profile_email,
            value=row.value,
            currency=row.value_currency,
            backfill=row.backfill,
            test=row.test,
            properties=row.properties,
        )
        for row in rows[:limit]
    ]
    following = (found[-1].time, found[-1].id) if len(rows) > limit else None
    return found, following


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
    events covers (the (account, profile, time) index of ``flow_activity`` serves it)."""
    conditions: list[Any] = [
        flow_activity.c.account_id == account_id,
        flow_activity.c.profile_id == profile_id,
    ]
    if since is not None:
        conditions.append(flow_activity.c.at >= since)
    if before is not None:
        conditions.append(flow_activity.c.at < before)
    rows = connection.execute(
        select(flow_activity, flows.c.name.label("flow_name"))
        .outerjoin(
            flows, and_(flows.c.id == flow_activity.c.flow_id, flows.c.account_id == account_id)
        )
        .where(*conditions)
        .order_by(flow_activity.c.at.desc(), flow_activity.c.id.desc())
        .limit(limit)
    )
    return [
        FlowStep(
            id=int(row.id),
            time=row.at,
            flow_id=row.flow_id,
            flow=row.flow_name or "a deleted flow",
            step_id=row.step_id,
            kind=row.kind,
            reason=row.reason,
            detail=row.detail,
        )
        for row in rows
    ]


def recent_deliveries(
    connection: Connection, integration_id: str, limit: int = 20
) -> list[Row[Any]]:
    """What the store sent or a sync fetched lately, newest first (bodies left out)."""
    return list(
        connection.execute(
            select(
                inbox.c.id,
                inbox.c.source,
                inbox.c.topic,
                inbox.c.state,
                inbox.c.reason,
                inbox.c.last_error,
                inbox.c.attempts,
                inbox.c.received_at,
            )
            .where(inbox.c.integration_id == integration_id)
            .order_by(inbox.c.received_at.desc(), inbox.c.id.desc())
            .limit(limit)
        )
    )


def delivery_counts(connection: Connection, integration_id: str, since: datetime) -> dict[str, int]:
    """How many deliveries arrived since ``since``, by state."""
    rows = connection.execute(
        select(inbox.c.state, func.count())
        .where(inbox.c.integration_id == integration_id, inbox.c.received_at >= since)
        .group_by(inbox.c.state)
    )
    return {str(state): int(count) for state, count in rows}


def seen_statuses(connection: Connection, integration_id: str) -> list[str]:
    """The raw statuses of the integration's kept orders (custom ones included)."""
    return sorted(
        str(status)
        for status in connection.execute(
            select(order_states.c.raw_status)
            .where(order_states.c.integration_id == integration_id)
            .distinct()
        ).scalars()
    )


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
