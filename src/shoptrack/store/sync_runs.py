"""Sync runs and the integration's sync lease, cursor and schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Select, func, or_, select, update

from shoptrack.connectors.errors import StoreError
from shoptrack.ids import new_id
from shoptrack.store._leases import Lease
from shoptrack.store.inbox import PENDING_ROWS
from shoptrack.store.schema import inbox, integrations, sync_runs
from shoptrack.store.sql import for_update

__all__ = [
    "QUEUED_BACKFILL",
    "SyncRunRecord",
    "add_events_recorded",
    "claim_lease",
    "due_integrations",
    "due_rows",
    "finish_run",
    "get_run",
    "latest_run",
    "list_runs",
    "pending_rows",
    "queue_sync",
    "queued_backfill",
    "release_lease",
    "save_cursor",
    "start_run",
    "take_queued_backfill",
    "unschedule_syncs",
]

# The key of the sync cursor (a work column) that holds a queued backfill's number of days
# until the sync that runs it takes it.
QUEUED_BACKFILL = "queued_backfill_days"

# The lease of the process syncing an integration.
_SYNC_LEASE = Lease(integrations.c.sync_lease_owner, integrations.c.sync_lease_expires_at)


def claim_lease(
    connection: Connection, integration_id: str, owner: str, now: datetime, duration: timedelta
) -> bool:
    """Takes (or renews) the integration's sync lease; False while another process holds it."""
    return _SYNC_LEASE.take(connection, integrations.c.id == integration_id, owner, now, duration)


def release_lease(
    connection: Connection, integration_id: str, owner: str, next_sync_at: datetime | None
) -> None:
    values = _SYNC_LEASE.released()
    if next_sync_at is not None:
        values["next_sync_at"] = next_sync_at
    _SYNC_LEASE.update(
        connection,
        integrations.c.id == integration_id,
        _SYNC_LEASE.held_by(owner),
        **values,
    )


def queue_sync(
    connection: Connection,
    account_id: str,
    integration_id: str,
    now: datetime,
    *,
    backfill_days: int | None = None,
) -> bool:
    """Makes the account's integration's next sync due now, for the workers' next round; with
    ``backfill_days`` that sync reads that many days back and records backfill, as
    ``shoptrack sync --backfill DAYS`` does. False when there is no such enabled integration."""
    row = connection.execute(
        for_update(
            connection,
            select(integrations.c.sync_cursor).where(
                integrations.c.id == integration_id,
                integrations.c.account_id == account_id,
                integrations.c.enabled.is_(True),
                integrations.c.removed_at.is_(None),
            ),
        )
    ).first()
    if row is None:
        return False
    values: dict[str, Any] = {"next_sync_at": now}
    if backfill_days is not None:
        values["sync_cursor"] = {**(row.sync_cursor or {}), QUEUED_BACKFILL: backfill_days}
    connection.execute(
        update(integrations).where(integrations.c.id == integration_id).values(**values)
    )
    return True


def unschedule_syncs(connection: Connection, integration_id: str) -> None:
    """Leaves the integration out of the workers' rounds: no sync is due until one is queued
    (orders then arrive only by its webhook deliveries)."""
    connection.execute(
        update(integrations).where(integrations.c.id == integration_id).values(next_sync_at=None)
    )


def take_queued_backfill(connection: Connection, integration_id: str, cursor: Any) -> int | None:
    """The days of a backfill queued by :func:`queue_sync`, removed from the integration's sync
    cursor (``cursor``, as read under the sync lease) so that only one sync runs it."""
    if not cursor or QUEUED_BACKFILL not in cursor:
        return None
    days = cursor[QUEUED_BACKFILL]
    kept = {key: value for key, value in cursor.items() if key != QUEUED_BACKFILL}
    connection.execute(
        update(integrations)
        .where(integrations.c.id == integration_id)
        .values(sync_cursor=kept or None)
    )
    return days if isinstance(days, int) and days > 0 else None


def queued_backfill(cursor: Any) -> int | None:
    """The days of the backfill queued in a sync cursor, if any (for progress panels)."""
    days = (cursor or {}).get(QUEUED_BACKFILL)
    return days if isinstance(days, int) and days > 0 else None


def due_integrations(connection: Connection, now: datetime, limit: int = 10) -> list[str]:
    """Enabled integrations whose next sync is due and that no process is syncing."""
    rows = connection.execute(
        select(integrations.c.id)
        .where(
            integrations.c.enabled.is_(True),
            integrations.c.removed_at.is_(None),
            integrations.c.next_sync_at <= now,
            _SYNC_LEASE.free(now),
        )
        .order_by(integrations.c.next_sync_at)
        .limit(limit)
    )
    return [str(row.id) for row in rows]


@dataclass(frozen=True, slots=True)
class SyncRunRecord:
    id: str
    account_id: str
    integration_id: str
    backfill: bool
    since: datetime
    until: datetime


def start_run(
    connection: Connection,
    *,
    account_id: str,
    integration_id: str,
    backfill: bool,
    since: datetime,
    until: datetime,
    now: datetime,
) -> SyncRunRecord:
    run = SyncRunRecord(new_id(), account_id, integration_id, backfill, since, until)
    connection.execute(
        sync_runs.insert().values(
            id=run.id,
            account_id=account_id,
            integration_id=integration_id,
            state="running",
            backfill=backfill,
            window_since=since,
            window_until=until,
            started_at=now,
        )
    )
    return run


def count_page(connection: Connection, run_id: str, orders: int, written: int) -> None:
    connection.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(
            pages=sync_runs.c.pages + 1,
            orders_seen=sync_runs.c.orders_seen + orders,
            rows_written=sync_runs.c.rows_written + written,
        )
    )


def finish_run(
    connection: Connection, run_id: str, now: datetime, error: StoreError | None = None
) -> None:
    values: dict[str, Any] = {"finished_at": now, "state": "failed" if error else "succeeded"}
    if error is not None:
        values |= {
            "error_code": error.code,
            "error_kind": error.kind,
            "error_detail": error.detail,
            "error_answer": error.store_answer or None,
        }
    connection.execute(update(sync_runs).where(sync_runs.c.id == run_id).values(**values))


def _runs() -> Select[Any]:
    """Sync runs with their ``pending_rows``: the rows they fetched that are not processed yet
    (found through the partial index of pending rows, however large the run)."""
    pending = (
        select(func.count())
        .select_from(inbox)
        .where(inbox.c.sync_run_id == sync_runs.c.id, inbox.c.state == "pending")
        .scalar_subquery()
    )
    return select(sync_runs, pending.label("pending_rows"))


def get_run(connection: Connection, account_id: str, run_id: str) -> Row[Any] | None:
    return connection.execute(
        _runs().where(sync_runs.c.account_id == account_id, sync_runs.c.id == run_id)
    ).first()


def list_runs(
    connection: Connection, account_id: str, integration_id: str, limit: int = 50
) -> list[Row[Any]]:
    return list(
        connection.execute(
            _runs()
            .where(
                sync_runs.c.account_id == account_id, sync_runs.c.integration_id == integration_id
            )
            .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
            .limit(limit)
        )
    )


def due_rows(connection: Connection, run_id: str, now: datetime) -> int:
    """The rows a run fetched that wait to be processed now (not those a failure left waiting
    for their retry)."""
    return int(
        connection.execute(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.sync_run_id == run_id, PENDING_ROWS, inbox.c.available_at <= now)
        ).scalar_one()
    )


def pending_rows(connection: Connection, integration_id: str, since: datetime) -> int:
    """Rows that the integration's syncs fetched and that are not processed yet, of the runs
    still running or finished since ``since``: whichever of them is the latest, the events of
    the others are not recorded either until these are processed."""
    return int(
        connection.execute(
            select(func.count())
            .select_from(inbox.join(sync_runs, sync_runs.c.id == inbox.c.sync_run_id))
            .where(
                sync_runs.c.integration_id == integration_id,
                or_(sync_runs.c.finished_at.is_(None), sync_runs.c.finished_at >= since),
                inbox.c.state == "pending",
            )
        ).scalar_one()
    )


def add_events_recorded(connection: Connection, counts: dict[str, int]) -> None:
    """Counts events recorded from rows that syncs fetched, by run (sorted: lock order)."""
    for run_id in sorted(counts):
        connection.execute(
            update(sync_runs)
            .where(sync_runs.c.id == run_id)
            .values(events_recorded=sync_runs.c.events_recorded + counts[run_id])
        )


def latest_run(connection: Connection, integration_id: str) -> Row[Any] | None:
    """The integration's latest sync run, None before its first."""
    return connection.execute(
        select(sync_runs)
        .where(sync_runs.c.integration_id == integration_id)
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
        .limit(1)
    ).first()


def save_cursor(connection: Connection, integration_id: str, updated_at: datetime) -> None:
    """Moves the integration's sync cursor to the newest updated time a sync has stored (a
    backfill queued while it ran is kept for the next sync)."""
    current = connection.execute(
        for_update(
            connection,
            select(integrations.c.sync_cursor).where(integrations.c.id == integration_id),
        )
    ).scalar()
    document = {"updated_at": updated_at.astimezone(UTC).isoformat()}
    if current and QUEUED_BACKFILL in current:
        document[QUEUED_BACKFILL] = current[QUEUED_BACKFILL]
    connection.execute(
        update(integrations).where(integrations.c.id == integration_id).values(sync_cursor=document)
    )
