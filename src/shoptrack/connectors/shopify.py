"""Shopify: orders read through the GraphQL Admin API, and signed webhook deliveries.

Order webhooks carry the REST order (``GET /admin/api/{version}/orders/{id}.json``) in the
subscription's API version, signed base64(HMAC-SHA256(app client secret, raw body)). The raw
status is ``financial_status``; cancellation and fulfilment live beside it (``cancelled_at``,
``fulfillment_status``) and are reported as the order's markers. Checkout webhooks
(``checkouts/create``, ``checkouts/update``) carry an abandoned checkout and become Started
Checkout; ``refunds/create`` carries a refund, whose order is fetched.

Everything shoptrack reads (orders, one order, the shop, the app's scopes) goes through the
GraphQL Admin API (``_shopify_graphql``), whose order nodes are turned into that REST order, so
that one mapping (``to_order``) reads webhooks and polls alike; a long backfill is read with a
bulk operation (``_shopify_bulk``). Webhooks are subscribed with ``webhookSubscriptionCreate``
(their payloads stay REST orders of the app's API version); test orders still use REST, at the
same version.

Without the ``read_all_orders`` scope Shopify silently serves only the last 60 days of orders
(shopify.dev, Order resource): ``readable_window`` cuts a longer window and says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
    WEBHOOK_SUBSCRIPTION_CREATE,
    WEBHOOK_SUBSCRIPTIONS_QUERY,
    order_gid,
    rest_lines,
    rest_order,
    run_query,
)
from shoptrack.connectors.base import (
    Connector,
    Credentials,
    OrderPage,
    ProbeOrder,
    WebhookCheck,
    WebhookVerdict,
    Window,
    created_id,
    hmac_sha256_base64,
    replace_origin,
    signature_matches,
)
from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreError
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.paging import EndCursorPaginator
from shoptrack.connectors.tokens import MemoryTokens, TokenKeeper
from shoptrack.domain.events import EventDraft, Metric, Person
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.domain.order import Address, LineItem, Order

__all__ = ["BULK_AFTER_PAGES", "Shopify", "ShopifyCredentials"]

_API = f"/admin/api/{API_VERSION}"
_ORDERS_PATH = f"{_API}/orders.json"
# Every change to an order (payment, fulfilment, cancellation, refund, edit) also fires
# orders/updated, so the two order topics are enough; the narrower ones (orders/paid,
# refunds/create...) are still read when a merchant subscribes them. Checkouts have topics of
# their own, which Started Checkout needs.
# app/uninstalled says the token is gone, so the integration is disabled rather than failing.
_REGISTERED_TOPICS = (
    "orders/create",
    "orders/updated",
    "checkouts/create",
    "checkouts/update",
    "app/uninstalled",
)
# Topics whose payload is the whole order.
_ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/edited",
    }
)
_CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})
# A backfill of more pages than this is read with a bulk operation: a page costs some 700 of the
# 2,000 points the cost limit holds, refilled at 100 a second, while a bulk operation waits on
# nothing but Shopify.
BULK_AFTER_PAGES = 2
# Orders older than this (by creation) are served only with the read_all_orders scope.
_RECENT_ORDERS = timedelta(days=60)
_ALL_ORDERS_SCOPE = "read_all_orders"
# A fulfilment in one of these states shipped nothing.
_FAILED_FULFILLMENTS = frozenset({"cancelled", "error", "failure"})
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


class Shopify(Connector):
    """The Shopify connector (GraphQL Admin API, REST's ``financial_status`` as the status)."""

    platform: ClassVar[str] = "shopify"
    credentials_model: ClassVar[type[Credentials]] = ShopifyCredentials
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

    def origin(self, credentials: Credentials) -> str:
        assert isinstance(credentials, ShopifyCredentials)
        return replace_origin(f"https://{credentials.shop_domain}", credentials.api_base_url)

    def storefront_url(self, credentials: Credentials) -> str | None:
        assert isinstance(credentials, ShopifyCredentials)
        return f"https://{credentials.shop_domain}"

    def headers(self, credentials: Credentials) -> dict[str, str]:
        assert isinstance(credentials, ShopifyCredentials)
        if credentials.access_token is None:
            return {}  # the client credentials grant's tokens, set by auth
        return {ACCESS_TOKEN_HEADER: credentials.access_token}

    def client_auth(
        self, credentials: Credentials, tokens: TokenKeeper | None
    ) -> httpx.Auth | None:
        """Tokens of the client credentials grant, kept by ``tokens`` (in memory for one
        client alone when none is given); none with an entered token (see ``headers``)."""
        assert isinstance(credentials, ShopifyCredentials)
        if credentials.client_id is None or credentials.client_secret is None:
            return None
        return ClientCredentialsAuth(
            credentials.client_id, credentials.client_secret, tokens or MemoryTokens()
        )

    def webhook_secrets(self, credentials: Mapping[str, Any]) -> list[str]:
        """A Dev Dashboard app signs with its client secret; an admin-created app with the
        secret entered as ``webhook_secret``; then those kept during a rotation."""
        secrets = super().webhook_secrets(credentials)
        client_secret = credentials.get("client_secret")
        if isinstance(client_secret, str) and client_secret and client_secret not in secrets:
            secrets.insert(0, client_secret)
        return secrets

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
        count = _connection(data, "ordersCount").get("count")
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
            connection = _connection(run_query(client, ORDERS_QUERY, variables), "orders")
            nodes = [node for node in connection.get("nodes") or [] if isinstance(node, Mapping)]
            yield OrderPage([self._complete(client, node) for node in nodes])
            paginator.follow(connection.get("pageInfo"))

    def _complete(self, client: StoreClient, node: Mapping[str, Any]) -> dict[str, Any]:
        """The REST order of ``node``, its lines beyond the first page read on."""
        order = rest_order(node)
        lines = _connection(node, "lineItems")
        more = EndCursorPaginator()
        more.follow(lines.get("pageInfo"))
        while not more.finished:
            data = run_query(
                client, ORDER_LINES_QUERY, {"id": node.get("id"), "after": more.current}
            )
            page = _connection(_connection(data, "order"), "lineItems")
            order["line_items"] += rest_lines(page)
            more.follow(page.get("pageInfo"))
        return order

    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        return _utc(raw, "updated_at")

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
        installation = _connection(data, "currentAppInstallation")
        scopes = installation.get("accessScopes")
        if not isinstance(scopes, list):
            raise StoreDataError("the answer has no accessScopes list", store_answer=str(data))
        return {str(scope.get("handle")) for scope in scopes if isinstance(scope, Mapping)}

    def register_webhooks(
        self, client: StoreClient, delivery_url: str, credentials: Credentials
    ) -> None:
        """Subscribes the order and checkout topics that do not point here yet
        (``webhookSubscriptions`` filtered by ``uri`` and topic, then
        ``webhookSubscriptionCreate`` for each one missing).

        Shopify signs every delivery with the app's client secret (``client_secret``, or
        ``webhook_secret`` for an admin-created app); without it no delivery could be verified,
        so nothing is subscribed (polling still imports every order).
        """
        assert isinstance(credentials, ShopifyCredentials)
        if not (credentials.client_secret or credentials.webhook_secret):
            return
        wanted = {_topic_enum(topic): topic for topic in _REGISTERED_TOPICS}
        data = run_query(
            client, WEBHOOK_SUBSCRIPTIONS_QUERY, {"uri": delivery_url, "topics": list(wanted)}
        )
        present = {
            hook.get("topic")
            for hook in _connection(data, "webhookSubscriptions").get("nodes") or []
            if isinstance(hook, Mapping) and hook.get("uri") == delivery_url
        }
        for topic in (enum for enum in wanted if enum not in present):
            answer = run_query(
                client, WEBHOOK_SUBSCRIPTION_CREATE, {"topic": topic, "uri": delivery_url}
            )
            errors = _connection(answer, "webhookSubscriptionCreate").get("userErrors") or []
            messages = "; ".join(str(e.get("message")) for e in errors if isinstance(e, Mapping))
            # Subscribed meanwhile (another process connecting the same store): as wanted.
            if messages and "already been taken" not in messages:
                raise StoreError(
                    f"Shopify refused the {wanted[topic]} webhook subscription: {messages}",
                    store_answer=str(answer),
                )

    def check_webhook(
        self,
        secrets: Sequence[str],
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> WebhookCheck:
        """Verifies a delivery against every current secret."""
        signature = _header(headers, "hmac-sha256")
        if not signature:
            reason = "missing X-Shopify-Hmac-Sha256 header"
        elif not secrets:
            reason = "no webhook secret is configured for this integration"
        elif not signature_matches([hmac_sha256_base64(s, body) for s in secrets], signature):
            reason = "signature does not match the webhook secret"
        else:
            return WebhookCheck(
                WebhookVerdict.ACCEPTED,
                topic=_header(headers, "topic"),
                # The event id is shared by every delivery of one event (retries, several
                # subscriptions); older deliveries carry only the webhook id.
                delivery_id=_header(headers, "event-id") or _header(headers, "webhook-id") or None,
            )
        return WebhookCheck(WebhookVerdict.REJECTED, reason=reason)

    def orders_from_webhook(self, topic: str, payload: Any) -> list[Order]:
        """The order an order webhook carries.

        ``refunds/create`` carries a refund, not its order: ``order_ids_from_webhook`` names
        the order for fetching (``orders/updated`` brings it too, where subscribed). Other topics
        (``orders/delete``, checkouts, customers...) carry no order.
        """
        if topic not in _ORDER_TOPICS:
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
        if topic not in _CHECKOUT_TOPICS:
            return []
        if not isinstance(payload, Mapping):
            raise ValueError("payload: expected a Shopify checkout object")
        draft = _started_checkout(payload)
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
        customer = fields.mapping(raw, "customer")
        billing = fields.mapping(raw, "billing_address")
        updated_at = _utc(raw, "updated_at")
        customer_id = fields.optional_integer(customer, "id", "customer.")
        return Order(
            platform_order_id=str(fields.integer(raw, "id")),
            number=fields.optional_text(raw, "name") or fields.text(raw, "order_number"),
            created_at=_utc(raw, "created_at"),
            updated_at=updated_at,
            raw_status=fields.text(raw, "financial_status"),
            total=fields.money(raw, "total_price"),
            currency=fields.text(raw, "currency"),
            email=(
                fields.optional_text(raw, "email")
                or fields.optional_text(raw, "contact_email")
                or fields.optional_text(customer, "email")
            ),
            phone=fields.optional_text(raw, "phone"),
            first_name=fields.optional_text(customer, "first_name")
            or fields.optional_text(billing, "first_name"),
            last_name=fields.optional_text(customer, "last_name")
            or fields.optional_text(billing, "last_name"),
            line_items=tuple(
                _line_item(item, f"line_items[{index}].")
                for index, item in enumerate(fields.object_list(raw, "line_items", required=True))
            ),
            discount_codes=tuple(
                fields.text(code, "code", f"discount_codes[{index}].")
                for index, code in enumerate(fields.object_list(raw, "discount_codes"))
            ),
            discount_total=fields.money(raw, "total_discounts", default=Decimal(0)),
            refunded_total=_refunded_total(raw),
            billing_address=_address(billing),
            shipping_address=_address(fields.mapping(raw, "shipping_address")),
            accepts_marketing=_accepts_marketing(raw, customer),
            # Test orders (Bogus Gateway, test mode) are kept, and marked for the metrics to skip.
            is_test=raw.get("test") is True,
            cancelled_at=_optional_utc(raw, "cancelled_at"),
            fulfilled_at=_fulfilled_at(raw, updated_at),
            customer_id=str(customer_id) if customer_id is not None else None,
        )


def _topic_enum(topic: str) -> str:
    # GraphQL's WebhookSubscriptionTopic spells REST's orders/create as ORDERS_CREATE.
    return topic.replace("/", "_").upper()


def _header(headers: Mapping[str, str], name: str) -> str:
    # Event-style deliveries drop the X-Shopify- prefix (`shopify-hmac-sha256`).
    value = headers.get(f"x-shopify-{name}") or headers.get(f"shopify-{name}") or ""
    return value.strip()


def _connection(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise StoreDataError(f"the GraphQL answer has no {key!r} object", store_answer=str(data))
    return value


def _started_checkout(raw: Mapping[str, Any]) -> EventDraft | None:
    """Started Checkout for one abandoned-checkout payload, or None when there is no one to
    record it for or nothing left to recover."""
    if raw.get("completed_at") is not None:
        # The checkout became an order, which Placed Order records; a Started Checkout now would
        # start an abandoned-checkout flow for a buyer who has just bought.
        return None
    customer = fields.mapping(raw, "customer")
    billing = fields.mapping(raw, "billing_address")
    person = Person(
        email=_identifier(
            normalize_email,
            fields.optional_text(raw, "email") or fields.optional_text(customer, "email"),
        ),
        phone_number=_identifier(
            normalize_phone,
            fields.optional_text(raw, "phone")
            or fields.optional_text(raw, "sms_marketing_phone")
            or fields.optional_text(customer, "phone"),
        ),
        first_name=fields.optional_text(customer, "first_name")
        or fields.optional_text(billing, "first_name"),
        last_name=fields.optional_text(customer, "last_name")
        or fields.optional_text(billing, "last_name"),
    )
    if not person.identified:
        # Checkouts exist from the first step, before the buyer has typed an email or phone
        # (Klaviyo's Shopify integration too waits for the contact): no profile to name yet.
        return None
    items = fields.object_list(raw, "line_items")
    lines = [_checkout_line(item, f"line_items[{index}].") for index, item in enumerate(items)]
    token = fields.text(raw, "token")
    return EventDraft(
        metric=Metric.STARTED_CHECKOUT,
        person=person,
        time=_optional_utc(raw, "updated_at") or _utc(raw, "created_at"),
        # Klaviyo's guide makes Started Checkout's $event_id the cart id plus a time, so that it
        # can fire again for the same cart. Shopify sends checkouts/update at every step of one
        # checkout (contact, address, shipping rate...), where a time would start the abandoned
        # checkout flow once per step; the cart's contents instead keep one event per cart the
        # buyer built: repeated and step-only deliveries dedupe, a changed cart records anew.
        unique_id=f"{token}-{_cart_digest(items)}",
        properties={
            "CheckoutURL": fields.optional_text(raw, "abandoned_checkout_url"),
            "ItemNames": [line.name for line in lines],
            # Checkout lines carry neither product types nor collections.
            "Categories": [],
            "Brands": list(dict.fromkeys(line.brand for line in lines if line.brand)),
            "DiscountCode": ", ".join(
                fields.text(code, "code", f"discount_codes[{index}].")
                for index, code in enumerate(fields.object_list(raw, "discount_codes"))
            )
            or None,
            "DiscountValue": float(fields.money(raw, "total_discounts", default=Decimal(0))),
            "Items": [_checkout_item(line) for line in lines],
        },
        value=fields.money(raw, "total_price"),
        value_currency=fields.optional_text(raw, "currency"),
    )


def _checkout_line(item: Mapping[str, Any], path: str) -> LineItem:
    price = fields.money(item, "price", path)
    quantity = fields.integer(item, "quantity", path)
    discount = sum(
        (
            fields.money(allocation, "amount", f"{path}discount_allocations[{index}].")
            for index, allocation in enumerate(
                fields.object_list(item, "discount_allocations", path=path)
            )
        ),
        Decimal(0),
    )
    title = fields.text(item, "title", path)
    variant = fields.optional_text(item, "variant_title")
    return LineItem(
        line_id=fields.optional_text(item, "key") or str(fields.present(item, "variant_id", path)),
        # As an order line's `name` writes it: "IPod Nano - 8GB - Red".
        name=f"{title} - {variant}" if variant else title,
        quantity=quantity,
        item_price=price,
        row_total=price * quantity - discount,
        # The 2025-01 checkout writes its ids as strings, webhooks of older versions as numbers.
        product_id=fields.optional_text(item, "product_id"),
        sku=fields.optional_text(item, "sku"),
        brand=fields.optional_text(item, "vendor"),
    )


def _checkout_item(line: LineItem) -> dict[str, Any]:
    # Klaviyo's Started Checkout item, spelt as Placed Order's `Items` (money as JSON numbers).
    return {
        "ProductID": line.product_id,
        "SKU": line.sku,
        "ProductName": line.name,
        "Quantity": line.quantity,
        "ItemPrice": float(line.item_price),
        "RowTotal": float(line.row_total),
        # Checkout lines carry no product handle or image.
        "ProductURL": None,
        "ImageURL": None,
        "Categories": [],
        "Brand": line.brand,
    }


def _cart_digest(items: Sequence[Mapping[str, Any]]) -> str:
    """A short fingerprint of what is in a cart: its variants, quantities and prices."""
    parts = sorted(
        "/".join(str(item.get(key)) for key in ("variant_id", "product_id", "sku", "title"))
        + f"*{item.get('quantity')}@{item.get('price')}"
        for item in items
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _identifier(normalize: Callable[[str | None], str | None], value: str | None) -> str | None:
    # Checkout forms accept what identifies no one (a phone without its country code).
    try:
        return normalize(value)
    except InvalidIdentifierError:
        return None


def _accepts_marketing(raw: Mapping[str, Any], customer: Mapping[str, Any]) -> bool | None:
    # The checkout box, or the customer's standing email consent (which the box may predate).
    buyer = raw.get("buyer_accepts_marketing")
    consent = customer.get("email_marketing_consent")
    state = consent.get("state") if isinstance(consent, Mapping) else None
    if buyer is True or state == "subscribed":
        return True
    if isinstance(buyer, bool) or isinstance(state, str):
        return False
    return None


def _refunded_total(raw: Mapping[str, Any]) -> Decimal:
    # What went back to the buyer: successful refund transactions (a refund that only restocks
    # has none; a failed or pending transaction moved no money).
    total = Decimal(0)
    for index, refund in enumerate(fields.object_list(raw, "refunds")):
        path = f"refunds[{index}]."
        for number, transaction in enumerate(fields.object_list(refund, "transactions", path=path)):
            if transaction.get("kind") == "refund" and transaction.get("status") == "success":
                total += fields.money(transaction, "amount", f"{path}transactions[{number}].")
    return total


def _fulfilled_at(raw: Mapping[str, Any], updated_at: datetime) -> datetime | None:
    if raw.get("fulfillment_status") != "fulfilled":
        return None
    shipped = [
        _utc(fulfillment, "created_at", f"fulfillments[{index}].")
        for index, fulfillment in enumerate(fields.object_list(raw, "fulfillments"))
        if fulfillment.get("status") not in _FAILED_FULFILLMENTS
        and fulfillment.get("created_at") is not None
    ]
    # Without its fulfilments (trimmed by include_fields) the order's change is the best time.
    return max(shipped, default=updated_at)


def _line_item(item: Mapping[str, Any], path: str) -> LineItem:
    price = fields.money(item, "price", path)
    quantity = fields.integer(item, "quantity", path)
    allocations = fields.object_list(item, "discount_allocations", path=path)
    if allocations:
        discount = sum(
            (
                fields.money(allocation, "amount", f"{path}discount_allocations[{index}].")
                for index, allocation in enumerate(allocations)
            ),
            Decimal(0),
        )
    else:
        # Payloads without allocations (older versions) carry the line's discount in one sum.
        discount = fields.money(item, "total_discount", path, default=Decimal(0))
    product_id = fields.optional_integer(item, "product_id", path)
    return LineItem(
        line_id=str(fields.integer(item, "id", path)),
        # `name` is the title with the variant's ("IPod Nano - 8gb - green"), as shown at checkout.
        name=fields.optional_text(item, "name") or fields.text(item, "title", path),
        quantity=quantity,
        item_price=price,
        row_total=price * quantity - discount,
        # Custom (non-catalogue) lines have no product, variant or SKU.
        product_id=str(product_id) if product_id is not None else None,
        sku=fields.optional_text(item, "sku"),
        # The product's vendor is the brand Klaviyo's `Brands` lists.
        brand=fields.optional_text(item, "vendor"),
    )


def _address(raw: Mapping[str, Any]) -> Address | None:
    address = Address(
        first_name=fields.optional_text(raw, "first_name"),
        last_name=fields.optional_text(raw, "last_name"),
        company=fields.optional_text(raw, "company"),
        address1=fields.optional_text(raw, "address1"),
        address2=fields.optional_text(raw, "address2"),
        city=fields.optional_text(raw, "city"),
        region=fields.optional_text(raw, "province"),
        region_code=fields.optional_text(raw, "province_code"),
        country=fields.optional_text(raw, "country"),
        country_code=fields.optional_text(raw, "country_code"),
        zip=fields.optional_text(raw, "zip"),
        phone=fields.optional_text(raw, "phone"),
    )
    return None if address == Address() else address


def _utc(raw: Mapping[str, Any], key: str, path: str = "") -> datetime:
    value = fields.present(raw, key, path)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    # Shopify writes the shop's offset ("2008-01-10T11:00:00-05:00"); a time without one names
    # no instant.
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"{path}{key}: not an ISO 8601 date-time with an offset: {value!r}")
    return moment.astimezone(UTC)


def _optional_utc(raw: Mapping[str, Any], key: str) -> datetime | None:
    return None if raw.get(key) is None else _utc(raw, key)
