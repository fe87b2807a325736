"""BigCommerce: orders as the v2 Orders API returns them, and Standard Webhooks deliveries.

Order webhooks carry only the order's id (``{"scope": "store/order/updated", "data": {"type":
"order", "id": 250}, "hash": ..., ...}``): intake verifies them, ``order_ids_from_webhook`` names
the orders to fetch, and the order is read through the API like a polled one. Deliveries are
signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``)
with the app's client secret. ``webhook-id`` is the delivery id; the payload's ``hash`` (SHA-1 of
the event data) is the same for every event with the same data: a re-sent duplicate, but also
two ``store/order/updated`` events of one order, so it cannot tell a repeat from a new change.

Orders list without their lines: ``GET /v2/orders/{id}/products`` holds them (and
``/coupons`` the discount codes). ``order_pages`` and ``fetch_order`` put ``products`` into every
raw order they return, and ``coupons`` where a coupon took something off, so that an order
polled and the same order fetched after a webhook map to the same ``Order``. Shipping addresses
stay a link (one more request per order for an address the billing one usually repeats).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import field_validator

from shoptrack.connectors import fields
from shoptrack.connectors.base import (
    Credentials,
    OrderPage,
    ProbeOrder,
    RestConnector,
    WebhookCheck,
    WebhookHealth,
    WebhookRequest,
    WebhookVerdict,
    Window,
    created_id,
    replace_origin,
    signature_matches,
)
from shoptrack.connectors.errors import StoreConfigError, StoreDataError
from shoptrack.connectors.http import StoreClient, read_json
from shoptrack.connectors.paging import PageNumberPaginator
from shoptrack.domain.order import Address, LineItem, Order
from shoptrack.domain.status import StatusRules, StatusSet, status_rules

__all__ = ["WEBHOOK_TOLERANCE", "BigCommerce", "BigCommerceCredentials"]

_API_ORIGIN = "https://api.bigcommerce.com"
_ORDERS_PATH = "/v2/orders"
_STORE_PATH = "/v2/store"
_HOOKS_PATH = "/v3/hooks"
# Sub-resource lists page like the orders: 50 by default, at most 250, a 204 past the end.
_SUB_PAGE = 250
# What register_webhooks subscribes. `updated` follows every change; the other three say which
# change it was, and cost nothing more: processing fetches an order once however many name it.
_REGISTERED_SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/refund/created",
)
_ALL_ORDER_SCOPES = "store/order/*"
# Scopes after which the order is fetched again; `store/order/archived` (a deletion) is not one.
_ORDER_SCOPES = frozenset(
    {
        "store/order/created",
        "store/order/updated",
        "store/order/statusUpdated",
        "store/order/refund/created",
    }
)
# The Standard Webhooks spec's tolerance for `webhook-timestamp`, both ways (replays, clocks).
WEBHOOK_TOLERANCE = timedelta(minutes=5)
# A Standard Webhooks secret may be written `whsec_<base64 key>`.
_WHSEC_PREFIX = "whsec_"
_STORE_HASH = re.compile(r"[a-z0-9]+")


class BigCommerceCredentials(Credentials):
    """A store-level API account or an app's token (Settings > API > Store-level API accounts).

    ``client_secret`` is the app's client secret, the key BigCommerce signs webhooks with;
    ``previous_client_secrets`` stay valid while the secret is being rotated.
    """

    store_hash: str
    access_token: str
    client_secret: str | None = None
    previous_client_secrets: tuple[str, ...] = ()

    @field_validator("store_hash")
    @classmethod
    def _store_hash(cls, value: str) -> str:
        # The hash goes into every path: letters and digits only (`abc123` in `stores/abc123`).
        if not _STORE_HASH.fullmatch(value):
            raise ValueError("must be the store hash, the letters and digits after /stores/")
        return value


def _rfc2822(moment: datetime) -> str:
    # As the API writes dates ("Wed, 05 Dec 2018 20:16:55 +0000"); it keeps whole seconds, so
    # the start is rounded down rather than skipping an order modified in its first second.
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


class BigCommerce(RestConnector[BigCommerceCredentials]):
    """The BigCommerce connector (Orders API v2, system order statuses 0-14)."""

    platform: ClassVar[str] = "bigcommerce"
    credentials_model = BigCommerceCredentials
    display_name: ClassVar[str] = "BigCommerce"
    # 0 Incomplete, 1 Pending, 7 Awaiting Payment are not placed yet.
    default_rules: ClassVar[StatusRules] = status_rules(
        StatusSet.excluding(["0", "1", "7"]),
        fulfilled=["2", "10"],
        cancelled=["5", "6"],
        refunded=["4"],
    )
    # The app's client secret signs the webhooks.
    webhook_secret_fields: ClassVar[tuple[str, ...]] = ("client_secret",)
    previous_webhook_secrets_field: ClassVar[str | None] = "previous_client_secrets"
    page_size: ClassVar[int] = 250  # the v2 maximum `limit`; more is a 413
    # The system status ids; merchants may relabel them, never add any.
    status_labels: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "0": "Incomplete",
            "1": "Pending",
            "2": "Shipped",
            "3": "Partially Shipped",
            "4": "Refunded",
            "5": "Cancelled",
            "6": "Declined",
            "7": "Awaiting Payment",
            "8": "Awaiting Pickup",
            "9": "Awaiting Shipment",
            "10": "Completed",
            "11": "Awaiting Fulfillment",
            "12": "Manual Verification Required",
            "13": "Disputed",
            "14": "Partially Refunded",
        }
    )

    def origin(self, credentials: BigCommerceCredentials) -> str:
        """The store's API root, ``https://api.bigcommerce.com/stores/{store_hash}``."""
        return replace_origin(
            f"{_API_ORIGIN}/stores/{credentials.store_hash}", credentials.api_base_url
        )

    def headers(self, credentials: BigCommerceCredentials) -> dict[str, str]:
        # The v2 spec marks `Accept` required; without it some paths answer 406.
        return {"X-Auth-Token": credentials.access_token, "Accept": "application/json"}

    def check_credentials(self, client: StoreClient) -> None:
        read_json(client.get(_STORE_PATH), "the store's information")

    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        return _ORDERS_PATH, {
            "min_date_modified": _rfc2822(window.since),
            # Whole seconds, and whether the API's bound is inclusive is not documented: rounded
            # up, an order modified in the window's last second is inside it either way.
            "max_date_modified": _rfc2822(window.until_whole_second),
            "sort": "date_modified:asc",
            "page": token,
            "limit": self.page_size,
        }

    def paginator(self) -> PageNumberPaginator:
        # v2 sends no page count: the end is a short page or a 204 (the base reads it as empty).
        return PageNumberPaginator(self.page_size)

    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        return _utc(raw, "date_modified")

    def order_pages(self, client: StoreClient, window: Window) -> Iterator[OrderPage]:
        """The pages of orders, each order with its ``products`` (and ``coupons``) in place.

        One request per order for its lines (two when a coupon was used), on top of one per
        page of 250: an order that disappears in between (archived: 404) is left out, and the
        next sync lists it again if it comes back.
        """
        for page in super().order_pages(client, window):
            records = [
                complete
                for raw in page.records
                if (complete := self._with_lines(client, raw)) is not None
            ]
            yield OrderPage(records, page.total)

    def fetch_order(self, client: StoreClient, order_id: str) -> dict[str, Any] | None:
        """``GET /v2/orders/{id}`` with its ``products`` (and ``coupons``), as polled; None when
        the store answers 404."""
        if not order_id.isdigit():
            raise ValueError(f"order id {order_id!r}: expected a BigCommerce order id")
        try:
            response = client.get(f"{_ORDERS_PATH}/{order_id}")
        except StoreConfigError as error:
            if error.store_status == 404:
                return None
            raise
        body = read_json(response, "the order")
        if not isinstance(body, dict):
            raise StoreDataError("the order is not an object", store_answer=response.text)
        return self._with_lines(client, body)

    def register_webhooks(
        self, client: StoreClient, delivery_url: str, credentials: BigCommerceCredentials
    ) -> None:
        """Subscribes the order scopes that no active hook sends to ``delivery_url`` yet, and
        switches back on the ones BigCommerce deactivated (after two days of failed deliveries,
        or 90 days without events). BigCommerce accepts only ``https`` URLs on port 443: it
        answers any other with a 422, which says so."""
        hooks = self._hooks(client, delivery_url)
        active = {hook.get("scope") for hook in hooks if hook.get("is_active") is True}
        for scope in _REGISTERED_SCOPES:
            if scope in active or _ALL_ORDER_SCOPES in active:
                continue
            inactive = [hook for hook in hooks if hook.get("scope") == scope]
            if inactive:
                client.request(
                    "PUT", f"{_HOOKS_PATH}/{inactive[0].get('id')}", json={"is_active": True}
                )
            else:
                client.request(
                    "POST",
                    _HOOKS_PATH,
                    json={"scope": scope, "destination": delivery_url, "is_active": True},
                )

    def webhook_health(self, client: StoreClient, delivery_url: str) -> WebhookHealth:
        """The order hooks sending to ``delivery_url``, as ``GET /v3/hooks`` lists them: scopes
        with none, and the ones BigCommerce deactivated."""
        hooks = self._hooks(client, delivery_url)
        active = {hook.get("scope") for hook in hooks if hook.get("is_active") is True}

        def covered(scope: Any) -> bool:
            return scope in active or _ALL_ORDER_SCOPES in active

        return WebhookHealth(
            expected_topics=_REGISTERED_SCOPES,
            missing_topics=tuple(
                scope
                for scope in _REGISTERED_SCOPES
                if not covered(scope) and not any(hook.get("scope") == scope for hook in hooks)
            ),
            disabled=tuple(
                {"id": hook.get("id"), "topic": hook.get("scope"), "status": "inactive"}
                for hook in hooks
                if hook.get("is_active") is not True
                and hook.get("scope") in _REGISTERED_SCOPES
                and not covered(hook.get("scope"))
            ),
        )

    def verify_webhook(self, request: WebhookRequest) -> WebhookCheck:
        """Verifies a Standard Webhooks delivery against every current secret.

        A delivery whose signature matches but whose timestamp is more than five minutes away
        from ``request.now`` is ``CLOCK_SKEW``; the topic is the payload's ``scope``.
        """
        secrets, headers, body = request.secrets, request.headers, request.body
        delivery_id = headers.get("webhook-id", "").strip()
        timestamp = headers.get("webhook-timestamp", "").strip()
        signatures = headers.get("webhook-signature", "").split()
        if not (delivery_id and timestamp and signatures):
            missing = [
                name
                for name, value in (
                    ("webhook-id", delivery_id),
                    ("webhook-timestamp", timestamp),
                    ("webhook-signature", signatures),
                )
                if not value
            ]
            reason = f"missing {', '.join(missing)} header"
        elif not secrets:
            reason = "no client secret is configured for this integration"
        elif not timestamp.isdigit():
            reason = "webhook-timestamp is not a Unix time"
        elif not _signed(secrets, delivery_id, timestamp, body, signatures):
            reason = "signature does not match the client secret"
        else:
            sent = datetime.fromtimestamp(int(timestamp), UTC)
            if abs(request.now - sent) > WEBHOOK_TOLERANCE:
                return WebhookCheck(
                    WebhookVerdict.CLOCK_SKEW,
                    topic=_scope(body),
                    delivery_id=delivery_id,
                    reason=f"webhook-timestamp {sent.isoformat()} is more than 5 minutes away",
                )
            return WebhookCheck(
                WebhookVerdict.ACCEPTED, topic=_scope(body), delivery_id=delivery_id
            )
        return WebhookCheck(WebhookVerdict.REJECTED, reason=reason)

    def orders_from_webhook(self, topic: str, payload: Any) -> list[Order]:
        """None: BigCommerce webhooks carry ids only (see ``order_ids_from_webhook``)."""
        return []

    def order_ids_from_webhook(self, topic: str, payload: Any) -> list[str]:
        """The ids of the orders to fetch after an order webhook; none for other scopes and for
        ``store/order/archived``. ``ValueError`` names a field that cannot be read."""
        if topic not in _ORDER_SCOPES:
            return []
        if not isinstance(payload, Mapping):
            raise ValueError("payload: expected a BigCommerce webhook object")
        data = fields.mapping(payload, "data")
        # Order scopes write `data.id`; transaction-style payloads write `data.order_id`.
        key = "order_id" if data.get("id") is None and "order_id" in data else "id"
        value = fields.present(data, key, "data.")
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"data.{key}: expected an order id, got {value!r}")
        return [str(value)]

    def place_test_order(self, client: StoreClient, order: ProbeOrder) -> str | None:
        """``POST /v2/orders`` in 11 Awaiting Fulfillment (paid); a custom product line, a
        guest customer. BigCommerce orders have no test flag: the staff notes say it."""
        price = f"{order.price:.2f}"
        response = client.request(
            "POST",
            _ORDERS_PATH,
            json={
                "status_id": 11,
                "customer_id": 0,
                "payment_method": "shoptrack test order (no payment taken)",
                "staff_notes": order.note,
                "billing_address": {
                    "first_name": order.first_name,
                    "last_name": order.last_name,
                    "email": order.email,
                    "street_1": "1 Test Street",
                    "city": "Austin",
                    "state": "Texas",
                    "zip": "78701",
                    "country": "United States",
                    "country_iso2": "US",
                },
                "products": [
                    {
                        "name": order.product_name,
                        "quantity": 1,
                        "price_inc_tax": price,
                        "price_ex_tax": price,
                    }
                ],
            },
        )
        return created_id(response, "id")

    def cancel_test_order(self, client: StoreClient, order_id: str) -> str:
        """``PUT /v2/orders/{id}`` to 5 Cancelled."""
        client.request("PUT", f"{_ORDERS_PATH}/{order_id}", json={"status_id": 5})
        return "cancelled on the store"

    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one v2 order; ``ValueError`` names the first field that cannot be read.

        The v2 order links its sub-resources (``"products": {"url": ..., "resource": ...}``).
        Whoever fetched ``/orders/{id}/products``, ``/orders/{id}/coupons`` or
        ``/orders/{id}/shipping_addresses`` may put the list in place of the link (``products``,
        ``coupons``, ``shipping_addresses``): lines, discount codes and the shipping address
        are mapped from those lists when present and left empty when the link is still there.
        """
        order_id = fields.integer(raw, "id")
        billing = fields.mapping(raw, "billing_address")
        customer_id = fields.optional_integer(raw, "customer_id") or 0
        tax_inclusive = raw.get("is_tax_inclusive_pricing") is True
        opt_in = raw.get("is_email_opt_in")
        shipping = _embedded(raw, "shipping_addresses")
        return Order(
            # v2 has no separate order number: the id is what the merchant and shopper see.
            platform_order_id=str(order_id),
            number=str(order_id),
            created_at=_utc(raw, "date_created"),
            updated_at=_utc(raw, "date_modified"),
            raw_status=str(fields.integer(raw, "status_id")),
            total=fields.money(raw, "total_inc_tax"),
            currency=_currency(raw),
            email=fields.optional_text(billing, "email"),
            phone=fields.optional_text(billing, "phone"),
            first_name=fields.optional_text(billing, "first_name"),
            last_name=fields.optional_text(billing, "last_name"),
            line_items=tuple(
                _line_item(item, f"products[{index}].", tax_inclusive=tax_inclusive)
                for index, item in enumerate(_embedded(raw, "products"))
            ),
            discount_codes=tuple(
                fields.text(coupon, "code", f"coupons[{index}].")
                for index, coupon in enumerate(_embedded(raw, "coupons"))
            ),
            # `discount_amount` is the manual discount, `coupon_discount` what coupons took off.
            discount_total=fields.money(raw, "discount_amount", default=Decimal(0))
            + fields.money(raw, "coupon_discount", default=Decimal(0)),
            refunded_total=fields.money(raw, "refunded_amount", default=Decimal(0)),
            billing_address=_address(billing),
            shipping_address=_address(shipping[0]) if shipping else None,
            accepts_marketing=opt_in if isinstance(opt_in, bool) else None,
            # No test flag exists; a test gateway only shows in `payment_method`.
            is_test=False,
            customer_id=str(customer_id) if customer_id else None,  # 0 is a guest
        )

    def _with_lines(self, client: StoreClient, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        """``raw`` with its ``products`` list (and ``coupons`` when a coupon took something
        off), read through the API; None when the order is gone (404). An order whose id
        cannot be read is passed on as it is, for the mapping to name the field."""
        order_id = raw.get("id")
        if isinstance(order_id, bool) or not isinstance(order_id, int):
            return dict(raw)
        path = f"{_ORDERS_PATH}/{order_id}"
        try:
            complete = {**raw, "products": _sub_list(client, f"{path}/products")}
            if _coupon_used(raw):
                complete["coupons"] = _sub_list(client, f"{path}/coupons")
        except StoreConfigError as error:
            if error.store_status == 404:
                return None
            raise
        return complete

    def _hooks(self, client: StoreClient, destination: str) -> list[Mapping[str, Any]]:
        """The store's hooks (of these credentials' API account) sending to ``destination``."""
        hooks: list[Mapping[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            response = client.get(
                _HOOKS_PATH, {"destination": destination, "page": page, "limit": _SUB_PAGE}
            )
            body = read_json(response, "the webhooks list")
            data = body.get("data") if isinstance(body, Mapping) else None
            if not isinstance(data, list):
                raise StoreDataError('the webhooks list has no "data"', store_answer=response.text)
            hooks += [
                h for h in data if isinstance(h, Mapping) and h.get("destination") == destination
            ]
            pagination = fields.mapping(fields.mapping(body, "meta"), "pagination")
            total_pages = pagination.get("total_pages")
            pages = total_pages if isinstance(total_pages, int) and total_pages < 100 else 1
            page += 1
        return hooks


def _sub_list(client: StoreClient, path: str) -> list[dict[str, Any]]:
    """Every item of a v2 sub-resource list (``/orders/{id}/products``), page after page."""
    paginator = PageNumberPaginator(_SUB_PAGE)
    items: list[dict[str, Any]] = []
    while not paginator.finished:
        response = client.get(path, {"page": paginator.current, "limit": _SUB_PAGE})
        page: Any = []
        if response.status_code != 204:
            page = read_json(response, path)
        if not isinstance(page, list):
            raise StoreDataError(f"{path} is not a list", store_answer=response.text)
        items += page
        paginator.advance(response, len(page))
    return items


def _coupon_used(raw: Mapping[str, Any]) -> bool:
    try:
        return fields.money(raw, "coupon_discount", default=Decimal(0)) != 0
    except ValueError:
        return False  # the mapping names the field


def _signing_key(secret: str) -> bytes | None:
    # BigCommerce signs with the client secret's own bytes (its docs hand the library
    # base64(client_secret), which the library decodes again); a `whsec_` secret is base64.
    if not secret.startswith(_WHSEC_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret.removeprefix(_WHSEC_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return None


def _signed(
    secrets: Sequence[str], delivery_id: str, timestamp: str, body: bytes, given: list[str]
) -> bool:
    """Whether any `v1,<signature>` entry matches an HMAC-SHA256 of
    ``{webhook-id}.{webhook-timestamp}.{body}`` under any of the secrets."""
    message = f"{delivery_id}.{timestamp}.".encode() + body
    expected = [
        base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
        for key in map(_signing_key, secrets)
        if key
    ]
    for entry in given:
        version, _, signature = entry.partition(",")
        if version == "v1" and signature and signature_matches(expected, signature):
            return True
    return False


def _scope(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return ""
    scope = payload.get("scope") if isinstance(payload, Mapping) else None
    return scope.strip() if isinstance(scope, str) else ""


def _currency(raw: Mapping[str, Any]) -> str:
    # `default_currency_code` is the transactional currency the totals are in; `currency_code`
    # the display currency. Older orders leave the former empty.
    for key in ("default_currency_code", "currency_code"):
        value = fields.optional_text(raw, key)
        if value:
            return value
    raise ValueError("default_currency_code: missing")


def _line_item(item: Mapping[str, Any], path: str, *, tax_inclusive: bool) -> LineItem:
    # Prices as the storefront showed them: with tax on tax-inclusive stores, without otherwise.
    suffix = "inc_tax" if tax_inclusive else "ex_tax"
    product_id = fields.optional_integer(item, "product_id", path) or 0
    parent = item.get("parent_order_product_id")
    return LineItem(
        line_id=str(fields.integer(item, "id", path)),
        name=fields.text(item, "name", path),
        quantity=fields.integer(item, "quantity", path),
        item_price=fields.money(item, f"price_{suffix}", path),
        row_total=fields.money(item, f"total_{suffix}", path),
        product_id=str(product_id) if product_id else None,  # 0: a custom product
        sku=fields.optional_text(item, "sku"),
        brand=fields.optional_text(item, "brand"),
        # A bundled product (pick list) comes as a zero-priced line under the ordered one.
        parent_line_id=str(fields.integer(item, "parent_order_product_id", path))
        if parent
        else None,
    )


def _address(raw: Mapping[str, Any]) -> Address | None:
    # BigCommerce writes the state's and country's names, and the country's ISO code.
    return fields.address(
        raw, address1="street_1", address2="street_2", region="state", country_code="country_iso2"
    )


def _utc(raw: Mapping[str, Any], key: str) -> datetime:
    # "-0000" (RFC 2822's "UTC, origin unknown") parses without a timezone.
    return fields.utc_time(raw, key, parsedate_to_datetime, "an RFC 2822 date-time")


def _embedded(raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key)
    if value is None or isinstance(value, Mapping):
        return []  # absent, or still the link to the sub-resource
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError(f"{key}: expected a list of objects or a sub-resource link")
    return value
