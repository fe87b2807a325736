"""A Shopify shop on the GraphQL and REST Admin APIs, for tests, ``shoptrack demo`` and benchmarks.

``ShopifySimulator(...).app`` is an ASGI app that answers as Shopify does for a custom app's
access token, or for the tokens a Dev Dashboard app obtains with its client id and secret
(never mounted by ``shoptrack serve``):

- ``POST /admin/oauth/access_token``: the client credentials grant (see ``_shopify_oauth``),
  tokens that expire 24 hours later by ``clock``, and the authorization code grant's exchange;
- ``GET /admin/oauth/authorize``: the install's approval page, approved at once (redirects
  back with a code); ``uninstall_app()`` sends ``app/uninstalled`` and revokes every token,
  ``send_compliance()`` posts a compliance webhook (``customers/redact``...) to a URL;
- ``POST /admin/api/{v}/graphql.json``: the GraphQL Admin API for the part of Shopify's schema
  shoptrack uses (``shop``, ``currentAppInstallation``, ``orders``, ``order``, ``ordersCount``,
  ``webhookSubscriptions`` and ``webhookSubscriptionCreate``), with Shopify's query costs and
  cost-based throttling (see ``_shopify_graphql``); and bulk query operations
  (``bulkOperationRunQuery``, ``bulkOperation``) whose JSONL result is served at
  ``GET /bulk-operation-outputs/{id}-final`` without a token, as a signed link
  (see ``_shopify_bulk``; they run ``bulk_seconds`` by ``clock``, 0 by default);
- ``GET /admin/oauth/access_scopes.json`` (the token's scopes), ``GET /admin/api/{v}/shop.json``
  (time zone, currency);
- ``GET /admin/api/{v}/orders.json``, ``orders/count.json``, ``orders/{id}.json``,
  ``POST orders/{id}/cancel.json``; ``GET checkouts.json``, ``checkouts/count.json``;
- ``GET|POST /admin/api/{v}/webhooks.json``, ``webhooks/count.json``,
  ``GET|PUT|DELETE webhooks/{id}.json``.

Orders are listed as Shopify lists them (see ``_shopify_listing``): ``status`` (``open`` by
default), ``updated_at_min``/``_max`` and the other time filters (both bounds included), cursor
pages by the ``Link`` header's ``page_info``, which may be sent only with ``limit`` and ``fields``.
Orders created more than 60 days ago are served only to a token with ``read_all_orders``;
without it they are silently left out, as Shopify does. Times are written in the shop's time
zone with its offset. Every token has a leaky bucket of 40 calls that leaks 2 a second by
``clock``; a full bucket is answered 429 with ``Retry-After``.

Webhooks (see ``_shopify_webhooks``): ``orders/create``, ``orders/updated``, ``orders/paid``,
``orders/cancelled``, ``orders/fulfilled``, ``refunds/create``, ``checkouts/create`` and
``checkouts/update``, each carrying the resource as it was when the event happened, signed with
the app's client secret (``client_secret``). With ``webhook_delivery="immediate"`` (the default)
an event caused through an HTTP route is delivered before that route answers; events caused
through Python methods, and everything in ``"manual"`` mode, wait for ``await
deliver_pending()`` or ``POST /_sim/webhooks/deliver``. A failed delivery is retried at each
later delivery round, up to 8 times, after which the subscription is deleted.

Control endpoints (JSON, no token), for tests and demos (see ``_shopify_control``): orders
(create, status, refunds, fulfil, cancel), checkouts (start, step, complete), tokens, webhook
deliveries, and faults at ``GET|POST|DELETE /_sim/faults``:

- ``{"rate_limit": {"burst": N, "retry_after": S}}``: the next N calls answered 429 (GraphQL
  queries: ``THROTTLED``, with a bucket S seconds short of the query's cost);
- ``{"server_error": N}``, ``{"slow_ms": M}``, ``{"firewall_user_agent": "shoptrack"}``;
- ``{"duplicate_webhooks": true}``: each delivery sent twice, with the same ids;
- ``{"reorder_webhooks": true}``: deliveries held, then sent newest first;
- ``{"custom_statuses": ["expired"]}``: financial statuses beyond the REST ones (newer
  versions add some);
- ``{"site_timezone": "America/New_York"}``: the shop's time zone;
- ``{"bulk_outcome": {"status": "FAILED", "error_code": "TIMEOUT"}}``: how bulk operations
  end (``COMPLETED``, ``FAILED`` with ``TIMEOUT``, ``INTERNAL_SERVER_ERROR`` or
  ``ACCESS_DENIED``, ``CANCELED``, ``EXPIRED``).
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from starlette.applications import Starlette

from shoptrack.simulators._kit import (
    DELIVERY_FAULTS,
    Clock,
    EdgeFaults,
    Fault,
    WebhookDelivery,
    WebhookSettings,
    listed,
    timezone_fault,
)
from shoptrack.simulators._shopify_bulk import ERROR_CODES, OUTCOMES, BulkOperations
from shoptrack.simulators._shopify_control import control_routes
from shoptrack.simulators._shopify_graphql import GraphQLApi
from shoptrack.simulators._shopify_oauth import (
    CODE_LIFETIME,
    TOKEN_LIFETIME,
    authorize_route,
    token_route,
)
from shoptrack.simulators._shopify_order_json import build_checkout, build_order
from shoptrack.simulators._shopify_orders import API_VERSION, FINANCIAL_STATUSES, SimulatedOrder
from shoptrack.simulators._shopify_rest import RECENT_ORDERS, RestApi, Token
from shoptrack.simulators._shopify_shop import ShopifyShop
from shoptrack.simulators._shopify_webhooks import (
    Delivery,
    Event,
    Outgoing,
    Subscription,
    delivery_headers,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_SCOPES",
    "FINANCIAL_STATUSES",
    "Delivery",
    "ShopifySimulator",
    "Subscription",
    "build_checkout",
    "build_order",
]

# What a custom app for shoptrack is granted (write_orders lets demos cancel through the API).
DEFAULT_SCOPES = ("read_orders", "write_orders", "read_all_orders")


def _bulk_outcome(value: Any) -> tuple[str, str | None]:
    if not isinstance(value, Mapping) or value.get("status") not in OUTCOMES:
        raise ValueError(f'bulk_outcome: expected {{"status": one of {list(OUTCOMES)}, ...}}')
    error_code = value.get("error_code")
    if value["status"] == "FAILED" and error_code not in ERROR_CODES:
        raise ValueError(f"bulk_outcome.error_code: expected one of {list(ERROR_CODES)}")
    return str(value["status"]), error_code if value["status"] == "FAILED" else None


def _shown_outcome(outcome: tuple[str, str | None]) -> dict[str, str | None]:
    return {"status": outcome[0], "error_code": outcome[1]}


def _custom_statuses(custom: Any) -> tuple[str, ...]:
    if not isinstance(custom, list) or not all(
        isinstance(s, str) and re.fullmatch(r"[a-z_]{1,30}", s) for s in custom
    ):
        raise ValueError("custom_statuses: expected a list of names like 'expired'")
    return tuple(custom)


class ShopifySimulator(ShopifyShop):
    """One simulated shop: its orders, checkouts, app tokens, webhooks and faults, served by
    ``app``.

    Args:
        shop_domain: The shop's permanent ``myshopify.com`` domain.
        shop_name: The shop's name.
        access_token: The custom app's Admin API token (generated ``shpat_…`` when not given).
        scopes: The token's access scopes (and those of tokens the grant issues).
        client_id: The Dev Dashboard app's client id (generated when not given).
        client_secret: The app's client secret, which signs webhooks and, with ``client_id``,
            obtains tokens from ``POST /admin/oauth/access_token`` (generated when not given).
        currency: The shop's currency.
        shop_timezone: The shop's IANA time zone.
        clock: Returns the current time (aware); defaults to the machine's clock.
        webhook_delivery: ``immediate`` or ``manual`` (see the module's docstring).
        webhook_transport: How deliveries reach their URLs (e.g. ``httpx.ASGITransport``).
        webhook_timeout: Seconds to wait for an answer (Shopify: 5 seconds in all).
    """

    FAULTS = (
        *DELIVERY_FAULTS,
        # Financial statuses beyond the REST ones (newer versions add some).
        Fault("custom_statuses", _custom_statuses, listed),
        timezone_fault(),
        Fault("bulk_outcome", _bulk_outcome, _shown_outcome),
    )

    def __init__(
        self,
        *,
        shop_domain: str = "acme-outfitters.myshopify.com",
        shop_name: str = "Acme Outfitters",
        access_token: str | None = None,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        client_id: str | None = None,
        client_secret: str | None = None,
        currency: str = "USD",
        shop_timezone: str = "America/New_York",
        clock: Clock | None = None,
        webhook_delivery: WebhookDelivery = "immediate",
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_timeout: float = 5.0,
    ) -> None:
        super().__init__(
            shop_domain=shop_domain,
            shop_name=shop_name,
            currency=currency,
            shop_timezone=shop_timezone,
            client_secret=client_secret or "shpss_" + secrets.token_hex(16),
            clock=clock,
            webhooks=WebhookSettings(webhook_delivery, webhook_transport, webhook_timeout),
            # The API answers the rate-limit burst, as REST and GraphQL each do (2 seconds).
            edge=EdgeFaults(retry_after_seconds=2, platform_rate_limit=True),
        )
        self.access_token = access_token or "shpat_" + secrets.token_hex(16)
        self.client_id = client_id or secrets.token_hex(16)
        self.scopes = tuple(scopes)
        self.issued_tokens = 0  # how many the client credentials grant issued
        self._tokens = {self.access_token: Token(self.access_token, tuple(scopes))}
        # Authorization codes not yet exchanged: their scopes and when they stop working.
        self._codes: dict[str, tuple[tuple[str, ...], datetime]] = {}
        self.bulk_outcome: tuple[str, str | None] = ("COMPLETED", None)
        self._settle_faults()
        # How long a bulk operation runs, by ``clock``.
        self.bulk_seconds = 0.0
        self.bulk = BulkOperations(self)
        self.app = Starlette(
            routes=[
                token_route(self),
                authorize_route(self),
                *GraphQLApi(self).routes(),
                *self.bulk.routes(),
                *RestApi(self).routes(),
                *control_routes(self),
            ]
        )

    # -- the app, from Python --------------------------------------------------------------

    def credentials(self, base_url: str, *, dev_dashboard: bool = False) -> dict[str, str]:
        """What a merchant enters in shoptrack for this shop, served at ``base_url``: an
        admin-created app's token and secret, or (``dev_dashboard``) a Dev Dashboard app's
        client id and secret."""
        if dev_dashboard:
            return {
                "shop_domain": self.shop_domain,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "api_base_url": base_url.rstrip("/"),
            }
        return {
            "shop_domain": self.shop_domain,
            "access_token": self.access_token,
            "webhook_secret": self.client_secret,
            "api_base_url": base_url.rstrip("/"),
        }

    def issue_token(self) -> Token:
        """A new token of the client credentials grant, with the app's scopes, expiring
        ``TOKEN_LIFETIME`` from now by ``clock``."""
        with self._lock:
            value = "shpat_" + secrets.token_hex(16)
            token = Token(value, self.scopes, expires_at=self._now() + TOKEN_LIFETIME)
            self._tokens[value] = token
            self.issued_tokens += 1
            return token

    def grant_code(self, scopes: Sequence[str]) -> str:
        """An authorization code for an install approved with ``scopes``."""
        with self._lock:
            code = secrets.token_hex(16)
            self._codes[code] = (tuple(scopes), self._now() + CODE_LIFETIME)
            return code

    def exchange_code(self, code: str) -> Token | None:
        """The offline token of a code, once; None for an unknown, used or expired code."""
        with self._lock:
            granted = self._codes.pop(code, None)
            if granted is None or self._now() >= granted[1]:
                return None
            value = "shpat_" + secrets.token_hex(16)
            self._tokens[value] = Token(value, granted[0])
            return self._tokens[value]

    async def uninstall_app(self) -> None:
        """The owner uninstalls the app: ``app/uninstalled`` goes to its subscriptions, then
        every token stops working and the subscriptions are gone (as Shopify deletes them)."""
        with self._lock:
            shop = self._shop()
            self._emit("app/uninstalled", shop.id, {"id": shop.id, "domain": shop.domain,
                                                    "name": shop.name})  # fmt: skip
        await self.deliver_pending()
        with self._lock:
            self._tokens.clear()
            self._subscriptions.clear()

    async def send_compliance(self, url: str, topic: str, payload: Mapping[str, Any]) -> Delivery:
        """Posts one compliance webhook (``customers/data_request``, ``customers/redact``,
        ``shop/redact``) to the app's compliance URL, signed with its client secret."""
        body = json.dumps(dict(payload), separators=(",", ":")).encode()
        event = Event(str(uuid.uuid4()), topic, 0, self.clock(), body)
        headers = delivery_headers(
            event, secret=self.client_secret, shop_domain=self.shop_domain,
            webhook_id=str(uuid.uuid4()),
        )  # fmt: skip
        sent = Outgoing(0, url, headers, body, topic, 0, event.id, headers["x-shopify-webhook-id"])
        return await self._send_now(sent)

    def revoke_issued_tokens(self) -> None:
        """Every token the grant issued stops working before its time (the app's scopes
        changed, or it was uninstalled and installed again)."""
        with self._lock:
            for value in [v for v, t in self._tokens.items() if t.expires_at is not None]:
                del self._tokens[value]

    def add_token(self, scopes: Sequence[str]) -> str:
        """Another Admin API token with ``scopes`` (as another custom app would have)."""
        with self._lock:
            value = "shpat_" + secrets.token_hex(16)
            self._tokens[value] = Token(value, tuple(scopes))
            return value

    def regenerate_token(self) -> str:
        """Revokes the app's token and issues a new one with the same scopes (the app
        reinstalled after a leak); returns it."""
        with self._lock:
            old = self._tokens.pop(self.access_token)
            self.access_token = "shpat_" + secrets.token_hex(16)
            self._tokens[self.access_token] = Token(self.access_token, old.scopes)
            return self.access_token

    def _visible(self, order: SimulatedOrder, token: Token) -> bool:
        """Whether ``token`` may read ``order`` (the 60-day limit without read_all_orders)."""
        return token.allows("read_all_orders") or order.created >= self._now() - RECENT_ORDERS
