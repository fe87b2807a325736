"""The account's profiles as the Profiles pages list them: pages sorted by last activity,
lifetime value or order count with a cursor, and each profile's order figures — from the
statistics recording keeps per profile and currency (``profile_orders``: test orders left out),
never summed across currencies.

A sorted list is read in two stretches: the profiles the sort ranks (those with activity, with
orders, with orders in the chosen currency), best first, then the others, newest first. Each
stretch is one keyset query, so a page costs the same deep in the list as on top, and the
(account, last activity) index serves the default sort.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, exists, func, literal, or_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from shoptrack.store._rows import from_row
from shoptrack.store.schema import events, profile_orders, profiles
from shoptrack.store.sql import escape_like
from shoptrack.store.types import Money

__all__ = [
    "SORTS",
    "OrderFigures",
    "ProfileListing",
    "earliest_event",
    "order_figures",
    "profile_listing",
]

# The list's sorts, as the page names them; the first is the default.
SORTS = {
    "last_active": "Last active",
    "value": "Lifetime value",
    "orders": "Orders",
    "email": "Email",
}

_RANKED, _REST = 0, 1


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """A profile's orders in one currency: test orders left out, refunds taken away."""

    currency: str
    orders: int
    placed: Decimal
    refunded: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None

    @property
    def lifetime_value(self) -> Decimal:
        return self.placed - self.refunded

    @property
    def average_order_value(self) -> Decimal | None:
        return None if not self.orders else (self.placed / self.orders).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class ProfileListing:
    """A page of profiles, the cursor of the next one, and the currencies value can sort by."""

    profiles: list[Row[Any]]
    figures: dict[str, list[OrderFigures]]
    following: str | None
    currencies: list[str]
    currency: str | None


def _currencies(connection: Connection, account_id: str) -> list[str]:
    """The account's order currencies, the one with the most orders first."""
    rows = connection.execute(
        select(profile_orders.c.currency, func.sum(profile_orders.c.orders).label("orders"))
        .where(profile_orders.c.account_id == account_id)
        .group_by(profile_orders.c.currency)
        .order_by(func.sum(profile_orders.c.orders).desc(), profile_orders.c.currency)
    ).all()
    return [row.currency for row in rows]


@dataclass(frozen=True, slots=True)
class _Sort:
    """How one sort reads: the key of its ranked profiles, which profiles it ranks, and the
    direction (descending but for email)."""

    key: ColumnElement[Any]
    ranked: ColumnElement[bool]
    descending: bool
    parse: Any  # the cursor's key text → the key's value


def _sort(account_id: str, name: str, currency: str | None) -> _Sort:
    if name == "email":
        return _Sort(profiles.c.email, profiles.c.email.is_not(None), False, str)
    if name == "orders":
        counted = (
            select(func.sum(profile_orders.c.orders))
            .where(
                profile_orders.c.account_id == account_id,
                profile_orders.c.profile_id == profiles.c.id,
            )
            .scalar_subquery()
        )
        has_orders = exists().where(
            profile_orders.c.account_id == account_id,
            profile_orders.c.profile_id == profiles.c.id,
            profile_orders.c.orders > 0,
        )
        return _Sort(counted, has_orders, True, int)
    if name == "value":
        value = (
            select(
                type_coerce(
                    profile_orders.c.placed_value - profile_orders.c.refunded_value, Money()
                )
            )
            .where(
                profile_orders.c.account_id == account_id,
                profile_orders.c.profile_id == profiles.c.id,
                profile_orders.c.currency == (currency or ""),
            )
            .scalar_subquery()
        )
        in_currency = exists().where(
            profile_orders.c.account_id == account_id,
            profile_orders.c.profile_id == profiles.c.id,
            profile_orders.c.currency == (currency or ""),
        )
        return _Sort(type_coerce(value, Money()), in_currency, True, Decimal)
    return _Sort(
        profiles.c.last_event_at,
        profiles.c.last_event_at.is_not(None),
        True,
        datetime.fromisoformat,
    )


def _cursor_text(phase: int, key: Any, profile_id: str) -> str:
    text = key.isoformat() if isinstance(key, datetime) else None if key is None else str(key)
    return base64.urlsafe_b64encode(orjson.dumps([phase, text, profile_id])).decode()


def _read_cursor(text: str | None, sort: _Sort) -> tuple[int, Any, str] | None:
    """The cursor's (phase, key, profile id); anything unreadable is the first page."""
    if not text:
        return None
    try:
        phase, key, profile_id = orjson.loads(base64.urlsafe_b64decode(text.encode()))
        if phase not in (_RANKED, _REST) or not isinstance(profile_id, str):
            return None
        value = sort.parse(key) if phase == _RANKED else None
    except (ValueError, TypeError, InvalidOperation, binascii.Error, orjson.JSONDecodeError):
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        return None
    return phase, value, profile_id


def _after(key: ColumnElement[Any], value: Any, profile_id: str, descending: bool) -> Any:
    """Rows after (key, id) in the sort's order."""
    if isinstance(value, Decimal):
        bound: Any = literal(value, Money())
    else:
        bound = value
    if descending:
        return or_(key < bound, and_(key == bound, profiles.c.id < profile_id))
    return or_(key > bound, and_(key == bound, profiles.c.id > profile_id))


def profile_listing(
    connection: Connection,
    account_id: str,
    *,
    search: str,
    sort_name: str,
    currency: str | None,
    after: str | None,
    limit: int,
) -> ProfileListing:
    """A page of the account's profiles whose email starts with ``search``, in ``sort_name``
    order (value in ``currency``, by default the account's main one), after the cursor
    ``after``."""
    currencies = _currencies(connection, account_id)
    if currency not in currencies:
        currency = currencies[0] if currencies else None
    sort = _sort(account_id, sort_name, currency)
    cursor = _read_cursor(after, sort)
    base: list[Any] = [profiles.c.account_id == account_id]
    text = search.strip().lower()
    if text:  # emails are stored lower-cased
        base.append(profiles.c.email.like(escape_like(text) + "%", escape="\\"))
    found: list[tuple[int, Row[Any]]] = []
    if cursor is None or cursor[0] == _RANKED:
        conditions = [*base, sort.ranked]
        if cursor is not None:
            conditions.append(_after(sort.key, cursor[1], cursor[2], sort.descending))
        order = (
            (sort.key.desc(), profiles.c.id.desc())
            if sort.descending
            else (sort.key, profiles.c.id)
        )
        query = select(profiles, sort.key.label("sort_key")).where(*conditions).order_by(*order)
        found += [(_RANKED, row) for row in connection.execute(query.limit(limit + 1))]
    if len(found) <= limit:
        conditions = [*base, ~sort.ranked]
        if cursor is not None and cursor[0] == _REST:
            conditions.append(profiles.c.id < cursor[2])
        query = (
            select(profiles, literal(None).label("sort_key"))
            .where(*conditions)
            .order_by(profiles.c.id.desc())
            .limit(limit + 1 - len(found))
        )
        found += [(_REST, row) for row in connection.execute(query)]
    page = found[:limit]
    following = None
    if len(found) > limit and page:
        phase, last = page[-1]
        following = _cursor_text(phase, last.sort_key if phase == _RANKED else None, last.id)
    rows = [row for _, row in page]
    return ProfileListing(
        profiles=rows,
        figures=order_figures(connection, account_id, [row.id for row in rows]),
        following=following,
        currencies=currencies,
        currency=currency,
    )


def order_figures(
    connection: Connection, account_id: str, profile_ids: list[str]
) -> dict[str, list[OrderFigures]]:
    """Each profile's order figures, one per currency (the currency with most orders first)."""
    if not profile_ids:
        return {}
    rows = connection.execute(
        select(profile_orders)
        .where(
            profile_orders.c.account_id == account_id,
            profile_orders.c.profile_id.in_(profile_ids),
        )
        .order_by(
            profile_orders.c.profile_id, profile_orders.c.orders.desc(), profile_orders.c.currency
        )
    )
    figures: dict[str, list[OrderFigures]] = {}
    for row in rows:
        figures.setdefault(row.profile_id, []).append(
            from_row(OrderFigures, row, placed=row.placed_value, refunded=row.refunded_value)
        )
    return figures


def earliest_event(connection: Connection, account_id: str, profile_id: str) -> datetime | None:
    """When the profile's first event happened (the feed index reads it from its end)."""
    return connection.execute(
        select(func.min(events.c.time)).where(
            events.c.account_id == account_id, events.c.profile_id == profile_id
        )
    ).scalar_one_or_none()
