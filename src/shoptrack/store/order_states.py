"""Order states: the stored last-known state of each order, updated with the events it records."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, Row, bindparam, select, update

from shoptrack.domain.lifecycle import OrderState, Transition, transition
from shoptrack.domain.order import Order
from shoptrack.domain.status import Lifecycle, StatusRules
from shoptrack.store.schema import order_states
from shoptrack.store.sql import execute_many, for_update, in_values, insert_ignore_returning

__all__ = [
    "Sighting",
    "SightingsPlan",
    "apply_sightings",
    "kept_orders",
    "load_state",
    "order_from_snapshot",
    "order_snapshot",
    "plan_sightings",
    "seen_statuses",
]

_ORDER = TypeAdapter(Order)

_RECORDED_AT = {
    Lifecycle.PLACED: "placed_recorded_at",
    Lifecycle.FULFILLED: "fulfilled_recorded_at",
    Lifecycle.CANCELLED: "cancelled_recorded_at",
    Lifecycle.REFUNDED: "refunded_recorded_at",
}
# What a sighting may change of a stored state; the key, account and first sighting stay.
_UPDATED_COLUMNS = (
    "raw_status",
    "platform_updated_at",
    "order_created_at",
    "email",
    "snapshot",
    "skipped",
    "last_seen_at",
    *_RECORDED_AT.values(),
)
_INSERT_COLUMNS = (
    "integration_id",
    "platform_order_id",
    "account_id",
    "first_seen_at",
    *_UPDATED_COLUMNS,
)
_INSERTED_COLUMNS = ("integration_id", "platform_order_id")


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
    """The stored state of an order, unlocked (for reading; ``apply_sightings`` locks)."""
    row = connection.execute(
        select(order_states).where(
            order_states.c.integration_id == integration_id,
            order_states.c.platform_order_id == platform_order_id,
        )
    ).first()
    return None if row is None else _state(row)


@dataclass(frozen=True, slots=True)
class Sighting:
    """One sighting of an order by an integration, with the rules it is judged by."""

    account_id: str
    integration_id: str
    rules: StatusRules
    order: Order

    @property
    def key(self) -> tuple[str, str]:
        return self.integration_id, self.order.platform_order_id


_KEY_COLUMNS = (order_states.c.integration_id, order_states.c.platform_order_id)
_UPDATE = (
    update(order_states)
    .where(
        order_states.c.integration_id == bindparam("k_integration"),
        order_states.c.platform_order_id == bindparam("k_order"),
    )
    .values({name: bindparam(name) for name in _UPDATED_COLUMNS})
)


def _stored_rows(
    connection: Connection, keys: Sequence[tuple[str, str]], *, lock: bool
) -> dict[tuple[str, str], Row[Any]]:
    """The stored rows of ``keys``; with ``lock``, locked in key order (one order for every
    worker)."""
    found: dict[tuple[str, str], Row[Any]] = {}
    for chunk in _chunks(sorted(keys)):
        query = (
            select(order_states)
            .where(in_values(connection, _KEY_COLUMNS, chunk))
            .order_by(*_KEY_COLUMNS)
        )
        for row in connection.execute(for_update(connection, query) if lock else query):
            found[(row.integration_id, row.platform_order_id)] = row
    return found


def _chunks(keys: Sequence[tuple[str, str]], size: int = 500) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


@dataclass(slots=True)
class _Fold:
    """The sightings of one order in a batch, applied one after the other to its state."""

    stored: Row[Any] | None
    state: OrderState | None = None
    values: dict[str, Any] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def start(cls, stored: Row[Any] | None) -> _Fold:
        fold = cls(stored, None if stored is None else _state(stored))
        if stored is not None:
            fold.values = {name: stored._mapping[name] for name in _UPDATED_COLUMNS}
        return fold

    def apply(self, sighting: Sighting, now: datetime) -> Transition:
        order = sighting.order
        change = transition(self.state, order, sighting.rules)
        self.values["last_seen_at"] = now
        if not change.stale:
            self.changed = True
            self.values |= _sighting_values(order) | {"skipped": change.state.skipped}
            for stage in change.record:
                self.values[_RECORDED_AT[stage]] = now
        self.state = change.state
        return change


def _sighting_values(order: Order) -> dict[str, Any]:
    return {
        "raw_status": order.raw_status,
        "platform_updated_at": order.updated_at,
        "order_created_at": order.created_at,
        "email": order.email,
        "snapshot": order_snapshot(order),
    }


@dataclass(frozen=True, slots=True)
class SightingsPlan:
    """Sightings applied to their orders' states as read before the write transaction (SQLite's
    processor reads and works them out before it takes the write lock): ``apply_sightings``
    writes what it worked out if the stored states are still those, else works them out again.
    """

    sightings: Sequence[Sighting]
    now: datetime
    stored: dict[tuple[str, str], Row[Any]]
    folds: dict[tuple[str, str], _Fold]
    transitions: list[Transition]


def plan_sightings(
    connection: Connection, sightings: Sequence[Sighting], now: datetime
) -> SightingsPlan:
    """What ``apply_sightings`` would do with the states stored now, read without locks."""
    keys = sorted({sighting.key for sighting in sightings})
    stored = _stored_rows(connection, keys, lock=False)
    folds = {key: _Fold.start(stored.get(key)) for key in keys}
    transitions = [folds[sighting.key].apply(sighting, now) for sighting in sightings]
    return SightingsPlan(sightings, now, stored, folds, transitions)


def apply_sightings(
    connection: Connection,
    sightings: Sequence[Sighting],
    now: datetime,
    plan: SightingsPlan | None = None,
) -> list[Transition]:
    """Applies sightings under their orders' row locks, in a few statements whatever their
    number; the caller records each transition's ``record`` in the same transaction, which is
    what makes each event happen once. Sightings of one order apply in the order given.

    Stored rows are locked in key order; orders seen for the first time are inserted in key
    order, and when another worker inserted one first, its row is locked and the sightings of
    that order are applied on top of it. ``plan`` (of these sightings, at ``now``) is what they
    come to if the locked rows are the ones it was made from — the same rows, folded alike.
    """
    if plan is not None and (plan.sightings is not sightings or plan.now != now):
        raise ValueError("the plan was made for other sightings or another time")
    pending = list(range(len(sightings)))
    results: list[Transition | None] = [None] * len(sightings)
    while pending:
        keys = sorted({sightings[index].key for index in pending})
        stored = _stored_rows(connection, keys, lock=True)
        if plan is not None and stored == plan.stored:
            folds = plan.folds
            results[:] = plan.transitions
        else:
            folds = {key: _Fold.start(stored.get(key)) for key in keys}
            for index in pending:
                sighting = sightings[index]
                results[index] = folds[sighting.key].apply(sighting, now)
        plan = None  # made for the first round only
        new = [key for key in keys if folds[key].stored is None]
        inserted = _insert_new(
            connection, sightings=sightings, pending=pending, folds=folds, new=new, now=now
        )
        updates = [
            folds[key].values | {"k_integration": key[0], "k_order": key[1]}
            for key in keys
            if folds[key].stored is not None
        ]
        execute_many(connection, _UPDATE, updates)
        # Orders another worker inserted meanwhile: their sightings apply again on its row.
        lost = set(new) - inserted
        pending = [index for index in pending if sightings[index].key in lost]
    return [result for result in results if result is not None]


def _insert_new(
    connection: Connection,
    *,
    sightings: Sequence[Sighting],
    pending: Sequence[int],
    folds: dict[tuple[str, str], _Fold],
    new: Sequence[tuple[str, str]],
    now: datetime,
) -> set[tuple[str, str]]:
    """Inserts the orders seen for the first time; the keys that were inserted."""
    if not new:
        return set()
    account_of = {sightings[index].key: sightings[index].account_id for index in pending}
    rows = [
        folds[key].values
        | {
            "integration_id": key[0],
            "platform_order_id": key[1],
            "account_id": account_of[key],
            "first_seen_at": now,
        }
        for key in new
    ]
    returned = insert_ignore_returning(connection, order_states, _complete(rows), _INSERTED_COLUMNS)
    return {(row.integration_id, row.platform_order_id) for row in returned}


def _complete(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every inserted column (an executemany needs one shape)."""
    return [{name: row.get(name) for name in _INSERT_COLUMNS} for row in rows]


def kept_orders(connection: Connection, integration_id: str) -> Iterator[Order]:
    """The newest sighting of every order of an integration, for re-evaluation under new rules."""
    rows = connection.execute(
        select(order_states.c.snapshot)
        .where(order_states.c.integration_id == integration_id)
        .order_by(order_states.c.platform_order_id)
    )
    for row in rows:
        yield order_from_snapshot(row.snapshot)


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
