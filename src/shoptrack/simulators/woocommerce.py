"""A WooCommerce store on the REST API ``wc/v3``, for tests, ``shoptrack demo`` and benchmarks.

``WooCommerceSimulator(...).app`` is an ASGI app that answers as WordPress with WooCommerce 9
does (never mounted by ``shoptrack serve``):

- ``GET /wp-json/`` (public: home URL, ``timezone_string``, ``gmt_offset``), ``GET /wp-json/wc/v3``
  (public route index), ``GET /wp-json/wc/v3/system_status``;
- ``GET|POST /wp-json/wc/v3/orders``, ``GET|PUT|POST|PATCH /wp-json/wc/v3/orders/{id}``,
  ``POST /wp-json/wc/v3/orders/{id}/refunds``;
- ``GET|POST /wp-json/wc/v3/webhooks``, ``GET|PUT|POST|PATCH|DELETE /wp-json/wc/v3/webhooks/{id}``.

Listing follows ``WC_REST_CRUD_Controller``: ``page``, ``per_page`` (1-100), ``offset``, ``order``,
``orderby`` (``date``/``modified`` tie-broken by id), ``status`` (``any`` by default; ``status[]=``
or a comma list), ``include``, ``exclude``, ``after``/``before``/``modified_after``/
``modified_before`` (exclusive) compared with the GMT dates when ``dates_are_gmt=true`` and with
the site's wall clock otherwise. As in ``WP_Date_Query``, a bound sent *with* an offset is turned
into the site's wall time before the comparison, even against the GMT dates: send GMT bounds
without an offset. Authentication is ``WC_REST_Authentication``'s (see ``_woocommerce_auth``):
OAuth 1.0a on plain http; with ``https_mode=True`` also Basic and query keys, as behind TLS. The
OAuth timestamp must be within 15 minutes of ``clock``: a client signs with the same clock. As in
WooCommerce, array arguments are signed as PHP reads them (``status[0]=…``), so a standard OAuth
client should send a comma list (``status=processing,completed``) instead.

Webhooks (see ``_woocommerce_webhooks``): ``order.created`` when an order is created,
``order.updated`` when one is changed or refunded, each carrying the order as the API returns it
when the delivery is made. With ``webhook_delivery="immediate"`` (the default) a change made
through an HTTP route is delivered before that route answers, so a test that made the change
can assert on its effect; changes made through Python methods, and everything in ``"manual"``
mode, wait for ``await deliver_pending()`` or ``POST /_sim/webhooks/deliver``, and a delivery still
waiting is not queued twice for the same order (Action Scheduler's coalescing). Delivery ids are
WooCommerce's ``wp_hash(webhook_id . time())``: one webhook's deliveries within the same second of
``clock`` share an id.

Control endpoints (JSON, no authentication), for tests and demos:

- ``POST /_sim/orders`` ``{count, statuses, email, created, modified, interval_seconds, total,
  lines}`` creates orders (statuses cycle; times are ISO 8601) → ``{"ids": [...]}``;
- ``POST /_sim/orders/{id}/status`` ``{status}``, ``POST /_sim/orders/{id}/refunds``
  ``{amount, reason}`` change one the way the shop admin would;
- ``GET /_sim/webhooks/deliveries`` lists what was sent; ``POST /_sim/webhooks/deliver`` sends
  what waits;
- ``GET|POST|DELETE /_sim/faults``: ``{"rate_limit": {"burst": N, "retry_after": S}}``,
  ``{"server_error": N}``, ``{"slow_ms": M}``, ``{"firewall_user_agent": "shoptrack"}``,
  ``{"duplicate_webhooks": true}`` (each delivery sent twice, same id), ``{"reorder_webhooks":
  true}`` (deliveries held, with the order as it was when it changed, and sent newest first),
  ``{"custom_statuses": ["awaiting-shipment"]}``, ``{"site_timezone": "America/New_York"}``.
  ``DELETE`` restores the defaults.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shoptrack.simulators._kit import (
    DELIVERY_FAULTS,
    Clock,
    Fault,
    Ids,
    NewOrder,
    WebhookDelivery,
    WebhookSettings,
    WebhookSimulator,
    listed,
)
from shoptrack.simulators._kit.values import zone
from shoptrack.simulators._woocommerce_auth import ApiKey, Authenticator, Permission
from shoptrack.simulators._woocommerce_control import control_routes
from shoptrack.simulators._woocommerce_orders import (
    CORE_STATUSES,
    PAID_STATUSES,
    WC_VERSION,
    WP_VERSION,
    Refund,
    SimulatedOrder,
    build_order,
    placed_order,
)
from shoptrack.simulators._woocommerce_rest import RestApi
from shoptrack.simulators._woocommerce_webhooks import STATUSES as WEBHOOK_STATUSES
from shoptrack.simulators._woocommerce_webhooks import (
    Delivery,
    Outgoing,
    Webhook,
    delivery_headers,
    delivery_id,
    is_valid_topic,
)
from shoptrack.simulators._wordpress import QueryArgs, WPError, wp_json

__all__ = [
    "WC_VERSION",
    "WP_VERSION",
    "Delivery",
    "Refund",
    "SimulatedOrder",
    "Webhook",
    "WooCommerceSimulator",
    "build_order",
    "placed_order",
]

# Gateways that can refund through their API (`supports('refunds')`); bank transfer cannot.
_REFUNDING_GATEWAYS = frozenset({"stripe", "woocommerce_payments", "ppcp-gateway"})


def _zone(name: str) -> tzinfo:
    """An IANA name, or a fixed offset as WordPress' settings offer them (``UTC+5:30``)."""
    offset = re.fullmatch(r"UTC([+-])(\d{1,2})(?::?(\d{2}))?", name)
    if offset:
        sign = -1 if offset[1] == "-" else 1
        return timezone(sign * timedelta(hours=int(offset[2]), minutes=int(offset[3] or 0)))
    return zone(name)


def _timezone_name(value: Any) -> str:
    _zone(str(value))
    return str(value)


def _custom_statuses(custom: Any) -> tuple[str, ...]:
    if not isinstance(custom, list) or not all(
        isinstance(s, str) and re.fullmatch(r"[a-z0-9-]{1,17}", s) for s in custom
    ):
        raise ValueError("custom_statuses: expected a list of slugs like 'awaiting-shipment'")
    return tuple(custom)


@dataclass(frozen=True, slots=True)
class _Pending:
    webhook_id: int
    order_id: int
    body: bytes | None  # the order when it changed (reorder fault), else built when sent


class WooCommerceSimulator(WebhookSimulator[_Pending, Outgoing, Delivery, Webhook]):
    """One simulated store: its orders, API key, webhooks and faults, served by ``app``.

    Args:
        consumer_key: The REST API key (generated ``ck_…`` when not given).
        consumer_secret: Its secret (generated ``cs_…`` when not given).
        key_permissions: ``read``, ``write`` or ``read_write``.
        site_url: The WordPress home URL; by default the scheme and host each request came to.
        site_timezone: An IANA name or ``UTC±H[:MM]`` (WordPress' own default is UTC).
        https_mode: Act as if behind TLS: accept Basic and query-string keys too.
        clock: Returns the current time (aware); defaults to the machine's clock.
        webhook_delivery: ``immediate`` or ``manual`` (see the module's docstring).
        webhook_transport: How deliveries reach their URLs (e.g. ``httpx.ASGITransport``).
        webhook_timeout: Seconds to wait for a webhook's answer.
    """

    NEW_ORDER_STATUSES = ("processing",)
    FAULTS = (
        *DELIVERY_FAULTS,
        Fault("custom_statuses", _custom_statuses, listed),  # registered by plugins
        Fault("site_timezone", _timezone_name),
    )

    def __init__(
        self,
        *,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        key_permissions: Permission = "read_write",
        site_url: str | None = None,
        site_timezone: str = "UTC",
        https_mode: bool = False,
        clock: Clock | None = None,
        webhook_delivery: WebhookDelivery = "immediate",
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            clock, WebhookSettings(webhook_delivery, webhook_transport, webhook_timeout)
        )
        self.consumer_key = consumer_key or "ck_" + secrets.token_hex(20)
        self.consumer_secret = consumer_secret or "cs_" + secrets.token_hex(20)
        self.site_url = site_url.rstrip("/") if site_url else None
        self.https_mode = https_mode
        _zone(site_timezone)  # fail early on a name nobody knows
        self._auth = Authenticator(
            [ApiKey(self.consumer_key, self.consumer_secret, key_permissions)], https_mode
        )
        self._salt = secrets.token_bytes(16)
        self._ids = Ids(99)  # orders and refunds share WordPress' post ids
        self._orders: dict[int, SimulatedOrder] = {}
        # Bumped by every save of an order (see _queue): a listing read before is stale.
        self._revision = 0
        self._waiting_keys: set[tuple[int, int]] = set()  # (webhook, order) waiting unbuilt
        self._seen_home = "http://localhost/"
        self.custom_statuses: tuple[str, ...] = ()
        self.site_timezone = site_timezone
        self._settle_faults()
        self.app = Starlette(
            routes=[*RestApi(self).routes(), *control_routes(self)],
            middleware=[Middleware(_LearnHome, simulator=self)],
        )

    # -- the store, from Python ------------------------------------------------------------

    def credentials(self, base_url: str) -> dict[str, str]:
        """Credentials for ``shoptrack integrations add`` with the store at ``base_url``."""
        return {
            "store_url": base_url.rstrip("/"),
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
        }

    def regenerate_key(self, permissions: Permission = "read_write") -> dict[str, str]:
        """Revokes the REST API key and adds a new one, as the shop admin would after a leak;
        requests signed with the old key are refused from now on. Returns the new pair."""
        with self._lock:
            self.consumer_key = "ck_" + secrets.token_hex(20)
            self.consumer_secret = "cs_" + secrets.token_hex(20)
            self._auth.keys[:] = [ApiKey(self.consumer_key, self.consumer_secret, permissions)]
        return {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}

    def set_status(self, order_id: int, status: str) -> None:
        """Changes an order's status as the shop admin would (``order.updated`` waits)."""
        self._check_status(status)
        with self._lock:
            order = self._order(order_id)
            self._transition(order, status)
            self._queue("order.updated", order)

    def refund(
        self, order_id: int, amount: Decimal, reason: str = "", *, api_refund: bool = False
    ) -> Refund:
        """Refunds part or all of an order; in full, the order becomes ``refunded``."""
        with self._lock:
            return self._refund(self._order(order_id), amount, reason, api_refund=api_refund)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as ``GET /wp-json/wc/v3/orders/{id}`` returns it."""
        with self._lock:
            return build_order(self._order(order_id), **self._rendering())

    def statuses(self) -> dict[int, str]:
        """Every order's id and current status."""
        with self._lock:
            return {order_id: order.status for order_id, order in self._orders.items()}

    def add_webhook(
        self, topic: str, delivery_url: str, *, secret: str, name: str = "", status: str = "active"
    ) -> Webhook:
        """Registers a webhook as the shop admin would (no ping)."""
        if not is_valid_topic(topic) or status not in WEBHOOK_STATUSES:
            raise ValueError(f"invalid webhook topic {topic!r} or status {status!r}")
        with self._lock:
            now = self._now()
            webhook = Webhook(self._ids.next(), name, topic, delivery_url, secret, status, now, now)
            webhook.name = name or f"Webhook created on {now:%B %d, %Y @ %I:%M %p}"
            self._subscriptions[webhook.id] = webhook
            return webhook

    # -- state, always under the lock ------------------------------------------------------

    def _statuses(self) -> tuple[str, ...]:
        return CORE_STATUSES + self.custom_statuses

    def _check_status(self, status: str, name: str = "status") -> None:
        args = QueryArgs({name: status})
        args.choice(name, "", self._statuses())
        args.check()

    def _order(self, order_id: int) -> SimulatedOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise WPError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return order

    def _home(self) -> str:
        return self.site_url + "/" if self.site_url else self._seen_home

    def _timezone(self) -> tzinfo:
        return _zone(self.site_timezone)

    def _rendering(self) -> dict[str, Any]:
        return {"site_url": self._home(), "site_timezone": self._timezone()}

    def _check_new(self, order: NewOrder) -> None:
        self._check_status(order.status)

    def _place(self, new: NewOrder) -> int:
        # A refunded order carries a full refund; order.created waits for deliver_pending().
        order_id, status = self._ids.next(), new.status
        size = new.lines or 1 + order_id % 3
        priced = Decimal("24.95") * size + order_id % 7  # the catalogue's price of its lines
        order = placed_order(
            order_id,
            status,
            new.placed,
            new.changed,
            email=new.email or f"customer{order_id}@example.com",
            lines=size,
            total=str(new.total) if new.total is not None else f"{priced:.2f}",
        )
        if status == "refunded":
            order.refunds.append(Refund(self._ids.next(), Decimal(order.total), "", new.changed))
        self._orders[order_id] = order
        self._queue("order.created", order)
        return order_id

    def _transition(self, order: SimulatedOrder, status: str) -> None:
        now = self._now()
        if status in PAID_STATUSES and order.paid is None:
            order.paid = now  # WC_Order::maybe_set_date_paid()
        if status == "completed" and order.status != "completed":
            order.completed = now  # WC_Order::maybe_set_date_completed()
        order.status = status
        order.modified = now

    def _refund(
        self, order: SimulatedOrder, amount: Decimal, reason: str, *, api_refund: bool
    ) -> Refund:
        # WC_REST_Order_Refunds_Controller and wc_create_refund(), in their order.
        if amount < 0:
            raise WPError(
                "woocommerce_rest_invalid_order_refund",
                "Refund amount must be greater than zero.",
                400,
            )
        if amount > Decimal(order.total) - order.refunded():
            raise WPError(
                "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500
            )
        if api_refund and order.payment_method not in _REFUNDING_GATEWAYS:
            raise WPError(
                "woocommerce_rest_cannot_create_order_refund",
                "The payment gateway for this order does not support automatic refunds.",
                500,
            )
        refund = Refund(self._ids.next(), amount, reason, self._now(), refunded_payment=api_refund)
        order.refunds.insert(0, refund)
        order.modified = refund.created
        if order.refunded() >= Decimal(order.total):
            self._transition(order, "refunded")  # wc_order_fully_refunded()
        self._queue("order.updated", order)
        return refund

    def _queue(self, topic: str, order: SimulatedOrder) -> None:
        # Every save of an order passes here, as every save fires order.created/updated.
        self._revision += 1
        for webhook in self._subscriptions.values():
            if webhook.status != "active" or webhook.topic != topic:
                continue
            if self.reorder_webhooks:
                body = wp_json(build_order(order, **self._rendering()))
                self._waiting.append(_Pending(webhook.id, order.id, body))
            elif (webhook.id, order.id) not in self._waiting_keys:
                self._waiting_keys.add((webhook.id, order.id))
                self._waiting.append(_Pending(webhook.id, order.id, None))

    # -- the outbox, always under the lock -------------------------------------------------

    def _take_due(self) -> list[_Pending]:
        self._waiting_keys.clear()
        return super()._take_due()

    def _prepare(self, item: _Pending) -> Outgoing | None:
        webhook, order = self._subscriptions.get(item.webhook_id), self._orders.get(item.order_id)
        if webhook is None or order is None:
            return None
        body = item.body or wp_json(build_order(order, **self._rendering()))
        sent_id = delivery_id(self._salt, webhook.id, self._now())
        headers = delivery_headers(webhook, body, source=self._home(), delivery_id=sent_id)
        return Outgoing(
            webhook.id, webhook.delivery_url, headers, body, webhook.topic, order.id, sent_id
        )

    def _delivery(
        self, sent: Outgoing, status: int | None, error: str | None, item: _Pending | None
    ) -> Delivery:
        return Delivery(sent, self._now(), status, error)

    def _sent(self, item: _Pending, tries: Sequence[Delivery]) -> None:
        if (webhook := self._subscriptions.get(item.webhook_id)) is not None:
            for delivery in tries:
                webhook.record(delivery.succeeded)


class _LearnHome:
    """Without a configured ``site_url``, the site is where requests come to: remembered for
    what is written outside a request (webhook sources, orders built by Python callers)."""

    def __init__(self, app: ASGIApp, simulator: WooCommerceSimulator) -> None:
        self.app = app
        self.simulator = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.simulator.site_url:
            url = URL(scope=scope)
            with self.simulator._lock:
                self.simulator._seen_home = f"{url.scheme}://{url.netloc}/"
        await self.app(scope, receive, send)
