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
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from starlette.applications import Starlette

from shoptrack.simulators._kit import Clock, Fault, NewOrder, Simulator, listed
from shoptrack.simulators._kit.values import zone, zone_name
from shoptrack.simulators._prestashop_control import control_routes
from shoptrack.simulators._prestashop_shop import Order, OrderState, Shop
from shoptrack.simulators._prestashop_webservice import Webservice, render_order

__all__ = ["PS_VERSION", "PS_VERSION_1_7", "PrestaShopSimulator"]

EmptyList = Literal["array", "object"]
PS_VERSION = "8.1.7"
PS_VERSION_1_7 = "1.7.8.11"
# The resources the simulated key may read (GET and HEAD).
_READABLE = ("addresses", "configurations", "currencies", "customers", "order_states", "orders")
# The core install's order states (PS_OS_*); a module's come after.
_CORE_STATES = 13


def _version(value: Any) -> str:
    version = str(value)
    if not re.fullmatch(r"(1\.7|[89])(\.\d+){1,3}", version):
        raise ValueError(f"expected a PrestaShop 1.7 or 8.x version like 8.1.7, got {version!r}")
    return version


def _custom_states(given: Any) -> tuple[str, ...]:
    if not isinstance(given, list) or not all(
        re.fullmatch(r"\d{1,9}", str(state)) and int(state) > _CORE_STATES for state in given
    ):
        raise ValueError('custom_statuses: expected order state ids above 13, like ["14"]')
    return tuple(str(int(state)) for state in given)


def _empty_list(value: Any) -> EmptyList | None:
    if value == "array":
        return "array"
    if value == "object":
        return "object"
    if value is None:
        return None
    raise ValueError('empty_list: expected "array" ([]) or "object"')


class PrestaShopSimulator(Simulator):
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

    NEW_ORDER_STATUSES = ("2",)  # Payment accepted
    FAULTS = (
        Fault("custom_statuses", _custom_states, listed),  # a module's
        Fault("site_timezone", zone_name),  # PS_TIMEZONE
        Fault("version", _version),
        Fault("empty_list", _empty_list, attribute="_empty_list"),
        Fault("webservice_disabled"),
    )

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
        super().__init__(clock)
        self.shop = Shop(
            zone=zone(shop_timezone),
            zone_name=shop_timezone,
            currency=currency,
            name=shop_name,
            installed=self._now() - timedelta(days=400),
        )
        self.version = _version(version)
        self._empty_list = empty_list
        self.webservice_disabled = False
        self._settle_faults()
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

    @property
    def site_timezone(self) -> str:
        """``PS_TIMEZONE``, the IANA zone of the shop's wall clock."""
        return self.shop.configuration["PS_TIMEZONE"][0]

    @site_timezone.setter
    def site_timezone(self, name: str) -> None:
        if name != self.site_timezone:
            self.shop.zone = zone(name)
            self.shop.configure("PS_TIMEZONE", name, self._now())

    @property
    def custom_statuses(self) -> tuple[str, ...]:
        """The order states modules added (ids above the core install's)."""
        return tuple(str(state) for state in self.shop.states if state > _CORE_STATES)

    @custom_statuses.setter
    def custom_statuses(self, ids: Sequence[str]) -> None:
        states = self.shop.states
        self.shop.states = {key: state for key, state in states.items() if key <= _CORE_STATES}
        for state_id in map(int, ids):
            # A module's state ("Awaiting payment" of a payment module), not a core one.
            self.shop.states[state_id] = states.get(state_id) or OrderState(
                state_id, f"Custom status {state_id}", "#4169E1", unremovable=False
            )

    # -- the shop, from Python -------------------------------------------------------------

    def credentials(self, base_url: str) -> dict[str, str]:
        """Credentials for ``shoptrack integrations add`` with the shop at ``base_url``."""
        return {"base_url": base_url.rstrip("/"), "webservice_key": self.webservice_key}

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

    def faults(self) -> dict[str, Any]:
        """The faults in force, as ``GET /_sim/faults`` shows them (the empty list as the
        version writes it, unless told)."""
        with self._lock:
            return {**super().faults(), "empty_list": self.empty_list}

    # -- state, always under the lock ------------------------------------------------------

    def _check_new(self, order: NewOrder) -> None:
        self._state(order.status)

    def _place(self, new: NewOrder) -> int:
        # Statuses are order state ids.
        order = self.shop.place(
            self._state(new.status),
            email=new.email,
            created=new.placed,
            updated=new.changed,
            total=new.total,
            lines=new.lines,
        )
        return order.id

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
