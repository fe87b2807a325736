"""What every platform's simulator is built on: its clock and lock, id sequences, the fault
switchboard behind ``POST /_sim/faults``, and ``add_orders``.

A faults document has the edge's keys (``EDGE_FAULTS``) and the platform's own, each declared as
a ``Fault``: the attribute that holds it, how a document's value is read into it, and how
``GET /_sim/faults`` shows it. ``clear_faults`` puts back what the store was built with.

``add_orders`` plans the orders asked for (``NewOrder``: status, times, buyer, total, lines);
a platform says whether it takes one (``_check_new``) and how it places one (``_place``).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypedDict, Unpack

from shoptrack.simulators._kit.edge import EDGE_FAULTS, EdgeFaults
from shoptrack.simulators._kit.values import amount, as_is, second, zone_name

__all__ = [
    "DELIVERY_FAULTS",
    "Clock",
    "Fault",
    "Ids",
    "NewOrder",
    "OrderArguments",
    "Simulator",
    "listed",
    "timezone_fault",
]

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Fault:
    """One key of a platform's faults document beyond the edge's: a misbehaviour, or a store
    setting tests change.

    Attributes:
        name: The key in the document.
        parse: Reads the document's value into the attribute's; a ``ValueError`` names a bad
            one (nothing changes then).
        show: The attribute's value as ``GET /_sim/faults`` shows it.
        attribute: The simulator's attribute holding it, when not ``name`` (a property where a
            change does more than store the value).
    """

    name: str
    parse: Callable[[Any], Any] = bool
    show: Callable[[Any], Any] = as_is
    attribute: str = ""

    @property
    def held_in(self) -> str:
        return self.attribute or self.name


def timezone_fault(attribute: str = "site_timezone") -> Fault:
    """``{"site_timezone": "America/New_York"}``: the store's IANA time zone."""
    return Fault("site_timezone", zone_name, attribute=attribute)


def listed(value: Any) -> list[Any]:
    """A tuple shown as the JSON list it was given as."""
    return list(value)


class OrderArguments(TypedDict, total=False):
    """What ``add_orders`` takes besides the count, on every platform (see ``SimulatedShop``)."""

    statuses: Sequence[Any]
    email: str | None
    created: datetime | None
    modified: datetime | None
    interval: timedelta
    total: Decimal | str | None
    lines: int | None


@dataclass(frozen=True, slots=True)
class NewOrder:
    """One order ``add_orders`` places, as the checkout made it."""

    status: Any
    placed: datetime
    changed: datetime  # when it last changed (the admin's work after the checkout)
    email: str | None  # None: one of the store's demo buyers
    total: Decimal | None  # None: the catalogue's prices
    lines: int | None  # None: a few, by the order's number


# Deliveries sent twice with the same ids; held, then sent newest first.
DELIVERY_FAULTS = (Fault("duplicate_webhooks"), Fault("reorder_webhooks"))


@dataclass(slots=True)
class Ids:
    """A sequence of ids handed out one after the other, as a table's auto-increment does."""

    last: int = 0

    def next(self) -> int:
        self.last += 1
        return self.last


class Simulator:
    """A simulated store's clock, lock, faults and orders; each platform's simulator extends
    it (``FAULTS``, ``NEW_ORDER_STATUSES``, ``_check_new``, ``_place``).

    Args:
        clock: Returns the current time (aware); defaults to the machine's clock.
        edge: The edge in front of the store's API, as built (well-behaved by default).
    """

    # The platform's own faults, beyond the edge's.
    FAULTS: ClassVar[Sequence[Fault]] = ()
    # The statuses orders get when add_orders names none.
    NEW_ORDER_STATUSES: ClassVar[tuple[Any, ...]] = ()

    def __init__(self, clock: Clock | None = None, *, edge: EdgeFaults | None = None) -> None:
        self.clock: Clock = clock or _machine_clock
        self._lock = threading.RLock()  # tests change the store from their own thread
        self.edge = edge or EdgeFaults()
        self._built_with: dict[str, Any] = {}

    def _settle_faults(self) -> None:
        """Remembers the faults and settings the store was built with, which ``clear_faults``
        puts back: the last step of a platform's constructor."""
        self._built_with = {
            fault.held_in: copy.copy(getattr(self, fault.held_in)) for fault in self.FAULTS
        }

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        """Switches misbehaviour on (keys as for ``POST /_sim/faults``); ``ValueError`` if bad,
        before anything changes."""
        known = EDGE_FAULTS | {fault.name for fault in self.FAULTS}
        unknown = sorted(set(faults) - known)
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {sorted(known)}")
        with self._lock:
            values = {
                fault.held_in: fault.parse(faults[fault.name])
                for fault in self.FAULTS
                if fault.name in faults
            }
            self.edge.apply(faults)
            for attribute, value in values.items():
                setattr(self, attribute, value)

    def clear_faults(self) -> None:
        """Back to a well-behaved store, with the settings it was built with."""
        with self._lock:
            self.edge = self.edge.cleared()
            for attribute, value in self._built_with.items():
                setattr(self, attribute, copy.copy(value))

    def faults(self) -> dict[str, Any]:
        """The faults in force, as ``GET /_sim/faults`` shows them."""
        with self._lock:
            own = {fault.name: fault.show(getattr(self, fault.held_in)) for fault in self.FAULTS}
            return {**self.edge.describe(), **own}

    async def deliver_pending(self) -> Sequence[Any]:
        """Sends the webhook deliveries waiting: none, for a platform that sends no webhooks."""
        return []

    async def _deliver_if_immediate(self) -> None:
        """Sends what a route caused before it answers, where the store delivers immediately."""

    def add_orders(self, count: int = 1, **given: Unpack[OrderArguments]) -> list[int]:
        """Creates ``count`` orders as checkouts would (see ``SimulatedShop``); returns their
        ids. ``ValueError`` for one the store cannot take, before any is placed."""
        return self._place_all(self._new_orders(count, given), self._place)

    def _new_orders(self, count: int, given: OrderArguments) -> list[NewOrder]:
        """The orders ``add_orders`` is asked for: each one's status (``statuses`` cycle, by
        default ``NEW_ORDER_STATUSES``), when it is placed (the first at ``created``, by default
        the clock less the intervals; each next one ``interval`` later) and when it last
        changed (``modified`` likewise, by default when placed), to the second."""
        statuses = given.get("statuses", self.NEW_ORDER_STATUSES)
        if count < 0 or not statuses:
            raise ValueError("count must be >= 0 and statuses not empty")
        lines, total = given.get("lines"), given.get("total")
        exact = None if total is None else amount(total, "total")
        if lines is not None and (
            isinstance(lines, bool) or not isinstance(lines, int) or lines < 1
        ):
            raise ValueError(f"lines: expected a positive integer, got {lines!r}")
        interval, modified = given.get("interval", timedelta(0)), given.get("modified")
        first = given.get("created") or self._now() - interval * max(count - 1, 0)
        orders = []
        for index in range(count):
            placed = second(first + interval * index)
            orders.append(
                NewOrder(
                    status=statuses[index % len(statuses)],
                    placed=placed,
                    changed=second(modified + interval * index) if modified else placed,
                    email=given.get("email"),
                    total=exact,
                    lines=lines,
                )
            )
        return orders

    def _place_all(self, orders: Sequence[NewOrder], place: Callable[[NewOrder], int]) -> list[int]:
        """Places ``orders`` with ``place``, once the store has checked it takes each one."""
        with self._lock:
            for order in orders:
                self._check_new(order)
            return [place(order) for order in orders]

    def _now(self) -> datetime:
        """The clock's time to the second, in UTC."""
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the simulator's clock must return aware datetimes")
        return second(moment)

    # -- the platform's part, always under the lock ----------------------------------------

    def _check_new(self, order: NewOrder) -> None:
        """Refuses (``ValueError``) an order the store cannot take: an unknown status."""
        raise NotImplementedError

    def _place(self, order: NewOrder) -> int:
        """Places one order as the checkout does (its webhooks wait); returns its id."""
        raise NotImplementedError


def _machine_clock() -> datetime:
    return datetime.now(UTC)
