"""WooCommerce: orders as the REST API ``wc/v3`` returns them, and signed webhook deliveries.

Order webhooks carry the same JSON as ``GET /wp-json/wc/v3/orders/{id}``, built at delivery
time, signed base64(HMAC-SHA256(secret, raw body)); ``order.deleted`` carries only ``{"id": N}``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
from pydantic import field_validator

from shoptrack.connectors import fields
from shoptrack.connectors.auth import OAuth1Auth
from shoptrack.connectors.base import (
    Credentials,
    ProbeOrder,
    RestConnector,
    WebhookCheck,
    WebhookHealth,
    WebhookRequest,
    WebhookVerdict,
    Window,
    created_id,
    hmac_refusal,
    replace_origin,
    store_address,
)
from shoptrack.connectors.errors import StoreDataError
from shoptrack.connectors.http import StoreClient, read_json
from shoptrack.connectors.paging import PageNumberPaginator
from shoptrack.domain.order import Address, LineItem, Order
from shoptrack.domain.status import StatusRules, StatusSet, status_rules

__all__ = ["WooCommerce", "WooCommerceCredentials"]

# Topics whose payload is the whole order; `order.deleted` carries only the id.
_ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
# WC_Webhook::deliver_ping(): POST body `webhook_id=<id>`, no X-WC-Webhook-* headers.
_PING_BODY = re.compile(rb"webhook_id=\d+")


class WooCommerceCredentials(Credentials):
    """A WooCommerce REST API key pair (WooCommerce > Settings > Advanced > REST API)."""

    store_url: str
    consumer_key: str
    consumer_secret: str
    webhook_secret: str | None = None
    previous_webhook_secrets: tuple[str, ...] = ()

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str) -> str:
        store_address(value)
        return value.rstrip("/")


_ORDERS_PATH = "/wp-json/wc/v3/orders"
_WEBHOOKS_PATH = "/wp-json/wc/v3/webhooks"
_REGISTERED_TOPICS = ("order.created", "order.updated")


def _webhooks(response: httpx.Response) -> list[Any]:
    """The store's webhooks, as ``GET /wc/v3/webhooks`` lists them."""
    listed = read_json(response, "the webhooks list")
    if not isinstance(listed, list):
        raise StoreDataError("the webhooks list is not a list", store_answer=response.text)
    return listed


def _gmt(moment: datetime) -> str:
    # With dates_are_gmt=true the API compares GMT times written without an offset.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WooCommerce(RestConnector[WooCommerceCredentials]):
    """The WooCommerce connector (REST API ``wc/v3``, core order statuses)."""

    platform: ClassVar[str] = "woocommerce"
    credentials_model = WooCommerceCredentials
    display_name: ClassVar[str] = "WooCommerce"
    default_rules: ClassVar[StatusRules] = status_rules(
        StatusSet.including(["processing"]),
        fulfilled=["completed"],
        cancelled=["cancelled"],
        refunded=["refunded"],
    )
    webhook_secret_fields: ClassVar[tuple[str, ...]] = ("webhook_secret",)
    previous_webhook_secrets_field: ClassVar[str | None] = "previous_webhook_secrets"
    origin_field: ClassVar[str] = "store_url"
    page_size: ClassVar[int] = 100  # the API's maximum per_page
    chooses_webhook_secret: ClassVar[bool] = True  # sent as the webhook's `secret` on creation
    # wc_get_order_statuses() without the "wc-" prefix, and the block checkout's draft.
    status_labels: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "pending": "Pending payment",
            "processing": "Processing",
            "on-hold": "On hold",
            "completed": "Completed",
            "cancelled": "Cancelled",
            "refunded": "Refunded",
            "failed": "Failed",
            "checkout-draft": "Draft",
        }
    )

    def origin(self, credentials: WooCommerceCredentials) -> str:
        return replace_origin(credentials.store_url, credentials.api_base_url)

    def auth(self, credentials: WooCommerceCredentials) -> httpx.Auth:
        """HTTP Basic over https; over plain http WooCommerce accepts only OAuth 1.0a."""
        if self.origin(credentials).startswith("https://"):
            return httpx.BasicAuth(credentials.consumer_key, credentials.consumer_secret)
        return OAuth1Auth(credentials.consumer_key, credentials.consumer_secret)

    def check_credentials(self, client: StoreClient) -> None:
        read_json(client.get(_ORDERS_PATH, {"per_page": 1}), "the orders list")

    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        return _ORDERS_PATH, {
            "modified_after": _gmt(window.since),
            # Exclusive, against whole seconds: rounded down, the end would leave out an order
            # modified in the window's last second — one a sync started right after missed.
            "modified_before": _gmt(window.until_whole_second),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": self.page_size,
            "page": token,
            "status": "any",
        }

    def paginator(self) -> PageNumberPaginator:
        return PageNumberPaginator(self.page_size, total_pages_header="x-wp-totalpages")

    def total(self, response: httpx.Response) -> int | None:
        value = response.headers.get("x-wp-total", "")
        return int(value) if value.isdigit() else None

    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        return _utc(raw, "date_modified_gmt")

    def register_webhooks(
        self, client: StoreClient, delivery_url: str, credentials: WooCommerceCredentials
    ) -> None:
        """Creates the order webhooks that do not point here yet (WooCommerce pings each new
        one, which intake answers 200)."""
        existing = _webhooks(client.get(_WEBHOOKS_PATH, {"per_page": 100}))
        present = {
            (hook.get("topic"), hook.get("delivery_url"))
            for hook in existing
            if isinstance(hook, Mapping) and hook.get("status") == "active"
        }
        for topic in _REGISTERED_TOPICS:
            if (topic, delivery_url) not in present:
                client.request(
                    "POST",
                    _WEBHOOKS_PATH,
                    json={
                        "name": f"shoptrack {topic}",
                        "topic": topic,
                        "delivery_url": delivery_url,
                        "secret": credentials.webhook_secret,
                        "status": "active",
                    },
                )

    def webhook_health(self, client: StoreClient, delivery_url: str) -> WebhookHealth:
        """The order webhooks delivering to ``delivery_url``, as ``GET /wc/v3/webhooks`` lists
        them (every status): topics with no active one, and the ones WooCommerce disabled."""
        listed = _webhooks(client.get(_WEBHOOKS_PATH, {"per_page": 100, "status": "all"}))
        ours = [
            hook
            for hook in listed
            if isinstance(hook, Mapping) and hook.get("delivery_url") == delivery_url
        ]
        active = {hook.get("topic") for hook in ours if hook.get("status") == "active"}
        return WebhookHealth(
            expected_topics=_REGISTERED_TOPICS,
            missing_topics=tuple(
                topic
                for topic in _REGISTERED_TOPICS
                if topic not in active and not any(hook.get("topic") == topic for hook in ours)
            ),
            disabled=tuple(
                {"id": hook.get("id"), "topic": hook.get("topic"), "status": hook.get("status")}
                for hook in ours
                if hook.get("status") != "active"
                and hook.get("topic") in _REGISTERED_TOPICS
                and hook.get("topic") not in active
            ),
        )

    def verify_webhook(self, request: WebhookRequest) -> WebhookCheck:
        """Verifies a delivery against every current secret; recognises the creation ping."""
        headers, body = request.headers, request.body
        signature = headers.get("x-wc-webhook-signature", "").strip()
        if not signature and _PING_BODY.fullmatch(body.strip()):
            return WebhookCheck(WebhookVerdict.PING)
        reason = hmac_refusal(request.secrets, body, signature, "X-WC-Webhook-Signature")
        if reason is not None:
            # The topic it claims, as it came (kept with the refused delivery for the doctor).
            claimed = headers.get("x-wc-webhook-topic", "")[:64]
            return WebhookCheck(WebhookVerdict.REJECTED, topic=claimed, reason=reason)
        return WebhookCheck(
            WebhookVerdict.ACCEPTED,
            topic=headers.get("x-wc-webhook-topic", "").strip(),
            delivery_id=headers.get("x-wc-webhook-delivery-id", "").strip() or None,
        )

    def orders_from_webhook(self, topic: str, payload: Any) -> list[Order]:
        """The order an order webhook carries; deletions and other topics carry none."""
        if topic not in _ORDER_TOPICS:
            return []
        if not isinstance(payload, Mapping):
            raise ValueError("payload: expected a WooCommerce order object")
        if "id" not in payload and isinstance(payload.get("order"), Mapping):
            # Webhooks left on the Legacy REST API (removed from core in 9.0) wrap another schema.
            raise ValueError(
                "payload: a Legacy REST API webhook payload; set the webhook's API version to"
                " WP REST API Integration v3"
            )
        return [self.to_order(payload)]

    def place_test_order(self, client: StoreClient, order: ProbeOrder) -> str | None:
        """``POST orders`` with ``set_paid`` (``processing``, as a paid checkout). WooCommerce
        orders have no test flag: the payment method's title, the note and a meta entry say
        what it is."""
        price = f"{order.price:.2f}"
        response = client.request(
            "POST",
            _ORDERS_PATH,
            json={
                "payment_method": "shoptrack_test",
                "payment_method_title": "shoptrack test order (no payment taken)",
                "set_paid": True,
                "billing": {
                    "first_name": order.first_name,
                    "last_name": order.last_name,
                    "email": order.email,
                },
                "line_items": [
                    {"name": order.product_name, "quantity": 1, "subtotal": price, "total": price}
                ],
                "customer_note": order.note,
                "meta_data": [{"key": "_shoptrack_test_order", "value": "yes"}],
            },
        )
        return created_id(response, "id")

    def cancel_test_order(self, client: StoreClient, order_id: str) -> str:
        """``PUT orders/{id}`` to ``cancelled`` (no money moved: nothing to refund)."""
        client.request("PUT", f"{_ORDERS_PATH}/{order_id}", json={"status": "cancelled"})
        return "cancelled on the store"

    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one ``wc/v3`` order; ``ValueError`` names the first field that cannot be read."""
        order_id = fields.integer(raw, "id")
        billing = fields.mapping(raw, "billing")
        customer_id = fields.optional_integer(raw, "customer_id") or 0
        return Order(
            platform_order_id=str(order_id),
            number=fields.text(raw, "number"),
            created_at=_utc(raw, "date_created_gmt"),
            updated_at=_utc(raw, "date_modified_gmt"),
            raw_status=fields.text(raw, "status"),
            total=fields.money(raw, "total"),
            currency=fields.text(raw, "currency"),
            email=fields.optional_text(billing, "email"),
            phone=fields.optional_text(billing, "phone"),
            first_name=fields.optional_text(billing, "first_name"),
            last_name=fields.optional_text(billing, "last_name"),
            line_items=fields.each(raw, "line_items", _line_item, required=True),
            discount_codes=fields.each(
                raw, "coupon_lines", lambda coupon, path: fields.text(coupon, "code", path)
            ),
            discount_total=fields.money(raw, "discount_total", default=Decimal(0)),
            refunded_total=_refunded_total(raw),
            billing_address=_address(billing),
            shipping_address=_address(fields.mapping(raw, "shipping")),
            # Core WooCommerce records no marketing consent and has no test orders.
            accepts_marketing=None,
            is_test=False,
            customer_id=str(customer_id) if customer_id else None,
        )


def _refunded_total(raw: Mapping[str, Any]) -> Decimal:
    # The API writes each refund's total as a negative amount ("-5.00").
    refunds = fields.object_list(raw, "refunds")
    return sum(
        (
            abs(fields.money(refund, "total", f"refunds[{index}]."))
            for index, refund in enumerate(refunds)
        ),
        Decimal(0),
    )


def _line_item(item: Mapping[str, Any], path: str) -> LineItem:
    row_total = fields.money(item, "total", path)
    # `price` is PHP's float total / quantity (0.30 / 3 -> 0.09999999999999999): read it through
    # str(), never Decimal(float), and round it to the decimals the store writes totals with.
    try:
        price = fields.money(item, "price", path).quantize(row_total, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"{path}price: out of range: {item['price']!r}") from None
    # A variation's line names the parent product (what catalogues and Viewed Product use) and
    # the variation's own SKU; product_id 0 means the product was deleted since.
    product_id = fields.optional_integer(item, "product_id", path) or 0
    image = item.get("image")
    image_url = fields.optional_text(image, "src") if isinstance(image, Mapping) else None
    return LineItem(
        line_id=str(fields.integer(item, "id", path)),
        # Names come as WordPress stores them, with entities (`Hoodie &ndash; Blue`).
        name=html.unescape(fields.text(item, "name", path)),
        quantity=fields.integer(item, "quantity", path),
        item_price=price,
        row_total=row_total,
        product_id=str(product_id) if product_id else None,
        sku=fields.optional_text(item, "sku"),
        image_url=image_url,
    )


def _address(raw: Mapping[str, Any]) -> Address | None:
    # WooCommerce writes the state's code (or a free-text name where the country has no list)
    # and the ISO 3166-1 alpha-2 country code, never their display names.
    return fields.address(
        raw,
        address1="address_1",
        address2="address_2",
        region_code="state",
        country_code="country",
        country=None,
        zip="postcode",
    )


def _utc(raw: Mapping[str, Any], key: str) -> datetime:
    # Only the `_gmt` fields are used: the API writes their twins (`date_created`...) from the same
    # moment in the site's timezone without an offset, which nothing in the order reveals.
    # The API writes GMT without an offset ("2017-03-22T19:28:02").
    return fields.utc_time(raw, key, datetime.fromisoformat, "an ISO 8601 date-time")
