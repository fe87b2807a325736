"""Magento 2 / Adobe Commerce: orders as the REST API's ``GET /rest/V1/orders`` returns them.

Magento sends no order webhooks (Open Source has none; Adobe Commerce's are a paid add-on), so
its orders are polled: ``searchCriteria`` filters on ``updated_at``, numbered pages, and the
``total_count`` of every match. Requests carry an integration's keys, signed with OAuth 1.0a
(HMAC-SHA256) when all four are entered, or its access token alone as a Bearer token, which
Magento 2.4.4+ accepts only with "Allow OAuth Access Tokens to be used as standalone Bearer
tokens" switched on (admin tokens work as Bearer always, but expire after four hours).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import Field, ValidationInfo, field_validator

from shoptrack.connectors import fields
from shoptrack.connectors.auth import OAuth1Auth
from shoptrack.connectors.base import (
    Credentials,
    ProbeOrder,
    RestConnector,
    Window,
    created_id,
    replace_origin,
    store_address,
)
from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreError
from shoptrack.connectors.http import StoreClient, read_json
from shoptrack.connectors.paging import TotalCountPaginator
from shoptrack.domain.order import Address, LineItem, Order
from shoptrack.domain.status import StatusRules, StatusSet, status_rules

__all__ = ["Magento2", "Magento2Credentials"]

_ORDERS_PATH = "/V1/orders"
_OAUTH_FIELDS = ("consumer_key", "consumer_secret", "access_token_secret")
# Magento's answers to refused keys, and what the merchant can do about each.
_REFUSAL_HINTS = {
    "The consumer isn't authorized to access %resources.": (
        "Magento treated the request as a guest's. An integration's access token alone works"
        " only if Stores > Configuration > Services > OAuth > Consumer Settings > 'Allow OAuth"
        " Access Tokens to be used as standalone Bearer tokens' is Yes (Magento 2.4.4+); enter"
        " the integration's consumer key, consumer secret and access token secret as well; and"
        " check that the integration is active with the Sales > Operations > Orders > Actions"
        " > View resource"
    ),
    "The signature is invalid. Verify and try again.": (
        "check the consumer secret and access token secret (System > Extensions > Integrations"
        " > Edit > Integration Details), and that base_url is the address the store calls"
        " itself (its scheme and host are signed)"
    ),
    "A consumer having the specified key does not exist": "check the consumer key",
    "Consumer key is not the correct length": "check the consumer key (32 characters)",
    "Specified token does not exist": "check the access token",
    "Access token has been revoked": (
        "the integration was reauthorized or deleted: enter its current keys"
    ),
}


class Magento2Credentials(Credentials):
    """An integration's keys (System > Extensions > Integrations, activated), or an access token.

    With ``consumer_key``, ``consumer_secret`` and ``access_token_secret`` the requests are signed
    with OAuth 1.0a, which works on every Magento 2.4; with ``access_token`` alone they carry it
    as a Bearer token. ``base_url`` is the store's address; a REST base URL pasted whole
    (``https://shop.example.com/rest/default/V1``) is read as the store's address and store code.
    """

    base_url: str
    access_token: str
    consumer_key: str | None = None
    consumer_secret: str | None = None
    # Validated even when left out, so that a partial set of OAuth keys is named.
    access_token_secret: str | None = Field(default=None, validate_default=True)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = store_address(value)
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    @field_validator("access_token_secret")
    @classmethod
    def _oauth_set(cls, value: str | None, info: ValidationInfo) -> str | None:
        given = {
            name: (info.data.get(name) if name != "access_token_secret" else value)
            for name in _OAUTH_FIELDS
        }
        missing = [name for name, key in given.items() if not key]
        if missing and len(missing) < len(_OAUTH_FIELDS):
            raise ValueError(
                "OAuth 1.0a needs consumer_key, consumer_secret and access_token_secret"
                f" together (missing: {', '.join(missing)}); leave all three out to send"
                " access_token as a Bearer token"
            )
        return value

    @property
    def signs(self) -> bool:
        """Whether requests are signed with OAuth 1.0a (else the token is a Bearer token)."""
        return self.access_token_secret is not None

    @property
    def rest_base(self) -> str:
        """The REST API's root: ``{store}/rest``, or ``{store}/rest/{store_code}`` when the
        merchant pasted a REST URL with a store code (``…/rest/default/V1``). A store without
        URL rewrites keeps its ``/index.php`` before ``rest``."""
        parts = urlsplit(self.base_url)
        segments = [segment for segment in parts.path.split("/") if segment]
        code = None
        if "rest" in segments:
            at = len(segments) - 1 - segments[::-1].index("rest")
            after = segments[at + 1 :]
            segments = segments[:at]
            code = after[0] if after and after[0] != "V1" else None
        path = "/".join(["", *segments, "rest", *([code] if code else [])])
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class _MagentoOAuth1(OAuth1Auth):
    """OAuth 1.0a as Magento verifies it: spaces in the query written ``%20``.

    Magento rebuilds the signed parameters from the raw query with ``rawurldecode()``
    (``Magento\\Framework\\Oauth\\Helper\\Request::_extractQueryStringParams``), which leaves a
    ``+`` a plus sign, while OAuth (RFC 5849 3.4.1.3.1) and httpx read it as a space: a
    ``2024-01-01 00:00:00`` filter sent as ``+`` fails with "The signature is invalid". Written
    ``%20`` it means a space to both.
    """

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        query = request.url.query
        if b"+" in query:
            # httpx writes a literal plus as %2B, so every `+` here stands for a space.
            request.url = request.url.copy_with(query=query.replace(b"+", b"%20"))
        yield from super().auth_flow(request)


def _magento_time(moment: datetime) -> str:
    # Magento keeps and compares times in UTC as "Y-m-d H:i:s". Whole seconds: the window's
    # fraction is dropped, which `gt` (start) and `lteq` (end) both read safely.
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Magento2(RestConnector[Magento2Credentials]):
    """The Magento 2 connector (REST ``V1``, ``status`` falling back on ``state``)."""

    platform: ClassVar[str] = "magento2"
    credentials_model = Magento2Credentials
    display_name: ClassVar[str] = "Magento 2"
    # Custom statuses fall back on their state (``Order.status_fallback``).
    default_rules: ClassVar[StatusRules] = status_rules(
        StatusSet.excluding(["pending_payment"]),
        fulfilled=["complete"],
        cancelled=["canceled"],
        refunded=["closed"],
    )
    order_id_field: ClassVar[str] = "entity_id"
    origin_field: ClassVar[str] = "base_url"
    # No default limit; a store with Web API input limits on caps pageSize at 300 (400 above).
    # Orders carry their items, addresses and payment: 100 keeps a page a few hundred kB.
    page_size: ClassVar[int] = 100
    # The statuses Magento installs, one or more per state; merchants add their own.
    status_labels: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "pending": "Pending",
            "pending_payment": "Pending Payment",
            "payment_review": "Payment Review",
            "processing": "Processing",
            "holded": "On Hold",
            "complete": "Complete",
            "closed": "Closed",
            "canceled": "Canceled",
            "fraud": "Suspected Fraud",
        }
    )

    def origin(self, credentials: Magento2Credentials) -> str:
        """The store's REST root (``…/rest`` or ``…/rest/{store_code}``); paths start ``/V1``."""
        return replace_origin(credentials.rest_base, credentials.api_base_url)

    def auth(self, credentials: Magento2Credentials) -> httpx.Auth | None:
        """OAuth 1.0a, HMAC-SHA256 in the ``Authorization`` header (the only method 2.4 takes)."""
        key, secret = credentials.consumer_key, credentials.consumer_secret
        token_secret = credentials.access_token_secret
        if key is None or secret is None or token_secret is None:
            return None  # the access token goes alone, as a Bearer token (``headers``)
        return _MagentoOAuth1(
            key, secret, token=credentials.access_token, token_secret=token_secret, in_header=True
        )

    def headers(self, credentials: Magento2Credentials) -> dict[str, str]:
        return {} if credentials.signs else {"Authorization": f"Bearer {credentials.access_token}"}

    def check_credentials(self, client: StoreClient) -> None:
        """Reads one order: the resource the sync needs. A refusal names what to check."""
        try:
            _search_result(client.get(_ORDERS_PATH, {"searchCriteria[pageSize]": 1}))
        except StoreConfigError as error:
            if error.store_status != 401:
                raise
            raw, message = _message(error.store_answer)
            hint = _REFUSAL_HINTS.get(raw)
            detail = message or error.detail
            raise StoreConfigError(
                f"{detail} ({hint})" if hint else detail,
                store_status=error.store_status,
                store_answer=error.store_answer,
                code=error.code,
            ) from error

    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        """Orders updated after ``since`` up to ``until`` (two filter groups: AND), oldest first.

        ``entity_id`` breaks ties: MySQL returns rows with equal ``updated_at`` in any order, and
        in a different one for each LIMIT, so without it a page boundary inside one second
        would repeat some orders and skip others.
        """
        criteria = "searchCriteria"
        since, until = (
            f"{criteria}[filter_groups][0][filters][0]",
            f"{criteria}[filter_groups][1][filters][0]",
        )
        return _ORDERS_PATH, {
            f"{since}[field]": "updated_at",
            f"{since}[value]": _magento_time(window.since),
            f"{since}[condition_type]": "gt",
            f"{until}[field]": "updated_at",
            f"{until}[value]": _magento_time(window.until),
            f"{until}[condition_type]": "lteq",
            f"{criteria}[sortOrders][0][field]": "updated_at",
            f"{criteria}[sortOrders][0][direction]": "ASC",
            f"{criteria}[sortOrders][1][field]": "entity_id",
            f"{criteria}[sortOrders][1][direction]": "ASC",
            f"{criteria}[pageSize]": self.page_size,
            f"{criteria}[currentPage]": token,
        }

    def paginator(self) -> TotalCountPaginator:
        # Before 2.4 a currentPage past the end answers the last page again, and a short page
        # proves nothing where the store caps pageSize: only total_count tells the end.
        return TotalCountPaginator(self.total)

    def records(self, response: httpx.Response) -> list[dict[str, Any]]:
        """The orders of a page: the ``items`` of the search result."""
        items = _search_result(response).get("items")
        if not isinstance(items, list):
            raise StoreDataError('the orders page has no "items" list', store_answer=response.text)
        return items

    def total(self, response: httpx.Response) -> int:
        """``total_count``: every order matching the filters, across all pages."""
        count = _search_result(response).get("total_count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise StoreDataError("the orders page has no total_count", store_answer=response.text)
        return count

    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        return _utc(raw, "updated_at")

    def place_test_order(self, client: StoreClient, order: ProbeOrder) -> str | None:
        """``POST /V1/orders`` (``salesOrderRepositoryV1SavePost``): a guest order in
        ``processing`` (paid) with one virtual line. Magento orders have no test flag: the
        status history comment says it."""
        price = float(order.price)
        response = client.request(
            "POST",
            _ORDERS_PATH,
            json={
                "entity": {
                    "customer_email": order.email,
                    "customer_firstname": order.first_name,
                    "customer_lastname": order.last_name,
                    "customer_is_guest": 1,
                    "state": "processing",
                    "status": "processing",
                    "grand_total": price,
                    "base_grand_total": price,
                    "subtotal": price,
                    "total_paid": price,
                    "items": [
                        {
                            "sku": "shoptrack-test-order",
                            "name": order.product_name,
                            "product_type": "virtual",
                            "qty_ordered": 1,
                            "price": price,
                            "row_total": price,
                        }
                    ],
                    "payment": {"method": "checkmo"},
                    "billing_address": {
                        "email": order.email,
                        "firstname": order.first_name,
                        "lastname": order.last_name,
                        "street": ["1 Test Street"],
                        "city": "Austin",
                        "postcode": "78701",
                        "country_id": "US",
                        "telephone": "5125550100",
                    },
                    "status_histories": [{"comment": order.note, "is_customer_notified": 0}],
                }
            },
        )
        return created_id(response, "entity_id")

    def cancel_test_order(self, client: StoreClient, order_id: str) -> str:
        """``POST /V1/orders/{id}/cancel``; Magento answers ``false`` for an order it can no
        longer cancel."""
        response = client.request("POST", f"{_ORDERS_PATH}/{order_id}/cancel")
        if response.text.strip() != "true":
            raise StoreError(
                f"the store did not cancel order {order_id} (it may be complete or closed)",
                store_answer=response.text,
            )
        return "cancelled on the store"

    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one order of ``GET /V1/orders``; ``ValueError`` names the first unreadable field.

        Money is the order's own currency (``grand_total``, ``order_currency_code``): what the
        shopper paid, as the lines' ``price`` and ``row_total`` are. A store view that shows
        another currency than the base one writes the base amounts beside them (``base_*``).
        """
        billing = fields.mapping(raw, "billing_address")
        customer_id = fields.optional_integer(raw, "customer_id")
        # Coupon discounts come negative ("-5.0"); a positive one would be a surcharge.
        discount = fields.money(raw, "discount_amount", default=Decimal(0))
        coupon = fields.optional_text(raw, "coupon_code")
        return Order(
            platform_order_id=str(fields.integer(raw, "entity_id")),
            number=fields.text(raw, "increment_id"),
            created_at=_utc(raw, "created_at"),
            updated_at=_utc(raw, "updated_at"),
            raw_status=fields.text(raw, "status"),
            total=fields.money(raw, "grand_total"),
            currency=fields.text(raw, "order_currency_code"),
            email=fields.optional_text(raw, "customer_email"),
            phone=fields.optional_text(billing, "telephone"),
            first_name=fields.first_text((raw, "customer_firstname"), (billing, "firstname")),
            last_name=fields.first_text((raw, "customer_lastname"), (billing, "lastname")),
            line_items=fields.each(raw, "items", _line_item, required=True),
            discount_codes=(coupon,) if coupon else (),
            discount_total=-discount if discount < 0 else Decimal(0),
            refunded_total=fields.money(raw, "total_refunded", default=Decimal(0)),
            billing_address=_address(billing),
            shipping_address=_address(_shipping_address(raw)),
            # Newsletter consent lives on the customer, not the order; no test orders exist.
            accepts_marketing=None,
            is_test=False,
            # A custom status (Stores > Order Status) is judged by the state it is assigned to.
            status_fallback=fields.optional_text(raw, "state"),
            customer_id=str(customer_id)
            if customer_id and not raw.get("customer_is_guest")
            else None,
        )


def _search_result(response: httpx.Response) -> Mapping[str, Any]:
    body = read_json(response, "the orders page")
    if not isinstance(body, Mapping):
        raise StoreDataError("the orders page is not a search result", store_answer=response.text)
    return body


def _message(answer: str) -> tuple[str, str]:
    """The ``message`` of Magento's error body as written, and with its placeholders filled
    from ``parameters`` (``{"message": "… %resources.", "parameters": {"resources": "…"}}`` or
    ``{"message": "… %1", "parameters": [1]}``); empty when the answer has none."""
    try:
        body = json.loads(answer)
    except ValueError:
        return "", ""
    raw = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(raw, str):
        return "", ""
    message = raw
    parameters = body.get("parameters")
    if isinstance(parameters, list):
        parameters = {str(index): value for index, value in enumerate(parameters, start=1)}
    if isinstance(parameters, Mapping):
        for name, value in parameters.items():
            message = message.replace(f"%{name}", str(value))
    return raw, message


def _quantity(item: Mapping[str, Any], path: str) -> int:
    # qty_ordered is a float ("1.0"); a product sold by weight may order 1.5, counted as 2.
    value = fields.money(item, "qty_ordered", path)
    if value < 0:
        raise ValueError(f"{path}qty_ordered: negative: {value}")
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _line_item(item: Mapping[str, Any], path: str) -> LineItem:
    # The parent line of a configurable product carries the price and the chosen variant's SKU;
    # its child line (price 0) names the variant. A bundle's children carry their own prices
    # under the bundle's. Either way the child marks its parent, and counts with it.
    parent = fields.optional_integer(item, "parent_item_id", path)
    product_id = fields.optional_integer(item, "product_id", path)
    row_total = fields.money(item, "row_total", path, default=Decimal(0))
    line_discount = fields.money(item, "discount_amount", path, default=Decimal(0))
    return LineItem(
        line_id=str(fields.integer(item, "item_id", path)),
        name=fields.text(item, "name", path),
        quantity=_quantity(item, path),
        item_price=fields.money(item, "price", path, default=Decimal(0)),
        # What the line cost after its discount (before tax), as the other platforms report it.
        row_total=row_total - abs(line_discount),
        product_id=str(product_id) if product_id else None,
        sku=fields.optional_text(item, "sku"),
        parent_line_id=str(parent) if parent else None,
    )


def _shipping_address(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    # The order resource has no shipping address of its own: the repository adds it to
    # extension_attributes.shipping_assignments[0].shipping.address (none for virtual orders).
    extension = fields.mapping(raw, "extension_attributes")
    assignments = fields.object_list(
        extension, "shipping_assignments", path="extension_attributes."
    )
    if not assignments:
        return {}
    return fields.mapping(fields.mapping(assignments[0], "shipping"), "address")


def _address(raw: Mapping[str, Any]) -> Address | None:
    street = raw.get("street")
    lines = (
        [line.strip() for line in street if isinstance(line, str) and line.strip()]
        if isinstance(street, list)
        else []
    )
    # The first street line is address1, the others together address2.
    streets = {"address1": lines[0] if lines else None, "address2": ", ".join(lines[1:]) or None}
    # `region` is the name ("New York"), `region_code` its code; `country_id` is ISO alpha-2.
    return fields.address(
        {**raw, **streets},
        first_name="firstname",
        last_name="lastname",
        country=None,
        country_code="country_id",
        zip="postcode",
        phone="telephone",
    )


def _utc(raw: Mapping[str, Any], key: str) -> datetime:
    # The REST API writes UTC without an offset ("2017-08-21 22:22:19"), whatever the store's
    # timezone; the admin shows the same moment in the store's timezone.
    return fields.utc_time(raw, key, datetime.fromisoformat, "a 'Y-m-d H:i:s' date-time")
