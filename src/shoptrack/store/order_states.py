"""Order states: the stored last-known state of each order, updated with the events it records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, Row, select, update

from shoptrack.domain.lifecycle import OrderState, Transition, transition
from shoptrack.domain.order import Order
from shoptrack.domain.status import Lifecycle, StatusRules
from shoptrack.store.schema import order_states
from shoptrack.store.sql import for_update, insert_ignore

__all__ = [
    "apply_sighting",
    "kept_orders",
    "load_state",
    "order_from_snapshot",
    "order_snapshot",
]

_ORDER = TypeAdapter(Order)

_RECORDED_AT = {
    Lifecycle.PLACED: "placed_recorded_at",
    Lifecycle.FULFILLED: "fulfilled_recorded_at",
    Lifecycle.CANCELLED: "cancelled_recorded_at",
    Lifecycle.REFUNDED: "refunded_recorded_at",
}


def order_snapshot(order: Order) -> dict[str, Any]:
    document: dict[str, Any] = _ORDER.dump_python(order, mode="json")
    return document


def order_from_snapshot(document: Any) -> Order:
    return _ORDER.validate_python(document)


def _state(row: Row[Any]) -> OrderState:
    return OrderState(
        platform_order_id=row.platform_order_id,
        raw_status=row.raw_status,
        platform_updated_at=row.platform_updated_at,
        recorded=frozenset(s for s, column in _RECORDED_AT.items() if row._mapping[column]),
        skipped=row.skipped,
    )


def load_state(
    connection: Connection, integration_id: str, platform_order_id: str
) -> OrderState | None:
    """The stored state of an order, unlocked (for predictions; ``apply_sighting`` locks)."""
    row = connection.execute(
        select(order_states).where(
            order_states.c.integration_id == integration_id,
            order_states.c.platform_order_id == platform_order_id,
        )
    ).first()
    return None if row is None else _state(row)


def apply_sighting(
    connection: Connection,
    *,
    account_id: str,
    integration_id: str,
    rules: StatusRules,
    order: Order,
    now: datetime,
) -> Transition:
    """Applies one sighting under the order's row lock; the caller records ``record`` in the same
    transaction, which is what makes each event happen once."""
    key = (
        order_states.c.integration_id == integration_id,
        order_states.c.platform_order_id == order.platform_order_id,
    )
    sighting = {
        "raw_status": order.raw_status,
        "platform_updated_at": order.updated_at,
        "order_created_at": order.created_at,
        "email": order.email,
        "snapshot": order_snapshot(order),
        "last_seen_at": now,
    }
    while True:
        row = connection.execute(for_update(connection, select(order_states).where(*key))).first()
        if row is not None:
            break
        change = transition(None, order, rules)
        inserted = insert_ignore(
            connection,
            order_states,
            sighting
            | {
                "integration_id": integration_id,
                "platform_order_id": order.platform_order_id,
                "account_id": account_id,
                "skipped": change.state.skipped,
                "first_seen_at": now,
            }
            | {_RECORDED_AT[stage]: now for stage in change.record},
            conflict=("integration_id", "platform_order_id"),
        )
        if inserted:
            return change
        # Another worker inserted it first: lock its row and apply this sighting on top.
    change = transition(_state(row), order, rules)
    values: dict[str, Any] = (
        {"last_seen_at": now}
        if change.stale
        else sighting
        | {"skipped": change.state.skipped}
        | {_RECORDED_AT[stage]: now for stage in change.record}
    )
    connection.execute(update(order_states).where(*key).values(**values))
    return change


def kept_orders(connection: Connection, integration_id: str) -> Iterator[Order]:
    """The newest sighting of every order of an integration, for re-evaluation under new rules."""
    rows = connection.execute(
        select(order_states.c.snapshot)
        .where(order_states.c.integration_id == integration_id)
        .order_by(order_states.c.platform_order_id)
    )
    for row in rows:
        yield order_from_snapshot(row.snapshot)
