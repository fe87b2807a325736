"""A Shift4Shop (3dcart) store on the REST API v1, for tests, ``shoptrack demo`` and benchmarks.

``Shift4ShopSimulator(...).app`` is an ASGI app that answers as ``apirest.3dcart.com`` does for
one store (never mounted by ``shoptrack serve``; give its URL as ``api_base_url``):

- ``GET /3dCartWebAPI/v1/Orders`` (``limit``, 1-based ``offset``, ``datestart``/``dateend``,
  ``lastupdatestart``/``lastupdateend`` by day, ``orderstatus``, ``invoicenumber``,
  ``billingemail``, ``countonly``), ``GET /3dCartWebAPI/v1/Orders/{id}``;
- ``GET /3dCartWebAPI/v1/OrderStatus`` (the order queues), ``GET /3dCartWebAPI/v1/StoreSettings``
  (``StoreStandards.StoreTimeZone`` and ``CurrencyCode``).

Every route needs the three headers ``SecureURL``, ``PrivateKey`` and ``Token`` (else 401);
times are the store's wall clock without an offset; the details are in ``_shift4shop_api``.
Shift4Shop's webhooks are unsigned and undocumented, so none are simulated.

Control endpoints (JSON, no keys), for tests and demos:

- ``POST /_sim/orders`` ``{count, statuses, email, created, modified, interval_seconds, total,
  lines}`` creates orders as checkouts would (statuses are ``OrderStatusID`` strings and cycle;
  times are ISO 8601 with an offset) → ``{"ids": [...]}``; ``GET /_sim/orders`` lists every
  order's status, ``GET /_sim/orders/{id}`` shows one as the API writes it;
- ``POST /_sim/orders/{id}/status`` ``{status}`` changes one the way the shop admin would;
- ``GET|POST|DELETE /_sim/faults``: ``{"rate_limit": {"burst": N, "retry_after": S}}``,
  ``{"server_error": N}``, ``{"slow_ms": M}``, ``{"firewall_user_agent": "shoptrack"}``,
  ``{"custom_statuses": ["8"]}`` (order queues a merchant named: the custom slots 8-10, or new
  ids), ``{"site_timezone": "America/New_York"}`` (the store's time zone). ``DELETE`` restores
  the defaults.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette

from shoptrack.simulators._kit import Clock, Fault, Ids, NewOrder, Simulator, timezone_fault
from shoptrack.simulators._kit.values import zone
from shoptrack.simulators._shift4shop_api import RestApi
from shoptrack.simulators._shift4shop_control import control_routes
from shoptrack.simulators._shift4shop_orders import (
    CUSTOM_SLOTS,
    NOT_COMPLETED,
    SHIPPED,
    STATUSES,
    OrderStatus,
    SimulatedOrder,
    build_order,
    new_order,
)

__all__ = ["STATUSES", "OrderStatus", "Shift4ShopSimulator", "SimulatedOrder", "build_order"]


def _custom_statuses(custom: Any) -> tuple[int, ...]:
    if not isinstance(custom, list) or not all(
        isinstance(s, str) and re.fullmatch(r"[1-9][0-9]{0,2}", s) for s in custom
    ):
        raise ValueError('custom_statuses: expected a list of status ids like "8"')
    built_in = {status.id for status in STATUSES} - CUSTOM_SLOTS
    if taken := sorted(set(custom) & {str(n) for n in built_in}):
        raise ValueError(f"custom_statuses: {taken} are built-in statuses")
    return tuple(sorted({int(s) for s in custom}))


class Shift4ShopSimulator(Simulator):
    """One simulated store: its orders, keys, settings and faults, served by ``app``.

    Args:
        secure_url: The store's secure host, what the ``SecureURL`` header must name.
        private_key: The app's private key (generated when not given).
        token: The store's token for the app (generated when not given).
        store_timezone: The store's time zone, an IANA name; its wall clock is what the API
            writes (Shift4Shop is based in Florida, but a new store's zone is the merchant's).
        invoice_prefix: ``InvoiceNumberPrefix`` of every order (e.g. ``"AB-"``).
        store_name: The store's name in its settings.
        max_limit: The most orders one page holds; a larger ``limit`` is cut to it.
        clock: Returns the current time (aware); defaults to the machine's clock.
    """

    NEW_ORDER_STATUSES = ("2",)  # Processing
    FAULTS = (
        # Order queues a merchant named: the custom slots 8-10, or new ids.
        Fault("custom_statuses", _custom_statuses, lambda ids: [str(n) for n in ids]),
        timezone_fault("store_timezone"),
    )

    def __init__(
        self,
        *,
        secure_url: str = "outdoor-supply.3dcartstores.com",
        private_key: str | None = None,
        token: str | None = None,
        store_timezone: str = "UTC",
        invoice_prefix: str = "",
        store_name: str = "Outdoor Supply Co.",
        max_limit: int = 300,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock)
        zone(store_timezone)  # fail early on a name nobody knows
        self.secure_url = secure_url.strip().lower()
        self.private_key = private_key or secrets.token_hex(16)
        self.token = token or secrets.token_hex(16)
        self.invoice_prefix = invoice_prefix
        self.store_name = store_name
        self.max_limit = max_limit
        self._orders: dict[int, SimulatedOrder] = {}
        self._order_ids = Ids()
        self._invoices = Ids(999)
        self.custom_statuses: tuple[int, ...] = ()
        self.store_timezone = store_timezone
        self._settle_faults()
        self.app = Starlette(routes=[*RestApi(self).routes(), *control_routes(self)])

    # -- the store, from Python ------------------------------------------------------------

    def credentials(self, base_url: str) -> dict[str, str]:
        """Credentials for ``shoptrack integrations add`` with the API served at ``base_url``."""
        return {
            "secure_url": self.secure_url,
            "private_key": self.private_key,
            "token": self.token,
            "api_base_url": base_url.rstrip("/"),
        }

    def set_status(self, order_id: int, status: str) -> None:
        """Moves an order to another queue as the shop admin would, at the store's clock."""
        self._check_status(status)
        with self._lock:
            order = self._order(order_id)
            now = self._now()
            if order.status == NOT_COMPLETED and status != NOT_COMPLETED:
                order.invoice_number = self._invoices.next()  # the checkout completed
            if status == SHIPPED and order.shipped is None:
                order.shipped = now
            order.status = str(status)
            order.modified = now

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as ``GET /3dCartWebAPI/v1/Orders/{id}`` writes it (without the list)."""
        with self._lock:
            return self._render(self._order(order_id))

    def statuses(self) -> dict[int, str]:
        """Every order's id and current ``OrderStatusID``."""
        with self._lock:
            return {order_id: order.status for order_id, order in self._orders.items()}

    # -- state, always under the lock ------------------------------------------------------

    def _check_new(self, order: NewOrder) -> None:
        if order.lines is not None and order.lines > 20:
            raise ValueError("lines must be between 1 and 20")
        self._check_status(order.status)

    def _place(self, new: NewOrder) -> int:
        # Status 7 is a checkout left unfinished, without an invoice number.
        status = str(new.status)
        order = new_order(
            self._order_ids.next(),
            0 if status == NOT_COMPLETED else self._invoices.next(),
            status,
            new.placed,
            new.changed,
            email=new.email,
            lines=new.lines,
            total=new.total,
        )
        self._orders[order.id] = order
        return order.id

    def _zone(self) -> ZoneInfo:
        return zone(self.store_timezone)

    def _catalogue(self) -> list[OrderStatus]:
        """The order queues ``GET /OrderStatus`` lists: the built-in ones, with the custom
        slots a merchant named visible, and the queues added beyond them."""
        named = set(self.custom_statuses)
        catalogue = [
            OrderStatus(status.id, status.definition, f"Custom Status {status.id}")
            if status.id in named
            else status
            for status in STATUSES
        ]
        known = {status.id for status in STATUSES}
        catalogue += [
            OrderStatus(n, f"Custom{n}", f"Custom Status {n}")
            for n in self.custom_statuses
            if n not in known
        ]
        return catalogue

    def _check_status(self, status: str) -> None:
        usable = {str(entry.id) for entry in self._catalogue() if entry.visible}
        if str(status) not in usable:
            raise ValueError(
                f"unknown order status {status!r}; the store has {sorted(usable, key=int)}"
            )

    def _order(self, order_id: int) -> SimulatedOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise LookupError(f"no order {order_id}")
        return order

    def _render(self, order: SimulatedOrder) -> dict[str, Any]:
        return build_order(order, zone=self._zone(), invoice_prefix=self.invoice_prefix)
