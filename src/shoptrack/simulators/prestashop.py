"""A PrestaShop 1.7 or 8.x shop's Webservice, for tests, ``shoptrack demo`` and benchmarks.

``PrestaShopSimulator(...).app`` is an ASGI app that answers as the Webservice does (never
mounted by ``shoptrack serve``; see ``_prestashop_webservice`` for the checks and the filter
grammar):

- ``GET|HEAD /api/`` (the resources the key may read), ``/api/{resource}`` and
  ``/api/{resource}/{id}`` for ``orders`` (with ``associations.order_rows``), ``customers``,
  ``addresses``, ``currencies``, ``order_states`` and ``configurations``; the same through
  ``/webservice/dispatcher.php?url=…``. The key may only read (GET, HEAD).
- XML by default, JSON with ``output_format=JSON`` (or the ``Io-Format``/``Output-Format``
  header). PrestaShop 1.7 writes JSON values as strings, 8.x integers as integers
  (``version``). An empty JSON list is a bare ``[]`` or ``{"orders":[]}`` (``empty_list``,
  by default ``[]`` on 1.7 and the list node on 8.x: the versions disagree, issue #22760).
- Times are the shop's wall clock in ``PS_TIMEZONE`` (``shop_timezone``), written when a row
  is saved, as PrestaShop does.
- The key is the Basic user (empty password) or ``ws_key``, trimmed as PrestaShop trims it.
  Every answer to an accepted key carries ``PSWS-Version``.

Control endpoints (JSON, no key), for tests and demos:

- ``POST /_sim/orders`` ``{count, statuses, email, created, updated, interval_seconds, total,
  lines}`` places orders (statuses cycle: order state ids; times ISO 8601 with an offset)
  → ``{"ids": [...]}``; ``GET /_sim/orders/{id}`` is the order as the JSON Webservice writes it;
- ``POST /_sim/orders/{id}/status`` ``{status}`` moves an order to another state, as the back
  office does;
- ``GET|POST|DELETE /_sim/faults``: ``{"rate_limit": {"burst": N, "retry_after": S}}``,
  ``{"server_error": N}``, ``{"slow_ms": M}``, ``{"firewall_user_agent": "shoptrack"}``,
  ``{"custom_statuses": ["14"]}`` (order states a module adds), ``{"site_timezone":
  "America/New_York"}`` (``PS_TIMEZONE``), ``{"version": "1.7.8.11"}``, ``{"empty_list":
  "array" | "object"}``, ``{"webservice_disabled": true}``. ``DELETE`` restores the defaults.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette

from shoptrack.simulators._faults import EdgeFaults
from shoptrack.simulators._prestashop_control import control_routes
from shoptrack.simulators._prestashop_shop import Order, OrderState, Shop
from shoptrack.simulators._prestashop_webservice import Webservice, render_order

__all__ = ["PS_VERSION", "PS_VERSION_1_7", "PrestaShopSimulator"]

Clock = Callable[[], datetime]
EmptyList = Literal["array", "object"]
PS_VERSION = "8.1.7"
PS_VERSION_1_7 = "1.7.8.11"
# The resources the simulated key may read (GET and HEAD).
_READABLE = ("addresses", "configurations", "currencies", "customers", "order_states", "orders")
_FAULTS = frozenset(
    {
        "rate_limit",
        "server_error",
        "slow_ms",
        "firewall_user_agent",
        "custom_statuses",
        "site_timezone",
        "version",
        "empty_list",
        "webservice_disabled",
    }
)


class PrestaShopSimulator:
    """One simulated shop: its orders, webservice key and faults, served by ``app``.

    Args:
        webservice_key: The 32-character key (generated when not given).
        version: ``_PS_VERSION_`` (``PSWS-Version``); 1.x writes JSON values as strings.
        empty_list: How an empty JSON list is written (by default as ``version`` does).
        shop_timezone: ``PS_TIMEZONE``, an IANA name.
        currency: The shop's default currency (EUR, USD or GBP).
        key_resources: The resources the key may read (all six by default).
        clock: Returns the current time (aware); defaults to the machine's clock.
    """

    def __init__(
        self,
        *,
        webservice_key: str | None = None,
        version: str = PS_VERSION,
        empty_list: EmptyList | None = None,
        shop_timezone: str = "Europe/Paris",
        currency: str = "EUR",
        shop_name: str = "Simulated PrestaShop",
        key_resources: Sequence[str] = _READABLE,
        clock: Clock | None = None,
    ) -> None:
        alphabet = string.ascii_uppercase + string.digits
        self.webservice_key = webservice_key or "".join(secrets.choice(alphabet) for _ in range(32))
        if len(self.webservice_key) != 32:
            raise ValueError("a webservice key has 32 characters")
        unknown = sorted(set(key_resources) - set(_READABLE))
        if unknown:
            raise ValueError(f"the simulator serves {sorted(_READABLE)}, not {unknown}")
        self.key_resources = frozenset(key_resources)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()  # tests change the shop from their own thread
        self._defaults = (_version(version), empty_list, shop_timezone)
        self.shop = Shop(
            zone=_zone(shop_timezone),
            zone_name=shop_timezone,
            currency=currency,
            name=shop_name,
            installed=self._now() - timedelta(days=400),
        )
        # The faults; clear_faults() puts these back.
        self.edge = EdgeFaults()
        self.version = self._defaults[0]
        self._empty_list = empty_list
        self.webservice_enabled = True
        self.app = Starlette(routes=[*Webservice(self).routes(), *control_routes(self)])

    @property
    def major(self) -> int:
        """The major version: 1 for 1.7, 8 for 8.x."""
        return int(self.version.split(".", 1)[0])

    @property
    def empty_list(self) -> EmptyList:
        if self._empty_list is not None:
            return self._empty_list
        return "object" if self.major >= 8 else "array"

    # -- the shop, from Python -------------------------------------------------------------

    def credentials(self, base_url: str) -> dict[str, str]:
        """Credentials for ``shoptrack integrations add`` with the shop at ``base_url``."""
        return {"base_url": base_url.rstrip("/"), "webservice_key": self.webservice_key}

    def add_orders(
        self,
        count: int = 1,
        *,
        statuses: Sequence[str | int] = ("2",),
        email: str | None = None,
        created: datetime | None = None,
        updated: datetime | None = None,
        interval: timedelta = timedelta(0),
        total: Decimal | str | None = None,
        lines: int | None = None,
    ) -> list[int]:
        """Places orders as checkouts would (``statuses`` cycle; order state ids), each next
        one ``interval`` later, the first placed at ``created`` (by default the clock less the
        intervals) and last changed at ``updated`` (by default when placed)."""
        if count < 0 or not statuses:
            raise ValueError("count must be >= 0 and statuses not empty")
        amount = _amount(total)
        first = created or self._now() - interval * max(count - 1, 0)
        ids = []
        with self._lock:
            states = [self._state(status) for status in statuses]
            for index in range(count):
                placed = first + interval * index
                order = self.shop.place(
                    states[index % len(states)],
                    email=email,
                    created=placed,
                    updated=(updated + interval * index) if updated else placed,
                    total=amount,
                    lines=lines,
                )
                ids.append(order.id)
        return ids

    def set_status(self, order_id: int, status: str | int) -> None:
        """Moves an order to another state as the back office does, at the clock's time."""
        with self._lock:
            order = self._order(order_id)
            order.record(self._state(status), self._wall_now(), self.shop.counters)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as ``GET /api/orders/{id}?output_format=JSON`` writes it."""
        with self._lock:
            self._order(order_id)
            row = next(row for row in self.shop.rows("orders") if row["id"] == order_id)
            return render_order(self, row)

    def statuses(self) -> dict[int, str]:
        """Every order's id and current state id."""
        with self._lock:
            return {order.id: str(order.state) for order in self.shop.orders.values()}

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        """Switches misbehaviour on (keys as for ``POST /_sim/faults``); ``ValueError`` if bad."""
        unknown = sorted(set(faults) - _FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {sorted(_FAULTS)}")
        with self._lock:
            self.edge.apply(faults)
            if "custom_statuses" in faults:
                self._custom_states(faults["custom_statuses"])
            if "site_timezone" in faults:
                name = str(faults["site_timezone"])
                self.shop.zone = _zone(name)
                self.shop.configure("PS_TIMEZONE", name, self._now())
            if "version" in faults:
                self.version = _version(str(faults["version"]))
            if "empty_list" in faults:
                if faults["empty_list"] not in ("array", "object", None):
                    raise ValueError('empty_list: expected "array" ([]) or "object"')
                self._empty_list = faults["empty_list"]
            if "webservice_disabled" in faults:
                self.webservice_enabled = not faults["webservice_disabled"]

    def clear_faults(self) -> None:
        """Back to a well-behaved shop in its constructor's version and time zone."""
        with self._lock:
            self.edge = EdgeFaults()
            version, empty_list, zone_name = self._defaults
            self.version, self._empty_list = version, empty_list
            self.webservice_enabled = True
            self.shop.states = {
                state_id: state for state_id, state in self.shop.states.items() if state_id <= 13
            }
            if self.shop.configuration["PS_TIMEZONE"][0] != zone_name:
                self.shop.zone = _zone(zone_name)
                self.shop.configure("PS_TIMEZONE", zone_name, self._now())

    def faults(self) -> dict[str, Any]:
        """The faults in force, as ``GET /_sim/faults`` shows them."""
        with self._lock:
            edge = self.edge
            return {
                **edge.describe(),
                "custom_statuses": [str(s) for s in self.shop.states if s > 13],
                "site_timezone": self.shop.configuration["PS_TIMEZONE"][0],
                "version": self.version,
                "empty_list": self.empty_list,
                "webservice_disabled": not self.webservice_enabled,
            }

    # -- state, always under the lock ------------------------------------------------------

    def _now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the simulator's clock must return aware datetimes")
        return moment.astimezone(UTC).replace(microsecond=0)

    def _wall_now(self) -> str:
        return self._now().astimezone(self.shop.zone).strftime("%Y-%m-%d %H:%M:%S")

    def _state(self, status: str | int) -> OrderState:
        text = str(status).strip()
        state = self.shop.states.get(int(text)) if text.isdigit() else None
        if state is None:
            raise ValueError(f"unknown order state {status!r}; known: {sorted(self.shop.states)}")
        return state

    def _order(self, order_id: int) -> Order:
        order = self.shop.orders.get(order_id)
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def _custom_states(self, given: Any) -> None:
        if not isinstance(given, list) or not all(
            re.fullmatch(r"\d{1,9}", str(state)) and int(state) > 13 for state in given
        ):
            raise ValueError('custom_statuses: expected order state ids above 13, like ["14"]')
        for state in given:
            state_id = int(state)
            # A module's state ("Awaiting payment" of a payment module), not a core one.
            self.shop.states[state_id] = OrderState(
                state_id, f"Custom status {state_id}", "#4169E1", unremovable=False
            )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _version(version: str) -> str:
    if not re.fullmatch(r"(1\.7|[89])(\.\d+){1,3}", version):
        raise ValueError(f"expected a PrestaShop 1.7 or 8.x version like 8.1.7, got {version!r}")
    return version


def _amount(total: Decimal | str | None) -> Decimal | None:
    if total is None:
        return None
    try:
        amount = Decimal(str(total))
    except InvalidOperation:
        raise ValueError(f"total: not an amount: {total!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"total: not an amount: {total!r}")
    return amount


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return value
