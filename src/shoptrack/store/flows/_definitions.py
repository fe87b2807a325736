"""Flow definitions in the database: a flow's name, status, trigger metric and steps (its
``FlowDefinition`` stored as JSON), and the flows an event of a metric may start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from shoptrack.errors import NotFoundError
from shoptrack.flows.model import FlowDefinition, FlowStatus
from shoptrack.store._rows import from_row, insert_new
from shoptrack.store.schema import flows

__all__ = [
    "FlowRecord",
    "flows_triggered_by",
    "get_flow",
    "insert_flow",
    "list_flows",
    "retarget_flows",
    "update_flow",
]


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
    return from_row(
        FlowRecord,
        row,
        status=FlowStatus(row.status),
        definition=FlowDefinition.model_validate(row.definition),
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
    flow_id = insert_new(
        connection,
        flows,
        account_id=account_id,
        name=name,
        template=template,
        status=status.value,
        trigger_metric_id=trigger_metric_id,
        definition=definition.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
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
