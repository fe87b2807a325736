"""A Magento 2.4 store's REST API, for tests, ``shoptrack demo`` and benchmarks.

``Magento2Simulator(...).app`` is an ASGI app that answers as Magento Open Source 2.4 in
production mode does (never mounted by ``shoptrack serve``), at ``/rest/V1/…``,
``/rest/{store_code}/V1/…`` (``default``, ``eu``, ``all``) and ``/index.php/rest/…``:

- ``GET /V1/orders`` with ``searchCriteria`` (see ``_magento2_search``): ``{"items",
  "search_criteria", "total_count"}``. A ``currentPage`` past the end answers the last page
  again (``past_end="last_page"``: Magento before the fix of issue #26986, still met in the
  field) or no items (``past_end="empty"``). Without ``pageSize`` every match comes back,
  unless the Web API input limits are on (``input_limits=True``: 20 by default, 400 above 300).
- ``GET /V1/orders/{id}``, ``GET /V1/store/storeConfigs`` (the store's timezone and currencies),
  ``POST /V1/integration/admin/token`` (``admin_username``/``admin_password``: a JWT for four
  hours, as with two-factor authentication switched off).

Requests come from the integration (OAuth 1.0a, HMAC-SHA256, verified as Magento verifies it;
or its access token as a Bearer token, accepted only with ``bearer_tokens=True``, the 2.4.4+
"Allow OAuth Access Tokens to be used as standalone Bearer tokens"), from an admin token, or from
a guest, whom the ACL refuses (see ``_magento2_auth``). Errors are Magento's bodies
(``{"message", "parameters"}``). Times are UTC whatever the store's timezone. The OAuth timestamp
may not be more than ten minutes ahead of ``clock``: a client signs with the machine's clock.

Orders (see ``_magento2_orders``) have a status and the state it belongs to; custom statuses
(the ``custom_statuses`` fault) are assigned to a state, ``processing`` unless told otherwise.

Control endpoints (JSON, no authentication), for tests and demos:

- ``POST /_sim/orders`` ``{count, statuses, email, created, modified, interval_seconds, total,
  lines, currency}`` creates orders (statuses cycle; times ISO 8601; ``currency`` "EUR" places
  them in the Euro store view) → ``{"ids": [...]}``; ``GET /_sim/orders`` → ``{id: status}``;
- ``POST /_sim/orders/{id}/status`` ``{status, comment}`` changes one as the admin would;
- ``GET /_sim/credentials`` (``?bearer=1`` for the access token alone) → what a merchant enters;
- ``GET|POST|DELETE /_sim/faults``: ``{"rate_limit": {"burst": N, "retry_after": S}}``,
  ``{"server_error": N}``, ``{"slow_ms": M}``, ``{"firewall_user_agent": "shoptrack"}``,
  ``{"custom_statuses": ["awaiting_shipment"]}`` (or ``{"awaiting_shipment": "processing"}``),
  ``{"site_timezone": "America/New_York"}``, and the store's settings ``{"bearer_tokens": true}``,
  ``{"past_end": "empty"}``, ``{"input_limits": true}``. ``DELETE`` restores the constructor's.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from typing import Any, Literal, Unpack

from starlette.applications import Starlette

from shoptrack.simulators._kit import (
    Clock,
    Fault,
    NewOrder,
    OrderArguments,
    Simulator,
    timezone_fault,
)
from shoptrack.simulators._kit.values import zone
from shoptrack.simulators._magento2_auth import Authenticator, Integration
from shoptrack.simulators._magento2_control import control_routes
from shoptrack.simulators._magento2_orders import (
    CORE_STATUSES,
    MAGENTO_VERSION,
    STATE_OF,
    STORES,
    HistoryEntry,
    SimulatedOrder,
    Store,
    build_order,
    customer_email,
)
from shoptrack.simulators._magento2_rest import RestApi
from shoptrack.simulators._magento2_web import MagentoError

__all__ = ["MAGENTO_VERSION", "Magento2Simulator", "SimulatedOrder", "build_order"]

PastEnd = Literal["last_page", "empty"]
# Stores > Order Status > Create New Status: "letters (a-z), numbers (0-9) or underscore (_),
# and the first character must be a letter"; the column holds 32.
_STATUS_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_STATES = frozenset(STATE_OF.values())
_KEY_CHARACTERS = string.digits + string.ascii_lowercase


def _key() -> str:
    # Oauth\Helper\Oauth::generateRandomString: 32 of [0-9a-z].
    return "".join(secrets.choice(_KEY_CHARACTERS) for _ in range(32))


def _custom_statuses(value: Any) -> dict[str, str]:
    pairs = dict.fromkeys(value, "processing") if isinstance(value, list) else value
    if not isinstance(pairs, Mapping) or not all(
        isinstance(code, str)
        and _STATUS_CODE.fullmatch(code)
        and code not in STATE_OF
        and state in _STATES
        for code, state in pairs.items()
    ):
        raise ValueError(
            "custom_statuses: expected new status codes like 'awaiting_shipment' (a list, or"
            f" each with its state, one of {sorted(_STATES)})"
        )
    return dict(pairs)


def _past_end(value: Any) -> PastEnd:
    if value == "last_page":
        return "last_page"
    if value == "empty":
        return "empty"
    raise ValueError("past_end: expected 'last_page' or 'empty'")


class Magento2Simulator(Simulator):
    """One simulated store: its orders, integration, settings and faults, served by ``app``.

    Args:
        clock: Returns the current time (aware); defaults to the machine's clock.
        consumer_key, consumer_secret, access_token, access_token_secret: The integration's
            keys (each 32 random digits and letters when not given).
        admin_username, admin_password: An admin user, for admin tokens.
        bearer_tokens: Accept the integration's access token as a Bearer token (off by
            default since 2.4.4).
        past_end: What a ``currentPage`` past the end answers: the last page again, or none.
        input_limits: Webapi input limits on (default page size 20, at most 300).
        site_timezone: The store's IANA timezone (what the admin shows times in).
    """

    NEW_ORDER_STATUSES = ("processing",)
    FAULTS = (
        # New status codes, each assigned to a state (processing unless told otherwise).
        Fault("custom_statuses", _custom_statuses, dict),
        timezone_fault(),
        # The store's settings (Stores > Configuration), as the constructor takes them.
        Fault("bearer_tokens"),
        Fault("past_end", _past_end),
        Fault("input_limits"),
    )

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        admin_username: str = "admin",
        admin_password: str | None = None,
        bearer_tokens: bool = False,
        past_end: PastEnd = "last_page",
        input_limits: bool = False,
        site_timezone: str = "UTC",
    ) -> None:
        super().__init__(clock)
        self.integration = Integration(
            consumer_id=1,
            consumer_key=consumer_key or _key(),
            consumer_secret=consumer_secret or _key(),
            access_token=access_token or _key(),
            access_token_secret=access_token_secret or _key(),
        )
        self.admin_username = admin_username
        self.admin_password = admin_password or secrets.token_urlsafe(12)
        zone(site_timezone)  # fail early on a name nobody knows
        self._auth = Authenticator(
            self.integration,
            admin_username=self.admin_username,
            admin_password=self.admin_password,
            bearer_tokens=bearer_tokens,
            jwt_key=secrets.token_bytes(32),
        )
        self._salt = b"magento2-simulator"  # ties come back in a fixed (if arbitrary) order
        self._orders: dict[int, SimulatedOrder] = {}
        self._sequences = {store.id: 0 for store in STORES}
        self._history_ids = 0
        self.custom_statuses: dict[str, str] = {}
        self.past_end: PastEnd = _past_end(past_end)
        self.input_limits = input_limits
        self.site_timezone = site_timezone
        self._settle_faults()
        self.app = Starlette(routes=[*RestApi(self).routes(), *control_routes(self)])

    @property
    def bearer_tokens(self) -> bool:
        """Whether the integration's access token is taken as a Bearer token."""
        return self._auth.bearer_tokens

    @bearer_tokens.setter
    def bearer_tokens(self, allowed: bool) -> None:
        self._auth.bearer_tokens = allowed

    # -- the store, from Python ------------------------------------------------------------

    def credentials(self, base_url: str, *, bearer: bool = False) -> dict[str, str]:
        """What a merchant enters in ``shoptrack integrations add`` for the store at
        ``base_url``: the integration's four keys, or with ``bearer`` its access token alone."""
        keys = self.integration
        entered = {"base_url": base_url.rstrip("/"), "access_token": keys.access_token}
        if not bearer:
            entered |= {
                "consumer_key": keys.consumer_key,
                "consumer_secret": keys.consumer_secret,
                "access_token_secret": keys.access_token_secret,
            }
        return entered

    def admin_token(self) -> str:
        """An admin token, as ``POST /V1/integration/admin/token`` hands it out."""
        with self._lock:
            return self._auth.admin_token(self.admin_username, self.admin_password, self._now())

    def add_orders(
        self, count: int = 1, *, currency: str | None = None, **given: Unpack[OrderArguments]
    ) -> list[int]:
        """Creates orders as checkouts would (see ``SimulatedShop``); returns their
        ``entity_id``s. ``total`` is the grand total in the order's currency (by default the
        catalogue's prices, $5 shipping per item and a coupon on every fourth order);
        ``currency`` ``"EUR"`` places the orders in the Euro store view."""
        store = next((s for s in STORES if s.currency == (currency or STORES[0].currency)), None)
        if store is None:
            raise ValueError(f"currency must be one of {[s.currency for s in STORES]}")
        return self._place_all(
            self._new_orders(count, given), lambda order: self._place(order, store)
        )

    def set_status(self, order_id: int, status: str, *, comment: str | None = None) -> None:
        """Changes an order's status (and its state) as the admin would, at the clock's time,
        with an entry in its status history."""
        with self._lock:
            order = self._order(order_id)
            state = self._state(status)
            now = self._now()
            self._history_ids += 1
            order.histories.insert(0, HistoryEntry(self._history_ids, status, now, comment))
            order.status, order.state, order.updated = status, state, now

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as ``GET /rest/V1/orders/{id}`` returns it."""
        with self._lock:
            return build_order(self._order(order_id))

    def statuses(self) -> dict[int, str]:
        """Every order's ``entity_id`` and current status."""
        with self._lock:
            return {order_id: order.status for order_id, order in self._orders.items()}

    # -- state, always under the lock ------------------------------------------------------

    def _state(self, status: str) -> str:
        state = STATE_OF.get(status) or self.custom_statuses.get(status)
        if state is None:
            known = [*CORE_STATUSES, *self.custom_statuses]
            raise ValueError(f"unknown status {status!r}; the store has {known}")
        return state

    def _check_new(self, order: NewOrder) -> None:
        self._state(order.status)

    def _place(self, new: NewOrder, store: Store = STORES[0]) -> int:
        entity_id = len(self._orders) + 1
        self._sequences[store.id] += 1
        prefix = "" if store.id == 1 else str(store.id)
        number = f"{prefix}{self._sequences[store.id]:0{9 - len(prefix)}d}"
        customer = entity_id % 6
        self._orders[entity_id] = SimulatedOrder(
            entity_id=entity_id,
            increment_id=number,
            status=new.status,
            state=self._state(new.status),
            created=new.placed,
            updated=new.changed,
            email=new.email or customer_email(customer),
            customer=customer,
            guest=entity_id % 3 == 0,
            lines=new.lines or 1 + entity_id % 3,
            total=new.total,
            store=store,
        )
        return entity_id

    def _order(self, order_id: int) -> SimulatedOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise MagentoError(
                "The entity that was requested doesn't exist. Verify the entity and try again.",
                404,
            )
        return order
