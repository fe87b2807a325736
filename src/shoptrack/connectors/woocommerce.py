"""WooCommerce: orders as the REST API ``wc/v3`` returns them, and signed webhook deliveries.

Order webhooks carry the same JSON as ``GET /wp-json/wc/v3/orders/{id}``, built at delivery
time, signed base64(HMAC-SHA256(secret, raw body)); ``order.deleted`` carries only ``{"id": N}``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import field_validator

from shoptrack.connectors.auth import OAuth1Auth
from shoptrack.connectors.base import (
    Connector,
    Credentials,
    WebhookCheck,
    WebhookVerdict,
    Window,
    hmac_sha256_base64,
    replace_origin,
    signature_matches,
)
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.paging import PageNumberPaginator
from shoptrack.domain.order import Address, LineItem, Order

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
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError("must be the store's address, e.g. https://shop.example.com")
        return value.rstrip("/")


_ORDERS_PATH = "/wp-json/wc/v3/orders"
_WEBHOOKS_PATH = "/wp-json/wc/v3/webhooks"
_REGISTERED_TOPICS = ("order.created", "order.updated")


def _gmt(moment: datetime) -> str:
    # With dates_are_gmt=true the API compares GMT times written without an offset.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WooCommerce(Connector):
    """The WooCommerce connector (REST API ``wc/v3``, core order statuses)."""

    platform: ClassVar[str] = "woocommerce"
    credentials_model: ClassVar[type[Credentials]] = WooCommerceCredentials
    page_size: ClassVar[int] = 100  # the API's maximum per_page

    def origin(self, credentials: Credentials) -> str:
        assert isinstance(credentials, WooCommerceCredentials)
        return replace_origin(credentials.store_url, credentials.api_base_url)

    def auth(self, credentials: Credentials) -> httpx.Auth:
        """HTTP Basic over https; over plain http WooCommerce accepts only OAuth 1.0a."""
        assert isinstance(credentials, WooCommerceCredentials)
        if self.origin(credentials).startswith("https://"):
            return httpx.BasicAuth(credentials.consumer_key, credentials.consumer_secret)
        return OAuth1Auth(credentials.consumer_key, credentials.consumer_secret)

    def check_credentials(self, client: StoreClient) -> None:
        client.get(_ORDERS_PATH, {"per_page": 1})

    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        return _ORDERS_PATH, {
            "modified_after": _gmt(window.since),
            "modified_before": _gmt(window.until),
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
        self, client: StoreClient, delivery_url: str, credentials: Credentials
    ) -> None:
        """Creates the order webhooks that do not point here yet (WooCommerce pings each new
        one, which intake answers 200)."""
        assert isinstance(credentials, WooCommerceCredentials)
        existing = client.get(_WEBHOOKS_PATH, {"per_page": 100}).json()
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

    def check_webhook(
        self, secrets: Sequence[str], headers: Mapping[str, str], body: bytes
    ) -> WebhookCheck:
        """Verifies a delivery against every current secret; recognises the creation ping."""
        signature = headers.get("x-wc-webhook-signature", "").strip()
        if not signature:
            if _PING_BODY.fullmatch(body.strip()):
                return WebhookCheck(WebhookVerdict.PING)
            reason = "missing X-WC-Webhook-Signature header"
        elif not secrets:
            reason = "no webhook secret is configured for this integration"
        elif not signature_matches([hmac_sha256_base64(s, body) for s in secrets], signature):
            reason = "signature does not match the webhook secret"
        else:
            return WebhookCheck(
                WebhookVerdict.ACCEPTED,
                topic=headers.get("x-wc-webhook-topic", "").strip(),
                delivery_id=headers.get("x-wc-webhook-delivery-id", "").strip() or None,
            )
        return WebhookCheck(WebhookVerdict.REJECTED, reason=reason)

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

    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one ``wc/v3`` order; ``ValueError`` names the first field that cannot be read."""
        order_id = _integer(raw, "id")
        billing = _mapping(raw, "billing")
        customer_id = _integer(raw, "customer_id") if raw.get("customer_id") is not None else 0
        return Order(
            platform_order_id=str(order_id),
            number=_text(raw, "number"),
            created_at=_utc(raw, "date_created_gmt"),
            updated_at=_utc(raw, "date_modified_gmt"),
            raw_status=_text(raw, "status"),
            total=_money(raw, "total"),
            currency=_text(raw, "currency"),
            email=_optional_text(billing, "email"),
            phone=_optional_text(billing, "phone"),
            first_name=_optional_text(billing, "first_name"),
            last_name=_optional_text(billing, "last_name"),
            line_items=tuple(
                _line_item(item, f"line_items[{index}].")
                for index, item in enumerate(_list(raw, "line_items", required=True))
            ),
            discount_codes=tuple(
                _text(coupon, "code", f"coupon_lines[{index}].")
                for index, coupon in enumerate(_list(raw, "coupon_lines"))
            ),
            discount_total=_money(raw, "discount_total", default=Decimal(0)),
            refunded_total=_refunded_total(raw),
            billing_address=_address(billing),
            shipping_address=_address(_mapping(raw, "shipping")),
            # Core WooCommerce records no marketing consent and has no test orders.
            accepts_marketing=None,
            is_test=False,
            customer_id=str(customer_id) if customer_id else None,
        )


def _refunded_total(raw: Mapping[str, Any]) -> Decimal:
    # The API writes each refund's total as a negative amount ("-5.00").
    refunds = _list(raw, "refunds")
    return sum(
        (
            abs(_money(refund, "total", f"refunds[{index}]."))
            for index, refund in enumerate(refunds)
        ),
        Decimal(0),
    )


def _line_item(item: Mapping[str, Any], path: str) -> LineItem:
    row_total = _money(item, "total", path)
    # `price` is PHP's float total / quantity (0.30 / 3 -> 0.09999999999999999): read it through
    # str(), never Decimal(float), and round it to the decimals the store writes totals with.
    try:
        price = _money(item, "price", path).quantize(row_total, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"{path}price: out of range: {item['price']!r}") from None
    # A variation's line names the parent product (what catalogues and Viewed Product use) and
    # the variation's own SKU; product_id 0 means the product was deleted since.
    product_id = _integer(item, "product_id", path) if item.get("product_id") is not None else 0
    image = item.get("image")
    image_url = _optional_text(image, "src") if isinstance(image, Mapping) else None
    return LineItem(
        line_id=str(_integer(item, "id", path)),
        # Names come as WordPress stores them, with entities (`Hoodie &ndash; Blue`).
        name=html.unescape(_text(item, "name", path)),
        quantity=_integer(item, "quantity", path),
        item_price=price,
        row_total=row_total,
        product_id=str(product_id) if product_id else None,
        sku=_optional_text(item, "sku"),
        image_url=image_url,
    )


def _address(fields: Mapping[str, Any]) -> Address | None:
    address = Address(
        first_name=_optional_text(fields, "first_name"),
        last_name=_optional_text(fields, "last_name"),
        company=_optional_text(fields, "company"),
        address1=_optional_text(fields, "address_1"),
        address2=_optional_text(fields, "address_2"),
        city=_optional_text(fields, "city"),
        # WooCommerce writes the state's code (or a free-text name where the country has no list)
        # and the ISO 3166-1 alpha-2 country code, never their display names.
        region_code=_optional_text(fields, "state"),
        country_code=_optional_text(fields, "country"),
        zip=_optional_text(fields, "postcode"),
        phone=_optional_text(fields, "phone"),
    )
    return None if address == Address() else address


def _present(raw: Mapping[str, Any], key: str, path: str) -> Any:
    value = raw.get(key)
    if value is None:
        raise ValueError(f"{path}{key}: missing")
    return value


def _text(raw: Mapping[str, Any], key: str, path: str = "") -> str:
    value = _present(raw, key, path)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{path}{key}: expected a string, got {value!r}")
    text = str(value).strip()
    if not text:
        raise ValueError(f"{path}{key}: empty")
    return text


def _optional_text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _integer(raw: Mapping[str, Any], key: str, path: str = "") -> int:
    value = _present(raw, key, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{path}{key}: expected a non-negative integer, got {value!r}")
    return value


def _money(
    raw: Mapping[str, Any], key: str, path: str = "", *, default: Decimal | None = None
) -> Decimal:
    if default is not None and raw.get(key) is None:
        return default
    value = _present(raw, key, path)
    try:
        # str() first: amounts are decimal strings, but `price` is a JSON number.
        amount = Decimal(str(value).strip()) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ValueError(f"{path}{key}: not a decimal amount: {value!r}")
    return amount


def _utc(raw: Mapping[str, Any], key: str) -> datetime:
    # Only the `_gmt` fields are used: the API writes their twins (`date_created`...) from the same
    # moment in the site's timezone without an offset, which nothing in the order reveals.
    value = _present(raw, key, "")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"{key}: not an ISO 8601 date-time: {value!r}")
    # The API writes GMT without an offset ("2017-03-22T19:28:02").
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _mapping(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key) or {}  # PHP encodes an empty array as [], even for an object
    if not isinstance(value, Mapping):
        raise ValueError(f"{key}: expected an object, got {value!r}")
    return value


def _list(raw: Mapping[str, Any], key: str, *, required: bool = False) -> list[Mapping[str, Any]]:
    value = _present(raw, key, "") if required else raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError(f"{key}: expected a list of objects")
    return value
