"""A metric's history as drop detection reads it: counts of slices of weeks from the rollups
(live and backfill events by event time, test orders left out), the hour of its first event,
and how far an integration's counts are complete (its last successful sync, its oldest
unprocessed delivery). An integration's watched metrics are read together
(:func:`metric_histories`): two statements whatever their number and history."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, Select, bindparam, case, func, select

from shoptrack.domain.drops import HOURS_IN_WEEK, WINDOW_HOURS, Slice, history_range
from shoptrack.store.schema import inbox, metric_rollups, metrics, sync_runs
from shoptrack.store.sql import epoch_seconds

__all__ = [
    "MetricHistory",
    "last_synced_until",
    "metric_histories",
    "oldest_pending_delivery",
]


@dataclass(frozen=True, slots=True)
class MetricHistory:
    """One metric of an integration as drop detection reads it: its id (None: the integration
    never recorded it), the hour of its first event, and its events in each slice of the weeks
    before the end asked (``shoptrack.domain.drops.slice_of``; slices without events absent;
    every currency together, test orders left out)."""

    metric_id: str | None = None
    first_hour: datetime | None = None
    slices: dict[Slice, int] = field(default_factory=dict)


@functools.cache
def _slice_counts(dialect_name: str) -> Select[Any]:
    """Each metric's count per (week, slice) in [``since``, ``end``), ``end_epoch`` being
    ``end`` in epoch seconds: every rollup row placed by arithmetic and one CASE, then grouped
    (built once per dialect)."""
    hour = epoch_seconds(dialect_name, metric_rollups.c.hour)
    hours_before: ColumnElement[int] = (bindparam("end_epoch", type_=BigInteger) - hour) // 3600
    in_week = (hours_before - 1) % HOURS_IN_WEEK + 1
    slice_index = case(*((in_week <= hours, index) for index, hours in enumerate(WINDOW_HOURS)))
    placed = (
        select(
            metric_rollups.c.metric_id,
            ((hours_before - 1) // HOURS_IN_WEEK).label("week"),
            slice_index.label("slice"),
            metric_rollups.c.count,
        )
        .where(
            metric_rollups.c.account_id == bindparam("account_id"),
            metric_rollups.c.metric_id.in_(bindparam("metric_ids", expanding=True)),
            metric_rollups.c.hour >= bindparam("since", type_=metric_rollups.c.hour.type),
            metric_rollups.c.hour < bindparam("end", type_=metric_rollups.c.hour.type),
            metric_rollups.c.test.is_(False),
        )
        .subquery()
    )
    keys = (placed.c.metric_id, placed.c.week, placed.c.slice)
    return select(*keys, func.sum(placed.c.count)).group_by(*keys)


def metric_histories(
    connection: Connection,
    account_id: str,
    integration_id: str,
    names: Sequence[str],
    end: datetime,
) -> dict[str, MetricHistory]:
    """The histories of the integration's metrics ``names`` (each in the answer) over
    ``history_range(end)``: the metrics with their first hours in one statement, their slices'
    counts in one more (a few dozen rows a metric whatever the history's size)."""
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
    slices: dict[str, dict[Slice, int]] = {row.id: {} for row in found}
    if found:
        since, _ = history_range(end)
        rows = connection.execute(
            _slice_counts(connection.dialect.name),
            {
                "account_id": account_id,
                "metric_ids": list(slices),
                "since": since,
                "end": end,
                "end_epoch": int(end.timestamp()),
            },
        )
        for metric_id, week, index, count in rows:
            if count:
                slices[metric_id][int(week), int(index)] = int(count)
    histories = {name: MetricHistory() for name in names}
    for name, metric_id, first_hour in found:
        histories[name] = MetricHistory(metric_id, first_hour, slices[metric_id])
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
