"""Flows in the database: definitions, runs (claimed like inbox rows), deliveries, activity, the
suppression list and the account's From address. Every query is scoped by account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select, update

from shoptrack.errors import NotFoundError
from shoptrack.flows.model import FlowDefinition, FlowStatus
from shoptrack.ids import new_id
from shoptrack.store.engagement import erase_profile_engagement
from shoptrack.store.schema import (
    accounts,
    email_suppressions,
    events,
    flow_activity,
    flow_deliveries,
    flow_runs,
    flows,
    metric_rollups,
    metrics,
)
from shoptrack.store.sql import for_update, insert_ignore

__all__ = [
    "DeliveryRecord",
    "FlowRecord",
    "RunRecord",
    "RunState",
    "StepStatistics",
    "account_email_from",
    "activity_of_profile",
    "claim_due_runs",
    "count_profile_events",
    "delivery_for",
    "emailed_since",
    "erase_profile_flows",
    "finish_run",
    "finish_send",
    "flow_statistics",
    "flows_triggered_by",
    "get_flow",
    "hold_for_send",
    "insert_flow",
    "last_entry",
    "list_flows",
    "list_suppressions",
    "mark_delivery",
    "move_run",
    "prepare_delivery",
    "recent_event_count",
    "record_activity",
    "restart_delivery",
    "retarget_flows",
    "retry_run",
    "set_account_email_from",
    "start_run",
    "step_statistics",
    "suppress",
    "suppression_of",
    "unsuppress",
    "update_flow",
]


class RunState:
    """The states of a flow run."""

    ACTIVE = "active"  # its next step waits for due_at
    COMPLETED = "completed"  # walked to the end
    EXITED = "exited"  # left early: a filter failed, an exit step, the flow stopped


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """A stored flow with its definition parsed."""

    id: str
    account_id: str
    name: str
    template: str | None
    status: FlowStatus
    archived: bool
    trigger_metric_id: str
    definition: FlowDefinition
    created_at: datetime
    updated_at: datetime


def _flow(row: Any) -> FlowRecord:
    return FlowRecord(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        template=row.template,
        status=FlowStatus(row.status),
        archived=row.archived,
        trigger_metric_id=row.trigger_metric_id,
        definition=FlowDefinition.model_validate(row.definition),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def insert_flow(
    connection: Connection,
    *,
    account_id: str,
    name: str,
    template: str | None,
    status: FlowStatus,
    trigger_metric_id: str,
    definition: FlowDefinition,
    now: datetime,
) -> FlowRecord:
    """Stores a new flow; its definition is written as JSON."""
    flow_id = new_id()
    connection.execute(
        flows.insert().values(
            id=flow_id,
            account_id=account_id,
            name=name,
            template=template,
            status=status.value,
            trigger_metric_id=trigger_metric_id,
            definition=definition.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
    )
    return get_flow(connection, account_id, flow_id)


def get_flow(connection: Connection, account_id: str, flow_id: str) -> FlowRecord:
    """The account's flow ``flow_id``; ``NotFoundError`` also when another account has it."""
    row = connection.execute(
        select(flows).where(flows.c.account_id == account_id, flows.c.id == flow_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no flow {flow_id}", parameter="id")
    return _flow(row)


def list_flows(
    connection: Connection, account_id: str, *, after: str | None = None, limit: int = 50
) -> list[FlowRecord]:
    """Up to ``limit + 1`` flows in id order (one more tells the caller a next page exists)."""
    conditions = [flows.c.account_id == account_id]
    if after is not None:
        conditions.append(flows.c.id > after)
    rows = connection.execute(
        select(flows).where(*conditions).order_by(flows.c.id).limit(limit + 1)
    )
    return [_flow(row) for row in rows]


def update_flow(
    connection: Connection,
    flow: FlowRecord,
    now: datetime,
    *,
    name: str | None = None,
    status: FlowStatus | None = None,
    archived: bool | None = None,
    definition: FlowDefinition | None = None,
) -> FlowRecord:
    """Changes what is given (None leaves a field as it is) and returns the flow as stored."""
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if status is not None:
        values["status"] = status.value
    if archived is not None:
        values["archived"] = archived
    if definition is not None:
        values["definition"] = definition.model_dump(mode="json")
    connection.execute(
        update(flows)
        .where(flows.c.account_id == flow.account_id, flows.c.id == flow.id)
        .values(**values)
    )
    return get_flow(connection, flow.account_id, flow.id)


def retarget_flows(
    connection: Connection, account_id: str, from_metric_id: str, to_metric_id: str, now: datetime
) -> list[str]:
    """Moves every flow of the account triggered by one metric to another; their ids."""
    moved = list(
        connection.execute(
            select(flows.c.id)
            .where(flows.c.account_id == account_id, flows.c.trigger_metric_id == from_metric_id)
            .order_by(flows.c.id)
        ).scalars()
    )
    if moved:
        connection.execute(
            update(flows)
            .where(flows.c.account_id == account_id, flows.c.id.in_(moved))
            .values(trigger_metric_id=to_metric_id, updated_at=now)
        )
    return [str(flow_id) for flow_id in moved]


def flows_triggered_by(connection: Connection, metric_ids: Sequence[str]) -> list[FlowRecord]:
    """The flows that profiles may enter (manual or live, not archived) on these metrics."""
    if not metric_ids:
        return []
    rows = connection.execute(
        select(flows)
        .where(
            flows.c.trigger_metric_id.in_(sorted(set(metric_ids))),
            flows.c.status.in_([FlowStatus.MANUAL.value, FlowStatus.LIVE.value]),
            flows.c.archived.is_(False),
        )
        .order_by(flows.c.id)
    )
    return [_flow(row) for row in rows]


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


# --- runs ----------------------------------------------------------------------------------


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
    profile_id: str,
    trigger_event_id: str,
    trigger_time: datetime,
    now: datetime,
) -> str | None:
    """A new run at the flow's first step, due now; None when this event started one already
    (a retried batch never starts a flow twice)."""
    run_id = new_id()
    entry = flow.definition.entry
    inserted = insert_ignore(
        connection,
        flow_runs,
        {
            "id": run_id,
            "account_id": flow.account_id,
            "flow_id": flow.id,
            "profile_id": profile_id,
            "trigger_event_id": trigger_event_id,
            "trigger_time": trigger_time,
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
            or_(flow_runs.c.lease_owner.is_(None), flow_runs.c.lease_expires_at < now),
        )
        .order_by(flow_runs.c.due_at, flow_runs.c.id)
        .limit(limit)
    )
    if run_ids:
        query = query.where(flow_runs.c.id.in_(list(run_ids)))
    rows = connection.execute(for_update(connection, query, skip_locked=True))
    return [
        RunRecord(
            id=row.id,
            account_id=row.account_id,
            flow_id=row.flow_id,
            profile_id=row.profile_id,
            trigger_event_id=row.trigger_event_id,
            trigger_time=row.trigger_time,
            step_id=row.step_id,
            attempts=row.attempts,
            entered_at=row.entered_at,
        )
        for row in rows
    ]


def move_run(connection: Connection, run_id: str, step_id: str | None, due_at: datetime) -> None:
    """Points the run at its next step, due at ``due_at``; clears its lease and failures."""
    connection.execute(
        update(flow_runs)
        .where(flow_runs.c.id == run_id)
        .values(
            step_id=step_id,
            due_at=due_at,
            attempts=0,
            last_error=None,
            lease_owner=None,
            lease_expires_at=None,
        )
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
        .values(step_id=step_id, lease_owner=owner, lease_expires_at=now + duration)
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
    result = connection.execute(
        update(flow_runs)
        .where(
            flow_runs.c.id == run_id,
            flow_runs.c.lease_owner == owner,
            flow_runs.c.step_id == step_id,
            flow_runs.c.state == RunState.ACTIVE,
        )
        .values(lease_expires_at=now + duration)
        .returning(flow_runs.c.id)
    )
    return result.first() is not None


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
        condition.append(flow_runs.c.lease_owner == owner)
    result = connection.execute(
        update(flow_runs)
        .where(*condition)
        .values(
            attempts=attempts,
            last_error=error[:2000],
            due_at=due_at,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(flow_runs.c.id)
    )
    return result.first() is not None


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
            lease_owner=None,
            lease_expires_at=None,
        )
    )


# --- deliveries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A message a run sends: its intent, kept whatever becomes of it. ``state`` is
    ``sending`` while an attempt is out (or was interrupted), ``retry`` after a failed attempt,
    then ``sent``, ``failed`` or ``cancelled``; ``attempts`` counts the attempts started."""

    id: str
    run_id: str
    step_id: str
    channel: str
    recipient: str
    message_id: str
    state: str
    attempts: int


def _delivery(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        run_id=row.flow_run_id,
        step_id=row.step_id,
        channel=row.channel,
        recipient=row.recipient,
        message_id=row.message_id,
        state=row.state,
        attempts=row.attempts,
    )


def delivery_for(connection: Connection, run_id: str, step_id: str) -> DeliveryRecord | None:
    """The intent of a run's message step, if one was written."""
    row = connection.execute(
        select(flow_deliveries).where(
            flow_deliveries.c.flow_run_id == run_id, flow_deliveries.c.step_id == step_id
        )
    ).first()
    return None if row is None else _delivery(row)


def prepare_delivery(
    connection: Connection,
    *,
    run: RunRecord,
    step_id: str,
    channel: str,
    recipient: str,
    message_id: str,
    delivery_id: str,
    subject: str | None,
    now: datetime,
) -> DeliveryRecord:
    """Writes a message's intent as its first attempt starts (state ``sending``)."""
    connection.execute(
        flow_deliveries.insert().values(
            id=delivery_id,
            account_id=run.account_id,
            flow_id=run.flow_id,
            flow_run_id=run.id,
            step_id=step_id,
            profile_id=run.profile_id,
            channel=channel,
            recipient=recipient,
            message_id=message_id,
            subject=subject,
            state="sending",
            attempts=1,
            created_at=now,
        )
    )
    found = delivery_for(connection, run.id, step_id)
    if found is None:
        raise LookupError("a delivery was written and cannot be read back")
    return found


def restart_delivery(connection: Connection, delivery: DeliveryRecord) -> DeliveryRecord:
    """Starts another attempt at a delivery (state ``sending``, one more attempt)."""
    connection.execute(
        update(flow_deliveries)
        .where(flow_deliveries.c.id == delivery.id)
        .values(state="sending", attempts=delivery.attempts + 1)
    )
    return DeliveryRecord(
        id=delivery.id,
        run_id=delivery.run_id,
        step_id=delivery.step_id,
        channel=delivery.channel,
        recipient=delivery.recipient,
        message_id=delivery.message_id,
        state="sending",
        attempts=delivery.attempts + 1,
    )


def mark_delivery(
    connection: Connection,
    delivery_id: str,
    state: str,
    now: datetime,
    error: str | None = None,
    *,
    subject: str | None = None,
) -> None:
    """Records an attempt's outcome: ``sent``; ``failed`` for good; ``retry``; or
    ``cancelled`` (not sent again: the profile unsubscribed or left the flow meanwhile); and an
    email's subject once its templates are rendered."""
    values: dict[str, Any] = {
        "state": state,
        "last_error": None if error is None else error[:2000],
        "sent_at": now if state == "sent" else None,
    }
    if subject is not None:
        values["subject"] = subject
    connection.execute(
        update(flow_deliveries).where(flow_deliveries.c.id == delivery_id).values(**values)
    )


def emailed_since(
    connection: Connection, account_id: str, profile_id: str, since: datetime
) -> bool:
    """Whether the profile was sent (or is being sent) an email since ``since``."""
    found = connection.execute(
        select(flow_deliveries.c.id)
        .where(
            flow_deliveries.c.account_id == account_id,
            flow_deliveries.c.profile_id == profile_id,
            flow_deliveries.c.channel == "email",
            flow_deliveries.c.state.in_(["sending", "retry", "sent"]),
            flow_deliveries.c.created_at >= since,
        )
        .limit(1)
    ).first()
    return found is not None


# --- activity and statistics ---------------------------------------------------------------


def record_activity(
    connection: Connection,
    *,
    account_id: str,
    flow_id: str,
    profile_id: str,
    kind: str,
    now: datetime,
    run_id: str | None = None,
    step_id: str | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    """Records one step a profile took in a flow (its feed, and the flow's statistics)."""
    connection.execute(
        flow_activity.insert().values(
            account_id=account_id,
            flow_id=flow_id,
            flow_run_id=run_id,
            profile_id=profile_id,
            step_id=step_id,
            kind=kind,
            reason=reason,
            detail=None if detail is None else detail[:2000],
            at=now,
        )
    )


def activity_of_profile(
    connection: Connection, account_id: str, profile_id: str, *, limit: int = 200
) -> list[Row[Any]]:
    """The profile's flow activity, newest first."""
    return list(
        connection.execute(
            select(flow_activity)
            .where(
                flow_activity.c.account_id == account_id,
                flow_activity.c.profile_id == profile_id,
            )
            .order_by(flow_activity.c.at.desc(), flow_activity.c.id.desc())
            .limit(limit)
        )
    )


def flow_statistics(connection: Connection, flow: FlowRecord, now: datetime) -> dict[str, Any]:
    """What profiles did in the flow: entered, waiting now, emailed, webhooks sent, skipped and
    exited (each by reason), completed."""
    counts: dict[tuple[str, str | None], int] = {
        (row.kind, row.reason): int(row.total)
        for row in connection.execute(
            select(flow_activity.c.kind, flow_activity.c.reason, func.count().label("total"))
            .where(flow_activity.c.account_id == flow.account_id)
            .where(flow_activity.c.flow_id == flow.id)
            .group_by(flow_activity.c.kind, flow_activity.c.reason)
        )
    }
    waiting = connection.execute(
        select(func.count())
        .select_from(flow_runs)
        .where(
            flow_runs.c.flow_id == flow.id,
            flow_runs.c.state == RunState.ACTIVE,
            flow_runs.c.due_at > now,
        )
    ).scalar_one()

    def total(kind: str) -> int:
        return sum(count for (k, _), count in counts.items() if k == kind)

    def by_reason(kind: str) -> dict[str, int]:
        return {
            reason or "": count
            for (k, reason), count in sorted(counts.items(), key=str)
            if k == kind
        }

    return {
        "entered": total("entered"),
        "not_entered": by_reason("not_entered"),
        "waiting": int(waiting),
        "emailed": total("emailed"),
        "webhooks_sent": total("webhook_sent"),
        "skipped": by_reason("skipped"),
        "exited": by_reason("exited"),
        "completed": total("completed"),
    }


@dataclass(frozen=True, slots=True)
class StepStatistics:
    """What happened at one step of a flow: the activity recorded there, as ``{kind: {reason:
    count}}`` (``""`` for no reason; kinds as in ``flow_statistics``), and how many active runs
    wait to take it next (``due_later``: their delay is not over)."""

    activity: dict[str, dict[str, int]]
    due_later: int

    def count(self, kind: str) -> int:
        return sum(self.activity.get(kind, {}).values())


def step_statistics(
    connection: Connection, flow: FlowRecord, now: datetime
) -> dict[str, StepStatistics]:
    """``flow_statistics`` per step, by step id (steps nothing reached yet are left out)."""
    activity: dict[str, dict[str, dict[str, int]]] = {}
    for row in connection.execute(
        select(
            flow_activity.c.step_id,
            flow_activity.c.kind,
            flow_activity.c.reason,
            func.count().label("total"),
        )
        .where(flow_activity.c.account_id == flow.account_id)
        .where(flow_activity.c.flow_id == flow.id, flow_activity.c.step_id.is_not(None))
        .group_by(flow_activity.c.step_id, flow_activity.c.kind, flow_activity.c.reason)
    ):
        kinds = activity.setdefault(row.step_id, {})
        kinds.setdefault(row.kind, {})[row.reason or ""] = int(row.total)
    due_later: dict[str, int] = dict(
        connection.execute(
            select(flow_runs.c.step_id, func.count())
            .where(
                flow_runs.c.flow_id == flow.id,
                flow_runs.c.state == RunState.ACTIVE,
                flow_runs.c.due_at > now,
                flow_runs.c.step_id.is_not(None),
            )
            .group_by(flow_runs.c.step_id)
        ).all()
    )
    return {
        step_id: StepStatistics(activity.get(step_id, {}), int(due_later.get(step_id, 0)))
        for step_id in sorted({*activity, *due_later})
    }


# --- suppressions and the account's From ---------------------------------------------------


def suppress(
    connection: Connection, account_id: str, email: str, reason: str, now: datetime
) -> bool:
    """Adds an address to the account's suppression list; False when it was there already."""
    return insert_ignore(
        connection,
        email_suppressions,
        {"account_id": account_id, "email": email, "reason": reason, "created_at": now},
        conflict=("account_id", "email"),
    )


def unsuppress(connection: Connection, account_id: str, email: str) -> bool:
    """Takes an address off the suppression list; False when it was not on it."""
    result = connection.execute(
        email_suppressions.delete().where(
            email_suppressions.c.account_id == account_id, email_suppressions.c.email == email
        )
    )
    return bool(result.rowcount)


def suppression_of(connection: Connection, account_id: str, email: str) -> str | None:
    """Why the address is suppressed (``unsubscribed``, ``manual``…), or None."""
    value = connection.execute(
        select(email_suppressions.c.reason).where(
            email_suppressions.c.account_id == account_id, email_suppressions.c.email == email
        )
    ).scalar()
    return None if value is None else str(value)


def list_suppressions(connection: Connection, account_id: str) -> list[Row[Any]]:
    """The account's suppressed addresses, alphabetically."""
    return list(
        connection.execute(
            select(email_suppressions)
            .where(email_suppressions.c.account_id == account_id)
            .order_by(email_suppressions.c.email)
        )
    )


def account_email_from(connection: Connection, account_id: str) -> str | None:
    """The account's own From for flow emails, or None to use ``SHOPTRACK_EMAIL_FROM``."""
    value = connection.execute(
        select(accounts.c.email_from).where(accounts.c.id == account_id)
    ).scalar()
    return None if value is None else str(value)


def set_account_email_from(connection: Connection, account_id: str, email_from: str | None) -> None:
    """Sets (or, with None, clears) the account's From for flow emails."""
    result = connection.execute(
        update(accounts).where(accounts.c.id == account_id).values(email_from=email_from)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no account {account_id}", parameter="account")


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
    result = connection.execute(
        update(flow_runs)
        .where(
            flow_runs.c.id == run_id,
            flow_runs.c.lease_owner == owner,
            flow_runs.c.step_id == step_id,
            flow_runs.c.state == RunState.ACTIVE,
        )
        .values(
            step_id=next_step,
            due_at=now,
            attempts=0,
            last_error=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(flow_runs.c.id)
    )
    return result.first() is not None


def erase_profile_flows(connection: Connection, account_id: str, profile_id: str) -> None:
    """Forgets a profile's flow runs, deliveries (which hold its address) and activity, for a
    deletion request. The suppression list keeps the address: a "do not email" must outlive
    the profile, or a new order would start emailing them again."""
    erase_profile_engagement(connection, account_id, profile_id)
    connection.execute(
        flow_deliveries.delete().where(
            flow_deliveries.c.account_id == account_id,
            flow_deliveries.c.profile_id == profile_id,
        )
    )
    connection.execute(
        flow_activity.delete().where(
            flow_activity.c.account_id == account_id, flow_activity.c.profile_id == profile_id
        )
    )
    connection.execute(
        flow_runs.delete().where(
            flow_runs.c.account_id == account_id, flow_runs.c.profile_id == profile_id
        )
    )
