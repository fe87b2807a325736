"""Flow runs in the database: one profile's pass through a flow, and the durable work row of its
next step, claimed like inbox rows; a process sending a run's message holds its lease."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select, update

from shoptrack.ids import new_id
from shoptrack.store._leases import Lease
from shoptrack.store._rows import from_row
from shoptrack.store.engagement import erase_profile_engagement
from shoptrack.store.flows._definitions import FlowRecord
from shoptrack.store.recording import RecordedEvent
from shoptrack.store.schema import flow_activity, flow_deliveries, flow_runs
from shoptrack.store.sql import for_update, insert_ignore

__all__ = [
    "RunRecord",
    "RunState",
    "claim_due_runs",
    "erase_profile_flows",
    "finish_run",
    "finish_send",
    "hold_for_send",
    "last_entry",
    "move_run",
    "renew_send_lease",
    "retry_run",
    "start_run",
]


class RunState:
    """The states of a flow run."""

    ACTIVE = "active"  # its next step waits for due_at
    COMPLETED = "completed"  # walked to the end
    EXITED = "exited"  # left early: a filter failed, an exit step, the flow stopped


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A flow run claimed for its next step."""

    id: str
    account_id: str
    flow_id: str
    profile_id: str
    trigger_event_id: str
    trigger_time: datetime
    step_id: str | None
    attempts: int
    entered_at: datetime


# The lease of the process sending a run's message.
_SEND_LEASE = Lease(flow_runs.c.lease_owner, flow_runs.c.lease_expires_at)


def _moved_to(step_id: str | None, due_at: datetime) -> dict[str, Any]:
    """The values of a run pointed at a step, its failures forgotten and its lease released."""
    return {
        "step_id": step_id,
        "due_at": due_at,
        "attempts": 0,
        "last_error": None,
        **_SEND_LEASE.released(),
    }


def _at_step(run_id: str, step_id: str) -> ColumnElement[bool]:
    """The run while it is active at the message step ``step_id``."""
    return and_(
        flow_runs.c.id == run_id,
        flow_runs.c.step_id == step_id,
        flow_runs.c.state == RunState.ACTIVE,
    )


def last_entry(connection: Connection, flow_id: str, profile_id: str) -> datetime | None:
    """When the profile last entered the flow, or None if never."""
    value = connection.execute(
        select(func.max(flow_runs.c.entered_at)).where(
            flow_runs.c.flow_id == flow_id, flow_runs.c.profile_id == profile_id
        )
    ).scalar()
    return value if isinstance(value, datetime) else None


def start_run(
    connection: Connection,
    *,
    flow: FlowRecord,
    trigger: RecordedEvent,
    now: datetime,
) -> str | None:
    """A new run of ``trigger``'s profile at the flow's first step, due now; None when this
    event started one already (a retried batch never starts a flow twice)."""
    run_id = new_id()
    entry = flow.definition.entry
    inserted = insert_ignore(
        connection,
        flow_runs,
        {
            "id": run_id,
            "account_id": flow.account_id,
            "flow_id": flow.id,
            "profile_id": trigger.profile_id,
            "trigger_event_id": trigger.id,
            "trigger_time": trigger.time,
            "state": RunState.ACTIVE if entry else RunState.COMPLETED,
            "step_id": entry,
            "due_at": now if entry else None,
            "entered_at": now,
            "finished_at": None if entry else now,
        },
        conflict=("flow_id", "trigger_event_id"),
    )
    return run_id if inserted else None


def claim_due_runs(
    connection: Connection, now: datetime, limit: int, *, run_ids: Sequence[str] = ()
) -> list[RunRecord]:
    """Active runs whose step is due and whose lease (held while a message is sent) is free or
    expired, locked for this transaction: ``SKIP LOCKED`` on PostgreSQL gives concurrent workers
    disjoint runs; SQLite's single writer holds the whole database."""
    query = (
        select(flow_runs)
        .where(
            flow_runs.c.state == RunState.ACTIVE,
            flow_runs.c.due_at <= now,
            _SEND_LEASE.free(now),
        )
        .order_by(flow_runs.c.due_at, flow_runs.c.id)
        .limit(limit)
    )
    if run_ids:
        query = query.where(flow_runs.c.id.in_(list(run_ids)))
    rows = connection.execute(for_update(connection, query, skip_locked=True))
    return [from_row(RunRecord, row) for row in rows]


def move_run(connection: Connection, run_id: str, step_id: str | None, due_at: datetime) -> None:
    """Points the run at its next step, due at ``due_at``; clears its lease and failures."""
    connection.execute(
        update(flow_runs).where(flow_runs.c.id == run_id).values(**_moved_to(step_id, due_at))
    )


def hold_for_send(
    connection: Connection,
    run_id: str,
    step_id: str,
    *,
    owner: str,
    now: datetime,
    duration: timedelta,
) -> None:
    """Points the run at the message step being sent and leases it to ``owner``: no other
    process claims it until the lease expires."""
    connection.execute(
        update(flow_runs)
        .where(flow_runs.c.id == run_id)
        .values(step_id=step_id, **_SEND_LEASE.taken(owner, now, duration))
    )


def renew_send_lease(
    connection: Connection,
    run_id: str,
    step_id: str,
    *,
    owner: str,
    now: datetime,
    duration: timedelta,
) -> bool:
    """Extends ``owner``'s lease on the message it is about to send; False when another
    process took the run over (its lease ran out while earlier messages of the batch went
    out), and then this one must not send."""
    return _SEND_LEASE.renew(connection, _at_step(run_id, step_id), owner, now + duration)


def finish_send(
    connection: Connection,
    run_id: str,
    *,
    owner: str,
    step_id: str,
    next_step: str | None,
    now: datetime,
) -> bool:
    """Moves a run past the message it sent, if this process still holds its lease there;
    False when the lease was lost (another process took the run over and carries it on)."""
    return _SEND_LEASE.update(
        connection,
        _at_step(run_id, step_id),
        _SEND_LEASE.held_by(owner),
        **_moved_to(next_step, now),
    )


def retry_run(
    connection: Connection,
    run_id: str,
    attempts: int,
    error: str,
    due_at: datetime,
    *,
    owner: str | None = None,
) -> bool:
    """Records a failed attempt at the run's step; it runs again at ``due_at``. With
    ``owner``, only while that process still holds the run's lease (False otherwise)."""
    condition = [flow_runs.c.id == run_id]
    if owner is not None:
        condition.append(_SEND_LEASE.held_by(owner))
    return _SEND_LEASE.update(
        connection,
        *condition,
        attempts=attempts,
        last_error=error[:2000],
        due_at=due_at,
        **_SEND_LEASE.released(),
    )


def finish_run(
    connection: Connection, run_id: str, state: str, now: datetime, reason: str | None = None
) -> None:
    """Ends a run: ``completed``, or ``exited`` for ``reason``."""
    connection.execute(
        update(flow_runs)
        .where(flow_runs.c.id == run_id)
        .values(
            state=state,
            step_id=None,
            due_at=None,
            exit_reason=reason,
            finished_at=now,
            **_SEND_LEASE.released(),
        )
    )


def erase_profile_flows(connection: Connection, account_id: str, profile_id: str) -> None:
    """Forgets a profile's flow runs, deliveries (which hold its address) and activity, for a
    deletion request. The suppression list keeps the address: a "do not email" must outlive
    the profile, or a new order would start emailing them again."""
    erase_profile_engagement(connection, account_id, profile_id)
    # Deliveries before the runs they refer to.
    for table in (flow_deliveries, flow_activity, flow_runs):
        connection.execute(
            table.delete().where(table.c.account_id == account_id, table.c.profile_id == profile_id)
        )
