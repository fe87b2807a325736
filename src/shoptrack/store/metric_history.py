"""A metric's history as drop detection reads it: counts of spans of hours from the rollups
(live and backfill events by event time, test orders left out), the hour of its first event,
and how far an integration's counts are complete (its last successful sync, its oldest
unprocessed delivery). An integration's watched metrics are read together
(:func:`metric_histories`): two statements whatever their number, a row each back."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, Select, and_, bindparam, case, func, select

from shoptrack.domain.drops import Span
from shoptrack.store.schema import inbox, metric_rollups, metrics, sync_runs

__all__ = [
    "MetricHistory",
    "last_synced_until",
    "metric_histories",
    "oldest_pending_delivery",
]


@dataclass(frozen=True, slots=True)
class MetricHistory:
    """One metric of an integration as drop detection reads it: its id (None: the integration
    never recorded it), the hour of its first event, and its events in each span asked (every
    currency together, test orders left out)."""

    metric_id: str | None = None
    first_hour: datetime | None = None
    counts: dict[Span, int] = field(default_factory=dict)


@functools.cache
def _span_sums(spans: int) -> Select[Any]:
    """Each metric's count in each of ``spans`` spans (``since_N``, ``until_N``), within
    [``since``, ``until``): built once, as its many terms take longer to build than to run."""
    hour, count = metric_rollups.c.hour, metric_rollups.c.count

    def at(name: str) -> BindParameter[Any]:
        return bindparam(name, type_=hour.type)

    sums = [
        func.sum(case((and_(hour >= at(f"since_{n}"), hour < at(f"until_{n}")), count), else_=0))
        for n in range(spans)
    ]
    return (
        select(metric_rollups.c.metric_id, *sums)
        .where(
            metric_rollups.c.account_id == bindparam("account_id"),
            metric_rollups.c.metric_id.in_(bindparam("metric_ids", expanding=True)),
            hour >= at("since"),
            hour < at("until"),
            metric_rollups.c.test.is_(False),
        )
        .group_by(metric_rollups.c.metric_id)
    )


def metric_histories(
    connection: Connection,
    account_id: str,
    integration_id: str,
    names: Sequence[str],
    spans: Sequence[Span],
) -> dict[str, MetricHistory]:
    """The histories of the integration's metrics ``names`` (each in the answer): the
    metrics with their first hours in one statement, then every span's count of each in one
    more — summed in the database from the hourly rollups, a column per span."""
    firsts = (
        select(func.min(metric_rollups.c.hour))
        .where(
            metric_rollups.c.account_id == account_id,
            metric_rollups.c.metric_id == metrics.c.id,
            metric_rollups.c.test.is_(False),
            metric_rollups.c.count > 0,
        )
        .scalar_subquery()
    )
    found = connection.execute(
        select(metrics.c.name, metrics.c.id, firsts).where(
            metrics.c.source == integration_id, metrics.c.name.in_(names)
        )
    ).all()
    counted: dict[str, dict[Span, int]] = {}
    if found and spans:
        params: dict[str, Any] = {
            "account_id": account_id,
            "metric_ids": [row.id for row in found],
            "since": min(since for since, _ in spans),
            "until": max(until for _, until in spans),
        }
        for index, (since, until) in enumerate(spans):
            params[f"since_{index}"], params[f"until_{index}"] = since, until
        for metric_id, *totals in connection.execute(_span_sums(len(spans)), params):
            pairs = zip(spans, totals, strict=True)
            counted[metric_id] = {span: int(total or 0) for span, total in pairs}
    histories = {name: MetricHistory() for name in names}
    for name, metric_id, first_hour in found:
        counts = counted.get(metric_id) or dict.fromkeys(spans, 0)
        histories[name] = MetricHistory(metric_id, first_hour, counts)
    return histories


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
