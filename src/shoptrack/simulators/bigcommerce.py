"""A BigCommerce store on the Orders v2 API, for tests, ``shoptrack demo`` and benchmarks.

``BigCommerceSimulator(...).app`` is an ASGI app that answers as ``api.bigcommerce.com`` does for
one store (never mounted by ``shoptrack serve``; see ``_bigcommerce_api``):

- ``GET /stores/{hash}/v2/store``; ``GET /stores/{hash}/v2/order_statuses[/{id}]``;
- ``GET|POST /stores/{hash}/v2/orders``, ``GET /stores/{hash}/v2/orders/count``,
  ``GET|PUT|DELETE /stores/{hash}/v2/orders/{id}`` (``DELETE`` archives),
  ``GET /stores/{hash}/v2/orders/{id}/products``, ``/coupons``, ``/shipping_addresses``;
- ``GET|POST /stores/{hash}/v3/hooks``, ``GET|PUT|DELETE /stores/{hash}/v3/hooks/{id}``.

Requests carry ``X-Auth-Token``. Listing follows the OAS: ``page`` (from 1), ``limit`` (50 by
default, at most 250, more is a 413), ``sort`` (``field[:asc|:desc]``, by id by default; equal
values in id order), the ``min_``/``max_`` filters on id, total, ``date_created`` and
``date_modified`` (RFC 2822 or ISO 8601; both bounds inclusive), ``status_id``, ``customer_id``,
``email``. A page past the end is ``204 No Content``. Dates are written in RFC 2822, in UTC
whatever the store's timezone (which only ``/v2/store`` shows). Every answer carries
``X-Rate-Limit-Requests-Left``, ``-Requests-Quota``, ``-Time-Reset-Ms`` and ``-Time-Window-Ms``
for a quota of ``requests_quota`` requests per 30 seconds of ``clock``; it is enforced (429) only
with ``enforce_quota=True``, so that tests on a frozen clock are not throttled.

Statuses are BigCommerce's fixed ids 0-14; merchants can only relabel them (``custom_status`` on
the order, ``custom_label`` in ``/v2/order_statuses``). Changes raise webhook events: a new order
``store/order/created``; a status change ``store/order/statusUpdated`` then
``store/order/updated``; a refund ``store/order/refund/created`` (then the status change, then
``store/order/updated``); an archive ``store/order/archived``. Each event goes to every active
hook whose scope takes it, as a Standard Webhooks delivery signed with ``client_secret`` (see
``_bigcommerce_webhooks``); failed deliveries are retried on BigCommerce's schedule of
``clock`` and the hook deactivated after the last retry. With ``webhook_delivery="immediate"``
(the default) events raised through the HTTP API are delivered before the route answers;
events raised from Python, and everything in ``"manual"`` mode, wait for ``await
deliver_pending()`` or ``POST /_sim/webhooks/deliver``. Events are never coalesced.

Control endpoints (JSON, no authentication; see ``_bigcommerce_control``):

- ``POST /_sim/orders`` ``{count, statuses, email, created, modified, interval_seconds, total,
  lines}`` creates orders (status ids cycle; ISO 8601 times) → ``{"ids": [...]}``;
- ``POST /_sim/orders/{id}/status`` ``{status_id}``, ``POST /_sim/orders/{id}/refunds``
  ``{amount}``, ``POST /_sim/orders/{id}/archive`` act as the merchant would;
- ``GET /_sim/webhooks/deliveries`` lists what was sent; ``POST /_sim/webhooks/deliver`` sends
  what waits (retries that are due included);
- ``GET|POST|DELETE /_sim/faults``: ``{"rate_limit": {"burst": N, "retry_after": S}}`` (429s
  saying ``X-Rate-Limit-Time-Reset-Ms: S*1000``), ``{"server_error": N}``, ``{"slow_ms": M}``,
  ``{"firewall_user_agent": "shoptrack"}`` (a proxy's block page), ``{"duplicate_webhooks":
  true}``, ``{"reorder_webhooks": true}``, ``{"custom_statuses": {"11": "Ready to pack"}}``
  (relabels), ``{"site_timezone": "America/New_York"}``. ``DELETE`` restores the defaults.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette

from shoptrack.simulators._bigcommerce_api import RestApi
from shoptrack.simulators._bigcommerce_control import control_routes
from shoptrack.simulators._bigcommerce_order_json import build_order, build_products
from shoptrack.simulators._bigcommerce_orders import (
    CATALOGUE,
    SHIPPED_STATUSES,
    SHOPPERS,
    STATUSES,
    Coupon,
    Line,
    SimulatedOrder,
)
from shoptrack.simulators._bigcommerce_web import ApiError
from shoptrack.simulators._bigcommerce_webhooks import (
    RETRY_DELAYS,
    Delivery,
    Event,
    Hook,
    Outgoing,
    signed_headers,
)
from shoptrack.simulators._kit import (
    DELIVERY_FAULTS,
    Clock,
    Fault,
    Ids,
    NewOrder,
    WebhookDelivery,
    WebhookSettings,
    WebhookSimulator,
    timezone_fault,
)
from shoptrack.simulators._kit.values import zone

__all__ = ["BigCommerceSimulator", "Delivery", "Hook", "SimulatedOrder"]

_API_ROOT = "https://api.bigcommerce.com"
_QUOTA_WINDOW = timedelta(seconds=30)
_FREE_SHIPPING_FROM = Decimal(75)
_FLAT_SHIPPING = Decimal("7.99")


def _token(length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _check_status(status_id: int) -> None:
    if isinstance(status_id, bool) or not isinstance(status_id, int) or status_id not in STATUSES:
        raise ValueError(f"status {status_id!r}: BigCommerce's status ids are 0-14")


def _labels(value: Any) -> dict[int, str]:
    if not isinstance(value, Mapping):
        raise ValueError(
            "custom_statuses: BigCommerce has no custom statuses, only custom labels of its"
            ' status ids 0-14: give {"11": "Ready to pack"}'
        )
    labels = {}
    for key, label in value.items():
        status_id = int(key) if isinstance(key, str) and key.isdigit() else key
        _check_status(status_id)
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"custom_statuses.{key}: expected a label")
        labels[status_id] = label.strip()
    return labels


def _shown_labels(labels: Mapping[int, str]) -> dict[str, str]:
    return {str(status_id): label for status_id, label in sorted(labels.items())}


@dataclass(slots=True)
class _Attempt:
    """A delivery waiting to be sent: a new event's first try, or a retry falling due."""

    hook_id: int
    event: Event
    message_id: str
    attempt: int = 0
    due: datetime | None = None  # None: as soon as deliveries are sent


class BigCommerceSimulator(WebhookSimulator[_Attempt, Outgoing, Delivery, Hook]):
    """One simulated store: its orders, API account, hooks and faults, served by ``app``.

    Args:
        store_hash: The store's hash (generated when not given).
        access_token: The API account's token (generated when not given).
        client_id: The API account's client id, which hooks are filed under.
        client_secret: The app's client secret, which signs webhook deliveries.
        clock: Returns the current time (aware); defaults to the machine's clock.
        requests_quota: Requests per 30-second window the headers report.
        enforce_quota: Answer 429 once the window's quota is spent.
        webhook_delivery: ``immediate`` or ``manual`` (see the module's docstring).
        webhook_transport: How deliveries reach their URLs (e.g. ``httpx.MockTransport``).
        webhook_timeout: Seconds to wait for a destination's answer.
        require_https_destinations: Refuse hooks not on ``https`` port 443, as BigCommerce
            does; off for a demo that receives on plain http.
        store_timezone: The store's timezone, an IANA name (only ``/v2/store`` shows it).
    """

    NEW_ORDER_STATUSES = (11,)  # Awaiting Fulfillment
    FAULTS = (
        *DELIVERY_FAULTS,
        # Merchants relabel the fixed statuses: {"11": "Ready to pack"}.
        Fault("custom_statuses", _labels, _shown_labels, attribute="labels"),
        timezone_fault("store_timezone"),
    )

    def __init__(
        self,
        *,
        store_hash: str | None = None,
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        clock: Clock | None = None,
        requests_quota: int = 150,
        enforce_quota: bool = False,
        webhook_delivery: WebhookDelivery = "immediate",
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_timeout: float = 10.0,
        require_https_destinations: bool = True,
        store_timezone: str = "America/Chicago",
    ) -> None:
        super().__init__(
            clock, WebhookSettings(webhook_delivery, webhook_transport, webhook_timeout)
        )
        self.store_hash = store_hash or _token(10)
        self.access_token = access_token or _token(31)
        self.client_id = client_id or _token(31)
        self.client_secret = client_secret or secrets.token_hex(32)
        self.store_id = str(1_000_000 + secrets.randbelow(8_999_999))
        self.requests_quota = requests_quota
        self.enforce_quota = enforce_quota
        self.require_https_destinations = require_https_destinations
        zone(store_timezone)
        self._ids = Ids(99)  # the sample store's first order is 100
        self._line_ids = Ids()
        self._coupon_ids = Ids()
        self._hook_ids = Ids(18_048_286)
        self._orders: dict[int, SimulatedOrder] = {}
        self._window_start: datetime | None = None
        self._window_used = 0
        self._seen_root = f"{_API_ROOT}/stores/{self.store_hash}"
        self.labels: dict[int, str] = {}
        self.store_timezone = store_timezone
        self._settle_faults()
        self.app = Starlette(routes=[*RestApi(self).routes(), *control_routes(self)])

    # -- the store, from Python ------------------------------------------------------------

    def credentials(self, base_url: str) -> dict[str, str]:
        """Credentials for ``shoptrack integrations add`` with the store served at ``base_url``
        (``api_base_url`` stands in for ``https://api.bigcommerce.com``)."""
        return {
            "store_hash": self.store_hash,
            "access_token": self.access_token,
            "client_secret": self.client_secret,
            "api_base_url": base_url.rstrip("/"),
        }

    def set_status(self, order_id: int, status_id: int) -> None:
        """Changes an order's status as the merchant would in the control panel."""
        _check_status(status_id)
        with self._lock:
            order = self._order(order_id)
            self._transition(order, status_id)
            order.modified = self._now()
            self._raise("store/order/updated", {"type": "order", "id": order.id})

    def refund(self, order_id: int, amount: Decimal) -> int:
        """Refunds part or all of an order (the Refund action); returns the refund's id. In
        full, the order becomes Refunded (4), otherwise Partially Refunded (14)."""
        with self._lock:
            order = self._order(order_id)
            if amount <= 0 or amount > order.total() - order.refunded:
                left = order.total() - order.refunded
                raise ValueError(f"amount: between 0 and the {left} not refunded yet")
            order.refunded += amount
            order.refunds += 1
            refund_id = order.id * 10 + order.refunds
            order.modified = self._now()
            data = {"type": "order", "id": order.id, "refund": {"refund_id": refund_id}}
            self._raise("store/order/refund/created", data)
            self._transition(order, 4 if order.refunded >= order.total() else 14)
            self._raise("store/order/updated", {"type": "order", "id": order.id})
            return refund_id

    def archive(self, order_id: int) -> None:
        """Archives an order (``DELETE /v2/orders/{id}``): kept, no longer listed."""
        with self._lock:
            order = self._order(order_id)
            order.is_deleted = True
            order.modified = self._now()
            self._raise("store/order/archived", {"type": "order", "id": order.id})

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as ``GET /v2/orders/{id}`` returns it (sub-resources still links)."""
        with self._lock:
            return build_order(self._order(order_id), api_root=self._seen_root, labels=self.labels)

    def products(self, order_id: int) -> list[dict[str, Any]]:
        """The order's lines as ``GET /v2/orders/{id}/products`` returns them."""
        with self._lock:
            return build_products(self._order(order_id))

    def statuses(self) -> dict[int, int]:
        """Every order's id and current status id."""
        with self._lock:
            return {order_id: order.status_id for order_id, order in self._orders.items()}

    def add_hook(
        self,
        scope: str,
        destination: str,
        *,
        headers: Mapping[str, str] | None = None,
        is_active: bool = True,
    ) -> Hook:
        """Subscribes ``destination`` to ``scope`` as ``POST /v3/hooks`` would."""
        with self._lock:
            now = self._now()
            hook = Hook(
                self._hook_ids.next(),
                self.client_id,
                self.store_hash,
                scope,
                destination,
                is_active,
                dict(headers) if headers is not None else None,
                now,
                now,
            )
            self._subscriptions[hook.id] = hook
            return hook

    @property
    def hooks(self) -> list[Hook]:
        """The hooks, oldest first (``webhooks``, as BigCommerce names them)."""
        return self.webhooks

    # -- state, always under the lock ------------------------------------------------------

    def _order(self, order_id: int) -> SimulatedOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise ApiError(404, "The requested resource was not found.")
        return order

    def _check_new(self, order: NewOrder) -> None:
        _check_status(order.status)

    def _place(self, new: NewOrder) -> int:
        # ``total``: the lines add up to it, without shipping or coupon. A Refunded (4) order is
        # refunded in full, a Partially Refunded (14) one by half. store/order/created waits.
        order_id, status_id = self._ids.next(), new.status
        shopper = SHOPPERS[order_id * 5 % len(SHOPPERS)]
        order = SimulatedOrder(
            id=order_id,
            status_id=status_id,
            created=new.placed,
            modified=new.changed,
            shopper=shopper,
            email=new.email or shopper.email,
            lines=self._lines(order_id, new.lines or 1 + order_id % 3, new.total),
            is_email_opt_in=order_id % 3 == 0,
            payment_method="Cash" if status_id == 7 else "Credit Card",
            shipped=new.changed if status_id in SHIPPED_STATUSES else None,
        )
        if new.total is None:
            subtotal = order.subtotal()
            order.shipping_cost = Decimal(0) if subtotal >= _FREE_SHIPPING_FROM else _FLAT_SHIPPING
            if order_id % 4 == 0 and subtotal >= 50:
                order.coupon = Coupon(self._coupon_ids.next(), 3, "SPRING10", Decimal(10))
        if status_id == 4:
            order.refunded, order.refunds = order.total(), 1
        elif status_id == 14:
            order.refunded, order.refunds = (order.total() / 2).quantize(Decimal("0.01")), 1
        self._orders[order_id] = order
        self._raise("store/order/created", {"type": "order", "id": order_id})
        return order_id

    def _lines(self, order_id: int, size: int, total: Decimal | None) -> list[Line]:
        picks = [CATALOGUE[(order_id * 3 + index * 5) % len(CATALOGUE)] for index in range(size)]
        if total is None:
            quantities = [1 + (order_id + index) % 2 for index in range(size)]
            prices = [product.price for product in picks]
        else:
            # The total split over the lines in cents, one of each, the last taking the rest.
            cents = int(total * 100)
            size = size if cents >= size else 1
            picks, quantities = picks[:size], [1] * size
            shares = [cents // size] * (size - 1) + [cents - cents // size * (size - 1)]
            prices = [Decimal(share) / 100 for share in shares]
            prices[-1] += total - sum(prices, Decimal(0))  # a total with more than 2 decimals
        made = []
        for product, price, quantity in zip(picks, prices, quantities, strict=True):
            made.append(
                Line(
                    self._line_ids.next(),
                    product.id,
                    product.name,
                    product.sku,
                    product.brand,
                    price,
                    quantity,
                    product.option,
                )
            )
        return made

    def _transition(self, order: SimulatedOrder, status_id: int) -> None:
        """A status change, with its ``store/order/statusUpdated`` event."""
        previous = order.status_id
        if previous == status_id:
            return
        order.status_id = status_id
        if status_id in SHIPPED_STATUSES and order.shipped is None:
            order.shipped = self._now()
        status = {"previous_status_id": previous, "new_status_id": status_id}
        self._raise(
            "store/order/statusUpdated", {"type": "order", "id": order.id, "status": status}
        )

    def _raise(self, scope: str, data: Mapping[str, Any]) -> None:
        event = Event(scope, dict(data), self._now())
        for hook in self._subscriptions.values():
            if hook.is_active and hook.wants(scope):
                self._waiting.append(_Attempt(hook.id, event, "msg_" + _token(27)))

    # -- the outbox, always under the lock -------------------------------------------------

    def _take_due(self) -> list[_Attempt]:
        # First tries, and the retries due by the clock.
        now = self._now()
        due = [a for a in self._waiting if a.due is None or a.due <= now]
        self._waiting = [a for a in self._waiting if not (a.due is None or a.due <= now)]
        return due

    def _prepare(self, attempt: _Attempt) -> Outgoing | None:
        hook = self._subscriptions.get(attempt.hook_id)
        if hook is None or not hook.is_active:
            return None
        body = attempt.event.body(store_id=self.store_id, store_hash=self.store_hash)
        headers = signed_headers(
            self.client_secret, attempt.message_id, self._now(), body, hook.headers
        )
        return Outgoing(
            hook.id,
            hook.destination,
            headers,
            body,
            attempt.event.scope,
            attempt.event.order_id,
            attempt.message_id,
            attempt.attempt,
        )

    def _delivery(
        self, sent: Outgoing, status: int | None, error: str | None, item: _Attempt | None
    ) -> Delivery:
        return Delivery(sent, self._now(), status, error)

    def _sent(self, item: _Attempt, tries: Sequence[Delivery]) -> None:
        # A failed try is retried on BigCommerce's schedule, or deactivates its hook.
        if tries[-1].succeeded:
            return
        hook = self._subscriptions.get(item.hook_id)
        if hook is None:
            return
        if item.attempt >= len(RETRY_DELAYS):
            hook.is_active = False  # after ~48 hours of failures BigCommerce deactivates it
            hook.updated_at = self._now()
            return
        due = self._now() + RETRY_DELAYS[item.attempt]
        self._waiting.append(
            _Attempt(item.hook_id, item.event, item.message_id, item.attempt + 1, due)
        )

    def _count_request(self) -> bool:
        """Counts a request against the quota window; whether it is over an enforced quota."""
        now = self.clock()
        if self._window_start is None or now >= self._window_start + _QUOTA_WINDOW:
            self._window_start, self._window_used = now, 0
        self._window_used += 1
        return self.enforce_quota and self._window_used > self.requests_quota

    def _rate_headers(self) -> dict[str, str]:
        now = self.clock()
        start = self._window_start or now
        reset = max(start + _QUOTA_WINDOW - now, timedelta(0))
        return {
            "X-Rate-Limit-Time-Window-Ms": str(int(_QUOTA_WINDOW.total_seconds() * 1000)),
            "X-Rate-Limit-Time-Reset-Ms": str(int(reset.total_seconds() * 1000)),
            "X-Rate-Limit-Requests-Quota": str(self.requests_quota),
            "X-Rate-Limit-Requests-Left": str(max(self.requests_quota - self._window_used, 0)),
        }
