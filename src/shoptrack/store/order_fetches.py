"""Order fetches: orders a webhook named by id only, waiting to be read from the store.

One row per order however many webhooks name it (a BigCommerce order that is created, paid and
moved to Awaiting Fulfillment sends three deliveries within a second: the store is asked once).
A request made while the order is being fetched moves ``requested_at``, so the fetch that was
already under way does not take the newer change with it: the row stays and is fetched again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shoptrack.store._leases import Lease
from shoptrack.store._rows import from_row
from shoptrack.store.schema import order_fetches
from shoptrack.store.sql import for_update

__all__ = [
    "COALESCE_DELAY",
    "OrderFetch",
    "claim_fetches",
    "fail_fetch",
    "finish_fetch",
    "request_fetches",
]

# How long a request waits for more webhooks about the same order before it is fetched.
COALESCE_DELAY = timedelta(seconds=2)

# The lease of the process fetching an order.
_FETCH_LEASE = Lease(order_fetches.c.lease_owner, order_fetches.c.lease_expires_at)


@dataclass(frozen=True, slots=True)
class OrderFetch:
    """A claimed fetch: which order, and the request it answers."""

    account_id: str
    integration_id: str
    platform_order_id: str
    requested_at: datetime
    attempts: int


def request_fetches(
    connection: Connection,
    *,
    account_id: str,
    integration_id: str,
    order_ids: Iterable[str],
    now: datetime,
) -> None:
    """Asks for each order to be fetched. An order already waiting keeps its due time, or
    takes the new one when that is sooner (a fetch backing off after failures is tried again
    when the store shows signs of life by sending a webhook)."""
    values = [
        {
            "integration_id": integration_id,
            "platform_order_id": order_id,
            "account_id": account_id,
            "requested_at": now,
            "due_at": now + COALESCE_DELAY,
        }
        for order_id in sorted(set(order_ids))
    ]
    if not values:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(order_fetches)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["integration_id", "platform_order_id"],
            set_={
                "requested_at": statement.excluded.requested_at,
                "due_at": case(
                    (order_fetches.c.due_at > statement.excluded.due_at, statement.excluded.due_at),
                    else_=order_fetches.c.due_at,
                ),
            },
        ),
        values,
    )


def claim_fetches(
    connection: Connection, owner: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[OrderFetch]:
    """Due fetches no other process holds, leased to ``owner`` (the fetch itself happens outside
    any transaction, so a lease, not a row lock, keeps two processes from doing it twice)."""
    query = (
        select(order_fetches)
        .where(
            order_fetches.c.due_at <= now,
            _FETCH_LEASE.free(now),
        )
        .order_by(order_fetches.c.due_at)
        .limit(limit)
    )
    rows = connection.execute(for_update(connection, query, skip_locked=True)).all()
    claimed = [from_row(OrderFetch, row) for row in rows]
    for fetch in claimed:
        connection.execute(
            update(order_fetches)
            .where(*_key(fetch))
            .values(**_FETCH_LEASE.taken(owner, now, lease))
        )
    return claimed


def finish_fetch(connection: Connection, fetch: OrderFetch, owner: str) -> None:
    """Done with a fetch: the row goes, unless a newer request came in while it ran (then it
    is released, to be fetched again)."""
    gone = connection.execute(
        delete(order_fetches).where(
            *_key(fetch),
            order_fetches.c.requested_at == fetch.requested_at,
            _FETCH_LEASE.held_by(owner),
        )
    ).rowcount
    if not gone:
        connection.execute(
            update(order_fetches)
            .where(*_key(fetch), _FETCH_LEASE.held_by(owner))
            .values(**_FETCH_LEASE.released(), attempts=0, last_error=None)
        )


def fail_fetch(
    connection: Connection, fetch: OrderFetch, owner: str, error: str, retry_at: datetime | None
) -> None:
    """A fetch that failed: released, to be tried again at ``retry_at``; given up (the row
    goes) when that is None — the scheduled poll behind the webhooks reads the order then."""
    if retry_at is None:
        connection.execute(delete(order_fetches).where(*_key(fetch), _FETCH_LEASE.held_by(owner)))
        return
    connection.execute(
        update(order_fetches)
        .where(*_key(fetch), _FETCH_LEASE.held_by(owner))
        .values(
            **_FETCH_LEASE.released(),
            attempts=order_fetches.c.attempts + 1,
            last_error=error[:2000],
            due_at=retry_at,
        )
    )


def _key(fetch: OrderFetch) -> tuple[ColumnElement[bool], ...]:
    return (
        order_fetches.c.integration_id == fetch.integration_id,
        order_fetches.c.platform_order_id == fetch.platform_order_id,
    )
