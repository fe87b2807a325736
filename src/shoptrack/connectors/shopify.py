"""Shopify: orders read through the GraphQL Admin API, and signed webhook deliveries.

Order webhooks carry the REST order (``GET /admin/api/{version}/orders/{id}.json``) in the
subscription's API version, signed base64(HMAC-SHA256(app client secret, raw body)). The raw
status is ``financial_status``; cancellation and fulfilment live beside it (``cancelled_at``,
``fulfillment_status``) and are reported as the order's markers. Checkout webhooks
(``checkouts/create``, ``checkouts/update``) carry an abandoned checkout and become Started
Checkout; ``refunds/create`` carries a refund, whose order is fetched.

Everything shoptrack reads (orders, one order, the shop, the app's scopes) goes through the
GraphQL Admin API (``_shopify_graphql``), whose order nodes are turned into that REST order, so
that one mapping (``to_order``, in ``_shopify_orders``) reads webhooks and polls alike; a long
backfill is read with a bulk operation (``_shopify_bulk``). Webhooks are subscribed with
``webhookSubscriptionCreate`` (their payloads stay REST orders of the app's API version), and
checked and read by ``_shopify_webhooks``; test orders still use REST, at the same version.

Without the ``read_all_orders`` scope Shopify silently serves only the last 60 days of orders
(shopify.dev, Order resource): ``readable_window`` cuts a longer window and says so.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator, model_validator

from shoptrack.connectors import fields
from shoptrack.connectors._shopify_auth import ACCESS_TOKEN_HEADER, ClientCredentialsAuth
from shoptrack.connectors._shopify_bulk import bulk_order_pages
from shoptrack.connectors._shopify_graphql import (
    ACCESS_SCOPES_QUERY,
    API_VERSION,
    GRAPHQL_PATH,
    ORDER_LINES_QUERY,
    ORDER_QUERY,
    ORDERS_COUNT_QUERY,
    ORDERS_PER_PAGE,
    ORDERS_QUERY,
    SHOP_QUERY,
    object_at,
    order_gid,
    rest_lines,
    rest_order,
    run_query,
)
from shoptrack.connectors._shopify_orders import shopify_order, utc
from shoptrack.connectors._shopify_webhooks import (
    CHECKOUT_TOPICS,
    ORDER_TOPICS,
    check_delivery,
    started_checkout,
    subscribe_webhooks,
)
from shoptrack.connectors.base import (
    Connector,
    Credentials,
    OrderPage,
    ProbeOrder,
    WebhookCheck,
    WebhookRequest,
    Window,
    created_id,
    replace_origin,
)
from shoptrack.connectors.errors import StoreConfigError, StoreDataError
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.paging import EndCursorPaginator
from shoptrack.connectors.tokens import MemoryTokens, TokenKeeper
from shoptrack.domain.events import EventDraft
from shoptrack.domain.order import Order
from shoptrack.domain.status import StatusRules, StatusSet, status_rules

__all__ = ["BULK_AFTER_PAGES", "Shopify", "ShopifyCredentials"]

_API = f"/admin/api/{API_VERSION}"
_ORDERS_PATH = f"{_API}/orders.json"
# A backfill of more pages than this is read with a bulk operation: a page costs some 700 of the
# 2,000 points the cost limit holds, refilled at 100 a second, while a bulk operation waits on
# nothing but Shopify.
BULK_AFTER_PAGES = 2
# Orders older than this (by creation) are served only with the read_all_orders scope.
_RECENT_ORDERS = timedelta(days=60)
_ALL_ORDERS_SCOPE = "read_all_orders"
# The Admin API answers only on the shop's permanent myshopify.com host (custom domains redirect).
_SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")


class ShopifyCredentials(Credentials):
    """One shop, opened either by a Dev Dashboard app's client id and secret (shoptrack obtains
    its 24-hour tokens itself) or by the Admin API access token of an app created in the
    Shopify admin before 2026 (still accepted)."""

    shop_domain: str = Field(description="The shop's permanent address, e.g. example.myshopify.com")
    # A Dev Dashboard app; its secret also signs its webhooks. Secrets stay out of reprs, so
    # no log or traceback shows them.
    client_id: str | None = Field(
        default=None, description="Dev Dashboard > Apps > your app > Settings: Client ID."
    )
    client_secret: str | None = Field(
        default=None,
        repr=False,
        description="Dev Dashboard > Apps > your app > Settings: Secret. shoptrack obtains the"
        " app's access tokens with it, and checks the app's webhooks against it.",
    )
    # An admin-created custom app's token (shpat_...), entered once.
    access_token: str | None = Field(
        default=None,
        repr=False,
        description="Only for an app created in the Shopify admin before 2026 (shpat_...):"
        " instead of a client ID and secret.",
    )
    # The admin-created app's client secret ("API secret key"), which signs its webhooks.
    webhook_secret: str | None = Field(
        default=None,
        repr=False,
        description="Only with an access token: that app's API secret key, which signs its"
        " webhooks.",
    )
    previous_webhook_secrets: tuple[str, ...] = Field(default=(), repr=False)

    @model_validator(mode="after")
    def _one_way_in(self) -> ShopifyCredentials:
        app = self.client_id is not None or self.client_secret is not None
        if app and self.access_token is not None:
            raise ValueError(
                "access_token: give either client_id and client_secret (a Dev Dashboard app) or"
                " access_token (an app created in the Shopify admin), not both"
            )
        if app and self.client_id is None:
            raise ValueError("client_id: required with client_secret (Dev Dashboard > Settings)")
        if app and self.client_secret is None:
            raise ValueError("client_secret: required with client_id (Dev Dashboard > Settings)")
        if not app and self.access_token is None:
            raise ValueError(
                "client_id: required, with client_secret (both on the Dev Dashboard app's"
                " Settings page); or access_token, for an app created in the Shopify admin"
                " before 2026"
            )
        return self

    @field_validator("shop_domain")
    @classmethod
    def _shop_domain(cls, value: str) -> str:
        given = value.strip().lower()
        # Accept what merchants paste: the admin URL, a trailing slash, or the bare shop handle.
        host = urlsplit(given if "//" in given else f"//{given}").hostname or ""
        if host and "." not in host:
            host = f"{host}.myshopify.com"
        if not _SHOP_DOMAIN.fullmatch(host):
            raise ValueError("must be the shop's myshopify.com domain, e.g. example.myshopify.com")
        return host


def _iso(moment: datetime) -> str:
    # Shopify compares ISO 8601 times with an offset; UTC keeps the request readable in logs.
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class Shopify(Connector[ShopifyCredentials]):
    """The Shopify connector (GraphQL Admin API, REST's ``financial_status`` as the status)."""

    platform: ClassVar[str] = "shopify"
    credentials_model = ShopifyCredentials
    display_name: ClassVar[str] = "Shopify"
    # Any order placed (the checkout completed); the fulfilled and cancelled stages come from
    # ``fulfillment_status`` and ``cancelled_at``, which ``to_order`` reports beside the status.
    default_rules: ClassVar[StatusRules] = status_rules(
        StatusSet.excluding(()), refunded=["refunded"]
    )
    # A Dev Dashboard app signs with its client secret; an admin-created app with the secret
    # entered as ``webhook_secret``.
    webhook_secret_fields: ClassVar[tuple[str, ...]] = ("client_secret", "webhook_secret")
    previous_webhook_secrets_field: ClassVar[str | None] = "previous_webhook_secrets"
    origin_field: ClassVar[str] = "shop_domain"
    uninstall_topic: ClassVar[str | None] = "app/uninstalled"
    page_size: ClassVar[int] = ORDERS_PER_PAGE  # what fits in one query's cost
    # The REST `financial_status` values; Shopify has no custom ones.
    status_labels: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "pending": "Pending",
            "authorized": "Authorized",
            "partially_paid": "Partially paid",
            "paid": "Paid",
            "partially_refunded": "Partially refunded",
            "refunded": "Refunded",
            "voided": "Voided",
        }
    )

    def origin(self, credentials: ShopifyCredentials) -> str:
        return replace_origin(f"https://{credentials.shop_domain}", credentials.api_base_url)

    def storefront_url(self, credentials: ShopifyCredentials) -> str | None:
        return f"https://{credentials.shop_domain}"

    def headers(self, credentials: ShopifyCredentials) -> dict[str, str]:
        if credentials.access_token is None:
            return {}  # the client credentials grant's tokens, set by auth
        return {ACCESS_TOKEN_HEADER: credentials.access_token}

    def client_auth(
        self, credentials: ShopifyCredentials, tokens: TokenKeeper | None
    ) -> httpx.Auth | None:
        """Tokens of the client credentials grant, kept by ``tokens`` (in memory for one
        client alone when none is given); none with an entered token (see ``headers``)."""
        if credentials.client_id is None or credentials.client_secret is None:
            return None
        return ClientCredentialsAuth(
            credentials.client_id, credentials.client_secret, tokens or MemoryTokens()
        )

    def check_credentials(self, client: StoreClient) -> None:
        run_query(client, SHOP_QUERY)

    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        """The GraphQL endpoint, and the ``Orders`` query's variables: orders updated within
        the window (both bounds included), by updated time, after the cursor ``token``."""
        return GRAPHQL_PATH, {
            "first": self.page_size,
            "after": token or None,
            "query": self._search(window),
        }

    def _search(self, window: Window) -> str:
        # Shopify's search syntax: orders updated within the window, both bounds included.
        return f"updated_at:>='{_iso(window.since)}' AND updated_at:<='{_iso(window.until)}'"

    def _more_than(self, client: StoreClient, window: Window, limit: int) -> bool:
        """Whether the window holds more than ``limit`` orders (``ordersCount`` counts no
        further, and says so with ``AT_LEAST``)."""
        data = run_query(
            client, ORDERS_COUNT_QUERY, {"query": self._search(window), "limit": limit + 1}
        )
        count = object_at(data, "ordersCount").get("count")
        return isinstance(count, int) and count > limit

    def order_pages(self, client: StoreClient, window: Window) -> Iterator[OrderPage]:
        """Every page of the ``orders`` connection within ``window``, each order in its REST
        shape (with every line, read on where the page holds only the first ones).

        A backfill of more orders than ``BULK_AFTER_PAGES`` pages hold is read with a bulk
        operation instead (``_shopify_bulk``): one query, outside the cost limit.
        """
        if window.backfill and self._more_than(client, window, BULK_AFTER_PAGES * self.page_size):
            yield from bulk_order_pages(client, self._search(window))
            return
        paginator = EndCursorPaginator()
        while not paginator.finished:
            _, variables = self.orders_request(window, paginator.current)
            connection = object_at(run_query(client, ORDERS_QUERY, variables), "orders")
            nodes = [node for node in connection.get("nodes") or [] if isinstance(node, Mapping)]
            yield OrderPage([self._complete(client, node) for node in nodes])
            paginator.follow(connection.get("pageInfo"))

    def _complete(self, client: StoreClient, node: Mapping[str, Any]) -> dict[str, Any]:
        """The REST order of ``node``, its lines beyond the first page read on."""
        order = rest_order(node)
        lines = object_at(node, "lineItems")
        more = EndCursorPaginator()
        more.follow(lines.get("pageInfo"))
        while not more.finished:
            data = run_query(
                client, ORDER_LINES_QUERY, {"id": node.get("id"), "after": more.current}
            )
            page = object_at(object_at(data, "order"), "lineItems")
            order["line_items"] += rest_lines(page)
            more.follow(page.get("pageInfo"))
        return order

    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        return utc(raw, "updated_at")

    def readable_window(
        self, client: StoreClient, window: Window
    ) -> tuple[Window, StoreConfigError | None]:
        """The last 60 days of ``window`` unless the token has ``read_all_orders``.

        Shopify answers a request for older orders without an error, leaving them out; so the
        token's scopes are asked (only when the window reaches that far back) and a cut is
        reported as ``scope_missing`` for the merchant to fix.
        """
        recent = window.until - _RECENT_ORDERS
        if window.since >= recent:
            return window, None
        granted = self.access_scopes(client)
        if _ALL_ORDERS_SCOPE in granted:
            return window, None
        return dataclasses.replace(window, since=recent), StoreConfigError(
            "the access token lacks the read_all_orders scope, so Shopify serves only the last"
            " 60 days of orders: older ones were not imported. Grant read_all_orders to the app"
            " (Dev Dashboard > Apps > the app > Versions: a new version with the scope, released"
            " and accepted on the shop; an app created in the Shopify admin: its Configuration >"
            " Admin API access scopes, then install it again and enter its new token here) and"
            " sync again.",
            store_answer=f"access scopes: {', '.join(sorted(granted)) or 'none'}",
            code="scope_missing",
        )

    def access_scopes(self, client: StoreClient) -> set[str]:
        """The scopes the app holds on the shop (``currentAppInstallation.accessScopes``)."""
        data = run_query(client, ACCESS_SCOPES_QUERY)
        installation = object_at(data, "currentAppInstallation")
        scopes = installation.get("accessScopes")
        if not isinstance(scopes, list):
            raise StoreDataError("the answer has no accessScopes list", store_answer=str(data))
        return {str(scope.get("handle")) for scope in scopes if isinstance(scope, Mapping)}

    def register_webhooks(
        self, client: StoreClient, delivery_url: str, credentials: ShopifyCredentials
    ) -> None:
        """Subscribes the order and checkout topics that do not point here yet
        (``_shopify_webhooks.subscribe_webhooks``).

        Shopify signs every delivery with the app's client secret (``client_secret``, or
        ``webhook_secret`` for an admin-created app); without it no delivery could be verified,
        so nothing is subscribed (polling still imports every order).
        """
        if not (credentials.client_secret or credentials.webhook_secret):
            return
        subscribe_webhooks(client, delivery_url)

    def verify_webhook(self, request: WebhookRequest) -> WebhookCheck:
        """Verifies a delivery against every current secret."""
        return check_delivery(request)

    def orders_from_webhook(self, topic: str, payload: Any) -> list[Order]:
        """The order an order webhook carries.

        ``refunds/create`` carries a refund, not its order: ``order_ids_from_webhook`` names
        the order for fetching (``orders/updated`` brings it too, where subscribed). Other topics
        (``orders/delete``, checkouts, customers...) carry no order.
        """
        if topic not in ORDER_TOPICS:
            return []
        if not isinstance(payload, Mapping):
            raise ValueError("payload: expected a Shopify order object")
        return [self.to_order(payload)]

    def order_ids_from_webhook(self, topic: str, payload: Any) -> list[str]:
        """The order a ``refunds/create`` refund belongs to (its ``order_id``)."""
        if topic != "refunds/create":
            return []
        if not isinstance(payload, Mapping):
            raise ValueError("payload: expected a Shopify refund object")
        return [str(fields.integer(payload, "order_id"))]

    def fetch_order(self, client: StoreClient, order_id: str) -> dict[str, Any] | None:
        """The ``order`` query, in the REST shape; None when Shopify has no such order for the
        app (deleted, or older than 60 days without ``read_all_orders``)."""
        node = run_query(client, ORDER_QUERY, {"id": order_gid(order_id)}).get("order")
        if node is None:
            return None
        if not isinstance(node, Mapping):
            raise StoreDataError("the answer's order is not an object", store_answer=str(node))
        return self._complete(client, node)

    def drafts_from_webhook(self, topic: str, payload: Any) -> list[EventDraft]:
        """Started Checkout for a checkout webhook of someone shoptrack can name."""
        if topic not in CHECKOUT_TOPICS:
            return []
        if not isinstance(payload, Mapping):
            raise ValueError("payload: expected a Shopify checkout object")
        draft = started_checkout(payload)
        return [] if draft is None else [draft]

    def place_test_order(self, client: StoreClient, order: ProbeOrder) -> str | None:
        """``POST orders.json`` with ``test: true`` and ``financial_status: paid``, sending
        the customer no receipt."""
        response = client.request(
            "POST",
            _ORDERS_PATH,
            json={
                "order": {
                    "email": order.email,
                    "test": True,
                    "financial_status": "paid",
                    "send_receipt": False,
                    "send_fulfillment_receipt": False,
                    "note": order.note,
                    "tags": "shoptrack-test",
                    "line_items": [
                        {
                            "title": order.product_name,
                            "price": f"{order.price:.2f}",
                            "quantity": 1,
                            "requires_shipping": False,
                        }
                    ],
                }
            },
        )
        return created_id(response, "order", "id")

    def cancel_test_order(self, client: StoreClient, order_id: str) -> str:
        """``POST orders/{id}/cancel.json``, telling the customer nothing."""
        client.request(
            "POST",
            f"{_API}/orders/{order_id}/cancel.json",
            json={"reason": "other", "email": False},
        )
        return "cancelled on the store"

    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one REST order; ``ValueError`` names the first field that cannot be read."""
        return shopify_order(raw)
