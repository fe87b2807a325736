"""Reading events and their metrics: keyset pages, scoped to one account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, tuple_

from shoptrack.domain.events import Metric
from shoptrack.store.metrics import API_SOURCE, EMAIL_SOURCE
from shoptrack.store.schema import events, integrations, metrics, profiles
from shoptrack.store.sql import escape_like

__all__ = [
    "EventQuery",
    "MetricView",
    "event_integration",
    "event_page",
    "events_by_id",
    "get_event",
    "imported_placed_orders",
    "list_events",
    "metrics_by_id",
    "metrics_named",
    "placed_order_event",
    "profiles_by_id",
    "searched_metrics",
]

# Klaviyo's integration object for events sent through the API.
API_INTEGRATION = {"id": "api", "name": "API", "category": "API", "platform": "api"}
# What flow emails record about themselves (Klaviyo's own email metrics are "Internal").
EMAIL_INTEGRATION = {"id": "email", "name": "Email", "category": "Internal", "platform": "email"}


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events, in which order, from where (a keyset cursor: the last row's time and id)."""

    account_id: str
    metric_id: str | None = None
    profile_id: str | None = None
    since: datetime | None = None  # inclusive
    after: datetime | None = None  # exclusive
    until: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive
    newest_first: bool = True
    after_key: tuple[datetime, str] | None = None
    limit: int = 200


def list_events(connection: Connection, query: EventQuery) -> list[Row[Any]]:
    """Up to ``limit + 1`` events (one more than asked tells the caller a next page exists)."""
    conditions: list[Any] = [events.c.account_id == query.account_id]
    if query.metric_id is not None:
        conditions.append(events.c.metric_id == query.metric_id)
    if query.profile_id is not None:
        conditions.append(events.c.profile_id == query.profile_id)
    if query.since is not None:
        conditions.append(events.c.time >= query.since)
    if query.after is not None:
        conditions.append(events.c.time > query.after)
    if query.until is not None:
        conditions.append(events.c.time <= query.until)
    if query.before is not None:
        conditions.append(events.c.time < query.before)
    if query.after_key is not None:
        # A row comparison, which an index on (…, time, id) starts its scan at: a page deep
        # in a long history costs what the first one does.
        key = tuple_(events.c.time, events.c.id)
        conditions.append(key < query.after_key if query.newest_first else key > query.after_key)
    order = (
        (events.c.time.desc(), events.c.id.desc())
        if query.newest_first
        else (events.c.time.asc(), events.c.id.asc())
    )
    return list(
        connection.execute(
            select(events).where(*conditions).order_by(*order).limit(query.limit + 1)
        )
    )


def get_event(connection: Connection, account_id: str, event_id: str) -> Row[Any] | None:
    return connection.execute(
        select(events).where(events.c.account_id == account_id, events.c.id == event_id)
    ).first()


@dataclass(frozen=True, slots=True)
class MetricView:
    """A metric with the integration it belongs to, in Klaviyo's ``integration`` shape."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    integration: dict[str, str]


def _metric_query() -> Any:
    """Metrics with their integration's name, platform and removal time (``integration_name``,
    ``integration_platform``, ``integration_removed_at``)."""
    return select(
        metrics,
        integrations.c.name.label("integration_name"),
        integrations.c.platform.label("integration_platform"),
        integrations.c.removed_at.label("integration_removed_at"),
    ).outerjoin(integrations, integrations.c.id == metrics.c.integration_id)


def metric_view(row: Any) -> MetricView:
    if row.source == EMAIL_SOURCE:
        integration = dict(EMAIL_INTEGRATION)
    elif row.source == API_SOURCE or row.integration_id is None:
        integration = dict(API_INTEGRATION)
    else:
        integration = {
            "id": row.integration_id,
            "name": row.integration_name,
            "category": "ecommerce",
            "platform": row.integration_platform,
        }
    return MetricView(row.id, row.name, row.created_at, row.updated_at, integration)


def metrics_by_id(
    connection: Connection, account_id: str, ids: Sequence[str]
) -> dict[str, MetricView]:
    if not ids:
        return {}
    rows = connection.execute(
        _metric_query().where(metrics.c.account_id == account_id, metrics.c.id.in_(list(ids)))
    )
    return {row.id: metric_view(row) for row in rows}


def list_metrics(connection: Connection, account_id: str) -> list[MetricView]:
    rows = connection.execute(
        _metric_query().where(metrics.c.account_id == account_id).order_by(metrics.c.id)
    )
    return [metric_view(row) for row in rows]


def profiles_by_id(
    connection: Connection, account_id: str, ids: Sequence[str]
) -> dict[str, Row[Any]]:
    if not ids:
        return {}
    rows = connection.execute(
        select(profiles).where(profiles.c.account_id == account_id, profiles.c.id.in_(list(ids)))
    )
    return {row.id: row for row in rows}


def _metrics_by_source(connection: Connection, account_id: str, *conditions: Any) -> list[Row[Any]]:
    return list(
        connection.execute(
            _metric_query()
            .where(metrics.c.account_id == account_id, *conditions)
            .order_by(integrations.c.name, metrics.c.source, metrics.c.id)
        )
    )


def metrics_named(connection: Connection, account_id: str, name: str) -> list[Row[Any]]:
    """The account's metrics called ``name``, one per source (its integrations, the API),
    leaving out those of removed integrations that never had an event."""
    rows = _metrics_by_source(connection, account_id, metrics.c.name == name)
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


def searched_metrics(connection: Connection, account_id: str, search: str) -> list[Row[Any]]:
    """The account's metrics whose name contains ``search`` (any case), each with its source's
    name, platform and removal time (``integration_name``, ``integration_platform``,
    ``integration_removed_at``)."""
    conditions = []
    if search.strip():
        pattern = "%" + escape_like(search.strip().lower()) + "%"
        conditions.append(func.lower(metrics.c.name).like(pattern, escape="\\"))
    return _metrics_by_source(connection, account_id, *conditions)


def event_page(
    connection: Connection,
    account_id: str,
    *,
    metric_id: str | None = None,
    profile_id: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 25,
) -> tuple[list[Row[Any]], tuple[datetime, str] | None]:
    """A page of events, newest first, of one metric or one profile (an index serves each),
    each with its metric's name and source (``metric_name``, ``metric_source``), the metric's
    integration's name (``integration_name``) and the profile's email (``profile_email``);
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
    found = list(rows[:limit])
    following: tuple[datetime, str] | None = None
    if len(rows) > limit:
        following = (found[-1].time, found[-1].id)
    return found, following


def events_by_id(connection: Connection, account_id: str, ids: Sequence[str]) -> list[Row[Any]]:
    """The account's events of ``ids``, each with its metric's name (``metric_name``)."""
    if not ids:
        return []
    return list(
        connection.execute(
            select(events, metrics.c.name.label("metric_name"))
            .join(metrics, metrics.c.id == events.c.metric_id)
            .where(events.c.account_id == account_id, events.c.id.in_(list(ids)))
        )
    )


def event_integration(connection: Connection, account_id: str, event_id: str) -> str | None:
    """The integration an event came from; None for an event of the API (or no such event)."""
    integration_id: str | None = connection.execute(
        select(events.c.integration_id).where(
            events.c.account_id == account_id, events.c.id == event_id
        )
    ).scalar()
    return integration_id


def imported_placed_orders(
    connection: Connection, account_id: str, integration_id: str
) -> list[Row[Any]]:
    """The integration's Placed Order events recorded as backfill (its store's history),
    oldest first."""
    return list(
        connection.execute(
            select(events)
            .join(metrics, metrics.c.id == events.c.metric_id)
            .where(
                events.c.account_id == account_id,
                events.c.integration_id == integration_id,
                events.c.backfill.is_(True),
                metrics.c.name == Metric.PLACED_ORDER.value,
            )
            .order_by(events.c.time, events.c.id)
        )
    )


def placed_order_event(
    connection: Connection, account_id: str, integration_id: str, platform_order_id: str
) -> Row[Any, Any, Any, Any, Any] | None:
    """The Placed Order event the integration recorded for one of its store's orders (id,
    profile, time, and whether it is backfill or a test order), None until it is recorded."""
    return connection.execute(
        select(events.c.id, events.c.profile_id, events.c.backfill, events.c.test, events.c.time)
        .join(metrics, metrics.c.id == events.c.metric_id)
        .where(
            events.c.account_id == account_id,
            metrics.c.source == integration_id,
            metrics.c.name == Metric.PLACED_ORDER.value,
            events.c.unique_id == platform_order_id,
        )
    ).first()
