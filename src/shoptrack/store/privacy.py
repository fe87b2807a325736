"""Erasing a person (GDPR/CCPA deletion): their profile, their events, and the personal data
kept on their orders, in the caller's one transaction.

Locks are taken in the order event recording takes them (profile, order states, event keys and
events, then rollups sorted by key), so an erasure and a processing batch on PostgreSQL wait for
each other instead of deadlocking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, delete, func, or_, select, update

from shoptrack.domain.events import Metric
from shoptrack.store.flows import erase_profile_flows
from shoptrack.store.schema import (
    event_keys,
    events,
    inbox,
    metric_rollups,
    metrics,
    order_fetches,
    order_states,
    profile_orders,
    profiles,
)
from shoptrack.store.sql import for_update

__all__ = [
    "ERASABLE_IDENTIFIERS",
    "Erasure",
    "StoreErasure",
    "erase_person",
    "erase_store_data",
    "scrubbed_snapshot",
]

# What a deletion request may name the person by (Klaviyo's data-privacy-deletion-job).
ERASABLE_IDENTIFIERS = ("id", "email", "phone_number")

# The order events whose unique_id is the platform's order id (Ordered Product adds the line).
_ORDER_METRICS = (
    Metric.PLACED_ORDER,
    Metric.FULFILLED_ORDER,
    Metric.CANCELLED_ORDER,
    Metric.REFUNDED_ORDER,
)
# The fields of an order snapshot that describe the customer rather than the sale.
_PERSONAL_ORDER_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "billing_address",
    "shipping_address",
    "customer_id",
)
_T = TypeVar("_T")
# Rows per IN list: well under SQLite's and psycopg's parameter limits.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed: the profile (None when no profile matched), its events, and the
    order states whose personal data it blanked."""

    profile_id: str | None
    events: int
    order_states: int


def scrubbed_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """An order snapshot without the customer: still a valid order, identifying no one."""
    return {**snapshot, **dict.fromkeys(_PERSONAL_ORDER_FIELDS), "extra": {}}


def erase_person(
    connection: Connection,
    account_id: str,
    identifier: str,
    value: str,
    *,
    orders: Mapping[str, set[str]] | None = None,
) -> Erasure:
    """Erases the person named by ``identifier`` (``id``, ``email`` or ``phone_number``, already
    normalised): their profile, all its events and their exactly-once keys, their share of the
    metric rollups, and the personal fields of their order states.

    Order states are kept, with ``email`` and the snapshot's personal fields blanked, rather than
    deleted: each holds which events of its order were already recorded, so a redelivered webhook
    or the next poll of an old order records none of them again. (Such a sighting is new data
    about the person, though: processing makes a profile for whoever an order names, as Klaviyo
    re-creates a deleted profile when data about it arrives.) Orders are found by the profile's
    order events and by email, also when no profile matches, so an order first seen cancelled,
    which recorded nothing, is scrubbed too; ``orders`` names more (platform order ids by
    integration: those a store asks to redact).
    """
    if identifier not in ERASABLE_IDENTIFIERS:
        raise ValueError(f"a person is erased by one of {ERASABLE_IDENTIFIERS}")
    profile = connection.execute(
        for_update(
            connection,
            select(profiles).where(
                profiles.c.account_id == account_id,
                profiles.c[identifier] == value,
            ),
        )
    ).first()
    emails = {value} if identifier == "email" else set()
    named: dict[str, set[str]] = defaultdict(set)
    for integration_id, order_ids in (orders or {}).items():
        named[integration_id] |= set(order_ids)
    if profile is None:
        scrubbed = _scrub_orders(connection, account_id, emails, named)
        return Erasure(None, 0, scrubbed)
    if profile.email:
        emails.add(profile.email)
    for integration_id, order_ids in _orders_of(connection, profile).items():
        named[integration_id] |= order_ids
    scrubbed = _scrub_orders(connection, account_id, emails, named)
    erased = _delete_events(
        connection,
        account_id,
        (events.c.account_id == account_id, events.c.profile_id == profile.id),
    )
    _forget_profile(connection, account_id, profile.id)
    return Erasure(profile.id, len(erased), scrubbed)


def _delete_events(
    connection: Connection, account_id: str, where: Sequence[ColumnElement[bool]]
) -> Sequence[Any]:
    """Deletes the events ``where`` selects, with their exactly-once keys and their share of
    the rollups; returns them."""
    erased = connection.execute(
        delete(events)
        .where(*where)
        .returning(
            events.c.id,
            events.c.metric_id,
            events.c.unique_id,
            events.c.time,
            events.c.value,
            events.c.value_currency,
            events.c.test,
            events.c.profile_id,
        )
    ).all()
    _delete_keys(connection, account_id, erased)
    _subtract_rollups(connection, account_id, erased)
    return erased


def _forget_profile(connection: Connection, account_id: str, profile_id: str) -> None:
    erase_profile_flows(connection, account_id, profile_id)
    connection.execute(delete(profile_orders).where(profile_orders.c.profile_id == profile_id))
    connection.execute(delete(profiles).where(profiles.c.id == profile_id))


@dataclass(frozen=True, slots=True)
class StoreErasure:
    """What erasing a store's data removed: its events, the profiles it alone had made, and
    its orders."""

    events: int
    profiles: int
    order_states: int


def erase_store_data(connection: Connection, account_id: str, integration_id: str) -> StoreErasure:
    """Erases what one store sent (Shopify's ``shop/redact``, 48 hours after the app is
    uninstalled): the integration's events with their keys and rollups, the profiles that had
    events from it and have none left, its order states, pending fetches and inbox rows. The
    integration itself stays, removed, so that its id names nothing new; other stores' events
    of a profile keep the profile."""
    erased = _delete_events(
        connection,
        account_id,
        (events.c.account_id == account_id, events.c.integration_id == integration_id),
    )
    touched = sorted({row.profile_id for row in erased if row.profile_id is not None})
    left: set[str] = set()
    for chunk in _chunks(touched):
        left |= set(
            connection.execute(
                select(events.c.profile_id)
                .where(events.c.account_id == account_id, events.c.profile_id.in_(chunk))
                .distinct()
            ).scalars()
        )
    alone = [profile_id for profile_id in touched if profile_id not in left]
    for profile_id in alone:
        _forget_profile(connection, account_id, profile_id)
    orders = connection.execute(
        delete(order_states).where(order_states.c.integration_id == integration_id)
    ).rowcount
    connection.execute(
        delete(order_fetches).where(order_fetches.c.integration_id == integration_id)
    )
    connection.execute(delete(inbox).where(inbox.c.integration_id == integration_id))
    return StoreErasure(len(erased), len(alone), orders)


def _orders_of(connection: Connection, profile: Any) -> dict[str, set[str]]:
    """The platform order ids of the profile's order events, by integration."""
    rows = connection.execute(
        select(events.c.integration_id, events.c.unique_id)
        .join(metrics, metrics.c.id == events.c.metric_id)
        .where(
            events.c.account_id == profile.account_id,
            events.c.profile_id == profile.id,
            events.c.integration_id.is_not(None),
            metrics.c.name.in_([str(metric) for metric in _ORDER_METRICS]),
        )
    )
    orders: dict[str, set[str]] = defaultdict(set)
    for integration_id, unique_id in rows:
        orders[integration_id].add(unique_id)
    return orders


def _scrub_orders(
    connection: Connection,
    account_id: str,
    emails: set[str],
    orders: Mapping[str, set[str]],
) -> int:
    """Blanks the personal data of the order states of ``emails`` and of ``orders``."""
    matches: list[ColumnElement[bool]] = []
    if emails:
        # Order states keep the address as the store sent it; identifiers are compared
        # normalised (trimmed, lower-cased).
        matches.append(func.lower(func.trim(order_states.c.email)).in_(sorted(emails)))
    for integration_id, order_ids in sorted(orders.items()):
        for chunk in _chunks(sorted(order_ids)):
            matches.append(
                and_(
                    order_states.c.integration_id == integration_id,
                    order_states.c.platform_order_id.in_(chunk),
                )
            )
    if not matches:
        return 0
    rows = connection.execute(
        for_update(
            connection,
            select(
                order_states.c.integration_id,
                order_states.c.platform_order_id,
                order_states.c.snapshot,
            )
            .where(order_states.c.account_id == account_id, or_(*matches))
            .order_by(order_states.c.integration_id, order_states.c.platform_order_id),
        )
    ).all()
    for row in rows:
        connection.execute(
            update(order_states)
            .where(
                order_states.c.integration_id == row.integration_id,
                order_states.c.platform_order_id == row.platform_order_id,
            )
            .values(email=None, snapshot=scrubbed_snapshot(row.snapshot))
        )
    return len(rows)


def _delete_keys(connection: Connection, account_id: str, erased: Sequence[Any]) -> None:
    """Deletes the exactly-once keys of the erased events (their unique ids may hold an email:
    an API event without one is keyed by the person and the second)."""
    by_metric: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in erased:
        by_metric[row.metric_id].append((row.unique_id, row.id))
    for metric_id, keys in sorted(by_metric.items()):
        for chunk in _chunks(sorted(keys)):
            connection.execute(
                delete(event_keys).where(
                    event_keys.c.account_id == account_id,
                    event_keys.c.metric_id == metric_id,
                    event_keys.c.unique_id.in_([unique_id for unique_id, _ in chunk]),
                    event_keys.c.event_id.in_([event_id for _, event_id in chunk]),
                )
            )


def _subtract_rollups(connection: Connection, account_id: str, erased: Sequence[Any]) -> None:
    """Takes the erased events out of their metric-hours, as recording added them in."""
    counts: dict[tuple[str, datetime, str, bool], int] = defaultdict(int)
    sums: dict[tuple[str, datetime, str, bool], Decimal] = defaultdict(Decimal)
    for row in erased:
        hour = row.time.replace(minute=0, second=0, microsecond=0)
        key = (row.metric_id, hour, row.value_currency or "", row.test)
        counts[key] += 1
        sums[key] += row.value or Decimal(0)
    for key in sorted(counts):
        metric_id, hour, currency, test = key
        where = (
            metric_rollups.c.account_id == account_id,
            metric_rollups.c.metric_id == metric_id,
            metric_rollups.c.hour == hour,
            metric_rollups.c.currency == currency,
            metric_rollups.c.test == test,
        )
        connection.execute(
            update(metric_rollups)
            .where(*where)
            .values(
                count=metric_rollups.c.count - counts[key],
                value_sum=metric_rollups.c.value_sum - sums[key],
            )
        )
        # An hour with no events left is no row, as if none had been recorded.
        connection.execute(delete(metric_rollups).where(*where, metric_rollups.c.count <= 0))


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
