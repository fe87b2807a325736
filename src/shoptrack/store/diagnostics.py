"""Read-only queries the doctor's checks and the order probe ask of the stored data: deliveries
by state, order states by raw status, event counts by metric, sync runs. Each answers one question
with numbers, times and ids, scoped to one account or integration."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, case, func, or_, select

from shoptrack.store.inbox import PENDING_ROWS
from shoptrack.store.metrics import API_SOURCE
from shoptrack.store.schema import (
    events,
    flows,
    inbox,
    integrations,
    metric_rollups,
    metrics,
    order_states,
    sync_runs,
)

__all__ = [
    "DeliverySummary",
    "IdleTrigger",
    "OrderExample",
    "StatusGroup",
    "StoredDelivery",
    "WaitingDeliveries",
    "client_event_bodies",
    "delivery_summary",
    "event_counts",
    "flows_on_idle_integrations",
    "known_order_updates",
    "newest_order",
    "order_state",
    "order_state_row",
    "orders_created_since",
    "recent_order_emails",
    "rejected_deliveries",
    "skipped_orders",
    "status_groups",
    "status_names",
    "waiting_deliveries",
]


def _newest_deliveries(
    connection: Connection,
    columns: Sequence[ColumnElement[Any]],
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
) -> Sequence[Row[Any]]:
    """``columns`` of the stored deliveries that meet ``conditions``, newest first (by arrival,
    then id), at most ``limit`` of them."""
    return connection.execute(
        select(*columns)
        .where(*conditions)
        .order_by(inbox.c.received_at.desc(), inbox.c.id.desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    """How many stored deliveries of an integration are in one state, and when they came."""

    count: int
    oldest: datetime | None
    newest: datetime | None
    ids: tuple[int, ...]  # the newest few
    last_error: str | None  # of the newest one


def delivery_summary(
    connection: Connection,
    integration_id: str,
    state: str,
    *,
    since: datetime | None = None,
    source: str | None = None,
    sample: int = 10,
) -> DeliverySummary:
    """The deliveries of ``integration_id`` in ``state`` (received from ``since``, of
    ``source``)."""
    conditions: list[Any] = [inbox.c.integration_id == integration_id, inbox.c.state == state]
    if since is not None:
        conditions.append(inbox.c.received_at >= since)
    if source is not None:
        conditions.append(inbox.c.source == source)
    count, oldest, newest = connection.execute(
        select(func.count(), func.min(inbox.c.received_at), func.max(inbox.c.received_at)).where(
            *conditions
        )
    ).one()
    rows = _newest_deliveries(connection, (inbox.c.id, inbox.c.last_error), conditions, sample)
    return DeliverySummary(
        count=int(count),
        oldest=oldest,
        newest=newest,
        ids=tuple(int(row.id) for row in rows),
        last_error=rows[0].last_error if rows else None,
    )


@dataclass(frozen=True, slots=True)
class WaitingDeliveries:
    """An integration's stored deliveries due for processing a while and still pending."""

    count: int
    live: int  # of them not backfill: what starts flows
    oldest: datetime | None  # received
    newest: datetime | None
    ids: tuple[int, ...]  # the newest few


def waiting_deliveries(
    connection: Connection, integration_id: str, now: datetime, longer_than: timedelta
) -> WaitingDeliveries:
    """The integration's deliveries due for processing for ``longer_than`` and still pending —
    but for those of a sync still running (its lease held): ``shoptrack sync`` processes a
    small sync's rows once it has read them all."""
    running = (
        select(sync_runs.c.id)
        .join(integrations, integrations.c.id == sync_runs.c.integration_id)
        .where(
            sync_runs.c.integration_id == integration_id,
            sync_runs.c.state == "running",
            integrations.c.sync_lease_expires_at > now,
        )
    )
    conditions = [
        PENDING_ROWS,
        inbox.c.available_at < now - longer_than,
        inbox.c.integration_id == integration_id,
        or_(inbox.c.sync_run_id.is_(None), inbox.c.sync_run_id.not_in(running)),
    ]
    count, live, oldest, newest = connection.execute(
        select(
            func.count(),
            func.count(case((inbox.c.backfill.is_(False), 1))),
            func.min(inbox.c.received_at),
            func.max(inbox.c.received_at),
        ).where(*conditions)
    ).one()
    rows = _newest_deliveries(connection, (inbox.c.id,), conditions, 10)
    return WaitingDeliveries(
        count=int(count),
        live=int(live),
        oldest=oldest,
        newest=newest,
        ids=tuple(int(row.id) for row in rows),
    )


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A stored delivery with what a signature check needs."""

    id: int
    received_at: datetime
    reason: str | None
    headers: dict[str, str]
    body: bytes
    body_truncated: bool = False  # only the first bytes were kept: it verifies with nothing


# What a signature check reads of a stored delivery (the fields of ``StoredDelivery``).
_STORED_DELIVERY_COLUMNS = (
    inbox.c.id,
    inbox.c.received_at,
    inbox.c.reason,
    inbox.c.headers,
    inbox.c.body,
    inbox.c.body_truncated,
)


def rejected_deliveries(
    connection: Connection, integration_id: str, since: datetime, limit: int = 500
) -> list[StoredDelivery]:
    """Webhook deliveries of ``integration_id`` refused at intake since ``since``, newest first."""
    rows = _newest_deliveries(
        connection,
        _STORED_DELIVERY_COLUMNS,
        (
            inbox.c.integration_id == integration_id,
            inbox.c.state == "rejected",
            inbox.c.received_at >= since,
        ),
        limit,
    )
    return [
        StoredDelivery(
            int(r.id), r.received_at, r.reason, dict(r.headers), bytes(r.body), r.body_truncated
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class StatusGroup:
    """The kept orders of one raw status."""

    raw_status: str
    orders: int
    never_placed: int  # of those, how many recorded no Placed Order
    newest_created: datetime | None


def status_names(connection: Connection, integration_id: str) -> list[str]:
    """The raw statuses of the integration's kept orders, in order: each found by one step
    down the (integration, status) index from the one before (a recursive query), so the
    cost is the number of statuses, not of orders."""

    def after(previous: Any) -> Any:
        found = select(order_states.c.raw_status).where(
            order_states.c.integration_id == integration_id
        )
        if previous is not None:
            found = found.where(order_states.c.raw_status > previous)
        return found.order_by(order_states.c.raw_status).limit(1).scalar_subquery()

    steps = select(after(None).label("raw_status")).cte("statuses", recursive=True)
    steps = steps.union_all(
        select(after(steps.c.raw_status)).where(steps.c.raw_status.is_not(None))
    )
    found = connection.execute(select(steps.c.raw_status).where(steps.c.raw_status.is_not(None)))
    return [str(status) for status in found.scalars()]


def status_groups(
    connection: Connection, integration_id: str, statuses: Sequence[str]
) -> list[StatusGroup]:
    """The integration's kept orders of ``statuses``, grouped by their current raw status."""
    rows = connection.execute(
        select(
            order_states.c.raw_status,
            func.count(),
            func.sum(case((order_states.c.placed_recorded_at.is_(None), 1), else_=0)),
            func.max(order_states.c.order_created_at),
        )
        .where(
            order_states.c.integration_id == integration_id,
            order_states.c.raw_status.in_(list(statuses)),
        )
        .group_by(order_states.c.raw_status)
        .order_by(order_states.c.raw_status)
    )
    return [StatusGroup(row[0], int(row[1]), int(row[2] or 0), row[3]) for row in rows]


@dataclass(frozen=True, slots=True)
class OrderExample:
    """One kept order, as an example of a group of them."""

    platform_order_id: str
    raw_status: str
    order_created_at: datetime
    first_seen_at: datetime
    snapshot: Any  # the newest sighting (``order_states.order_from_snapshot`` reads it)


def newest_order(
    connection: Connection, integration_id: str, *, raw_status: str | None = None, skipped: bool
) -> OrderExample | None:
    """The newest kept order (by creation) of a raw status, or of the skipped ones."""
    conditions: list[Any] = [order_states.c.integration_id == integration_id]
    if raw_status is not None:
        conditions.append(order_states.c.raw_status == raw_status)
    if skipped:
        conditions.append(order_states.c.skipped.is_(True))
    row = connection.execute(
        select(
            order_states.c.platform_order_id,
            order_states.c.raw_status,
            order_states.c.order_created_at,
            order_states.c.first_seen_at,
            order_states.c.snapshot,
        )
        .where(*conditions)
        .order_by(order_states.c.order_created_at.desc(), order_states.c.platform_order_id)
        .limit(1)
    ).first()
    return None if row is None else OrderExample(*row)


def skipped_orders(connection: Connection, integration_id: str) -> dict[str, int]:
    """How many kept orders were first seen cancelled or declined, by their current status."""
    rows = connection.execute(
        select(order_states.c.raw_status, func.count())
        .where(order_states.c.integration_id == integration_id, order_states.c.skipped.is_(True))
        .group_by(order_states.c.raw_status)
        .order_by(order_states.c.raw_status)
    )
    return {str(row[0]): int(row[1]) for row in rows}


def orders_created_since(connection: Connection, integration_id: str, since: datetime) -> int:
    """How many kept orders of the integration were created from ``since`` on."""
    return int(
        connection.execute(
            select(func.count()).where(
                order_states.c.integration_id == integration_id,
                order_states.c.order_created_at >= since,
            )
        ).scalar_one()
    )


def known_order_updates(
    connection: Connection, integration_id: str, order_ids: Iterable[str]
) -> dict[str, datetime]:
    """The platform's updated time of each kept order among ``order_ids``."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = connection.execute(
        select(order_states.c.platform_order_id, order_states.c.platform_updated_at).where(
            order_states.c.integration_id == integration_id,
            order_states.c.platform_order_id.in_(ids),
        )
    )
    return {str(row[0]): row[1] for row in rows}


def event_counts(
    connection: Connection,
    account_id: str,
    names: Sequence[str],
    since: datetime,
    *,
    integration_id: str | None,
    with_api: bool = False,
) -> dict[str, int]:
    """Events of each metric in ``names`` since ``since``: the integration's metrics, or the
    account's API metrics when ``integration_id`` is None — with ``with_api``, the integration's
    and the API's together. Every name is in the answer.

    Counted in the hourly rollups from the first whole hour on, and in the events table only
    before it (an hour at most): a month of a busy metric is some 720 rollup rows, where it
    would be millions of events.
    """
    sources = {integration_id or API_SOURCE, *((API_SOURCE,) if with_api else ())}
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if hour < since:
        hour += timedelta(hours=1)
    rolled_up = (
        select(func.coalesce(func.sum(metric_rollups.c.count), 0))
        .where(
            metric_rollups.c.account_id == account_id,
            metric_rollups.c.metric_id == metrics.c.id,
            metric_rollups.c.hour >= hour,
        )
        .scalar_subquery()
    )
    before_the_hour = (
        select(func.count())
        .where(
            events.c.account_id == account_id,
            events.c.metric_id == metrics.c.id,
            events.c.time >= since,
            events.c.time < hour,
        )
        .scalar_subquery()
    )
    rows = connection.execute(
        select(metrics.c.name, rolled_up + before_the_hour).where(
            metrics.c.account_id == account_id,
            metrics.c.source.in_(sorted(sources)),
            metrics.c.name.in_(list(names)),
        )
    )
    counts = dict.fromkeys((str(name) for name in names), 0)
    for name, count in rows:
        counts[str(name)] += int(count)
    return counts


def client_event_bodies(
    connection: Connection, account_id: str, since: datetime, limit: int = 1000
) -> list[tuple[datetime, bytes]]:
    """The raw bodies of events sent to ``/client/events`` since ``since``, newest first."""
    rows = _newest_deliveries(
        connection,
        (inbox.c.received_at, inbox.c.body),
        (
            inbox.c.account_id == account_id,
            inbox.c.source == "client",
            inbox.c.received_at >= since,
        ),
        limit,
    )
    return [(row.received_at, bytes(row.body)) for row in rows]


@dataclass(frozen=True, slots=True)
class IdleTrigger:
    """A flow triggered by a metric of an integration that records nothing now."""

    flow_id: str
    flow_name: str
    flow_status: str
    metric_id: str
    integration_id: str
    integration_name: str
    integration_removed_at: datetime | None


def flows_on_idle_integrations(
    connection: Connection, account_id: str, metric_name: str, except_integration_id: str
) -> list[IdleTrigger]:
    """The account's flows (archived ones left out) triggered by ``metric_name`` of another
    integration that is disabled or removed."""
    rows = connection.execute(
        select(
            flows.c.id,
            flows.c.name,
            flows.c.status,
            metrics.c.id,
            integrations.c.id,
            integrations.c.name,
            integrations.c.removed_at,
        )
        .select_from(flows)
        .join(metrics, metrics.c.id == flows.c.trigger_metric_id)
        .join(integrations, integrations.c.id == metrics.c.integration_id)
        .where(
            flows.c.account_id == account_id,
            flows.c.archived.is_(False),
            metrics.c.name == metric_name,
            integrations.c.id != except_integration_id,
            (integrations.c.enabled.is_(False)) | (integrations.c.removed_at.is_not(None)),
        )
        .order_by(flows.c.id)
    )
    return [IdleTrigger(*row) for row in rows]


def order_state(
    connection: Connection, integration_id: str, platform_order_id: str
) -> dict[str, Any] | None:
    """Everything stored about one kept order: status, times, what it recorded and when."""
    row = order_state_row(connection, integration_id, platform_order_id)
    return None if row is None else dict(row._mapping)


def order_state_row(
    connection: Connection, integration_id: str, platform_order_id: str
) -> Row[Any] | None:
    """The stored state of one kept order, None before its first sighting."""
    return connection.execute(
        select(order_states).where(
            order_states.c.integration_id == integration_id,
            order_states.c.platform_order_id == platform_order_id,
        )
    ).first()


def recent_order_emails(
    connection: Connection, integration_id: str, since: datetime, limit: int
) -> list[str | None]:
    """The customer emails of the integration's newest orders created since ``since``, newest
    first, at most ``limit`` (None where an order came without one)."""
    return list(
        connection.execute(
            select(order_states.c.email)
            .where(
                order_states.c.integration_id == integration_id,
                order_states.c.order_created_at >= since,
            )
            .order_by(order_states.c.order_created_at.desc())
            .limit(limit)
        ).scalars()
    )
