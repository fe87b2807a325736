"""The BigCommerce connector: v2 order mapping, order paging, and Standard Webhooks verification.

Fixtures are copies of BigCommerce's own examples: the order and its products from the Orders v2
OpenAPI spec (``orders.v2.oas2.yml``), the webhook bodies from its docs' callback samples.
Signatures are computed here independently of shoptrack's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shoptrack.connectors.base import WebhookVerdict, Window, clean_credentials
from shoptrack.connectors.bigcommerce import BigCommerce, BigCommerceCredentials
from shoptrack.domain.lifecycle import stages_of, transition
from shoptrack.domain.order import Address, LineItem
from shoptrack.domain.status import Lifecycle
from shoptrack.errors import InputError
from shoptrack.testing import SIMULATOR_GUARD

FIXTURES = Path(__file__).parent / "fixtures"
SCOPES = ["created", "updated", "statusUpdated", "refund_created", "archived"]
SECRET = "bc-client-secret-1"
SENT = datetime(2025, 3, 9, 14, 30, 5, tzinfo=UTC)

connector = BigCommerce()


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"bigcommerce_{name}.json").read_text())


def _order(**fields: Any) -> dict[str, Any]:
    """The spec's example order (id 100), with its products embedded as the sync attaches them."""
    raw: dict[str, Any] = _fixture("order")
    raw["products"] = _fixture("order_products")
    raw.update(fields)
    return raw


def _sign(secret_key: bytes, delivery_id: str, timestamp: str, body: bytes) -> str:
    message = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(secret_key, message, hashlib.sha256).digest()).decode()


def _delivery(
    scope: str = "created",
    *,
    secret: str = SECRET,
    sent: datetime = SENT,
    delivery_id: str = "msg_2mM9tFzA1",
) -> tuple[dict[str, str], bytes]:
    body = (FIXTURES / f"bigcommerce_store_order_{scope}.json").read_bytes()
    timestamp = str(int(sent.timestamp()))
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{_sign(secret.encode(), delivery_id, timestamp, body)}",
        "content-type": "application/json",
    }, body


# -- credentials and requests ------------------------------------------------------------------


def _credentials(**fields: Any) -> BigCommerceCredentials:
    values = {"store_hash": "abc123", "access_token": "tok-1", **fields}
    credentials, _ = clean_credentials(BigCommerceCredentials, values)
    assert isinstance(credentials, BigCommerceCredentials)
    return credentials


def test_declares_platform_and_default_rules() -> None:
    assert connector.platform == "bigcommerce"
    assert connector.page_size == 250
    assert connector.default_rules.stages("11") == {Lifecycle.PLACED}


def test_origin_and_headers() -> None:
    credentials = _credentials()

    assert connector.origin(credentials) == "https://api.bigcommerce.com/stores/abc123"
    assert connector.headers(credentials) == {
        "X-Auth-Token": "tok-1",
        "Accept": "application/json",
    }


def test_api_base_url_replaces_only_the_origin() -> None:
    credentials = _credentials(api_base_url="http://127.0.0.1:8081/ignored")

    assert connector.origin(credentials) == "http://127.0.0.1:8081/stores/abc123"


@pytest.mark.parametrize("store_hash", ["abc/../def", "ABC 123", "abc?x=1"])
def test_store_hash_must_be_a_hash(store_hash: str) -> None:
    with pytest.raises(InputError, match=r"credentials\.store_hash"):
        _credentials(store_hash=store_hash)


def test_webhook_secrets_are_the_client_secret_then_previous_ones() -> None:
    credentials = {"client_secret": "new", "previous_client_secrets": ["old"], "x": 1}

    assert connector.webhook_secrets(credentials) == ["new", "old"]
    assert connector.webhook_secrets({"store_hash": "abc123"}) == []


def test_orders_request_asks_for_modified_orders_oldest_first() -> None:
    window = Window(
        since=datetime(2025, 3, 9, 16, 30, 5, 900_000, tzinfo=UTC),
        until=datetime(2025, 3, 10, 8, 0, tzinfo=UTC),
    )

    path, params = connector.orders_request(window, 3)

    assert path == "/v2/orders"
    assert params == {
        # RFC 2822 as the API writes dates, whole seconds rounded down.
        "min_date_modified": "Sun, 09 Mar 2025 16:30:05 +0000",
        "max_date_modified": "Mon, 10 Mar 2025 08:00:00 +0000",
        "sort": "date_modified:asc",
        "page": 3,
        "limit": 250,
    }


def test_a_sync_window_ends_after_its_last_second() -> None:
    """The API keeps whole seconds and does not say whether ``max_date_modified`` is
    inclusive: a window ending at 12:00:00.9 asks up to 12:00:01, so an order modified at
    12:00:00 is read by a sync started right after it either way."""
    since = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    _, params = connector.orders_request(
        Window(since, datetime(2026, 3, 1, 12, 0, 0, 900_000, tzinfo=UTC)), 1
    )
    assert params["max_date_modified"] == "Sun, 01 Mar 2026 12:00:01 +0000"


def _pages(handler: Any) -> tuple[list[list[dict[str, Any]]], list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        response: httpx.Response = handler(request)
        return response

    window = Window(since=SENT, until=SENT + timedelta(hours=1))
    client = connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(record)
    )
    with client:
        pages = [page.records for page in connector.order_pages(client, window)]
    return pages, requests


def test_a_204_means_no_orders() -> None:
    pages, requests = _pages(lambda _request: httpx.Response(204))

    assert pages == [[]]
    assert len(requests) == 1
    sent = requests[0]
    assert sent.url.path == "/stores/abc123/v2/orders"
    assert sent.headers["x-auth-token"] == "tok-1"
    query = parse_qs(urlsplit(str(sent.url)).query)
    assert query["min_date_modified"] == ["Sun, 09 Mar 2025 14:30:05 +0000"]


def test_a_204_after_a_full_page_ends_paging() -> None:
    order = _fixture("order")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/products"):
            return httpx.Response(204)  # no lines (a custom order emptied), as simple as it gets
        if request.url.params["page"] == "1":
            return httpx.Response(200, json=[{**order, "id": n} for n in range(1, 251)])
        return httpx.Response(204)

    pages, requests = _pages(handler)

    assert [len(page) for page in pages] == [250, 0]
    listing = [r for r in requests if r.url.path.endswith("/v2/orders")]
    assert [r.url.params["page"] for r in listing] == ["1", "2"]
    assert len(requests) == 2 + 250  # one request for each order's lines


def test_check_credentials_reads_the_store() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"id": "abc123", "name": "Shop"})

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
    ) as client:
        connector.check_credentials(client)

    assert seen == ["/stores/abc123/v2/store"]


# -- mapping -----------------------------------------------------------------------------------


def test_maps_the_spec_example_order_field_by_field() -> None:
    order = connector.to_order(_order())

    assert order.platform_order_id == "100"
    assert order.number == "100"
    assert order.created_at == datetime(2018, 1, 10, 21, 5, 30, tzinfo=UTC)
    assert order.updated_at == datetime(2018, 12, 5, 20, 16, 55, tzinfo=UTC)
    assert order.raw_status == "11"
    assert order.total == Decimal("361.9500")
    assert order.currency == "USD"
    assert order.email == "janedoe@example.com"
    assert order.phone == "555-123-4567"
    assert (order.first_name, order.last_name) == ("Jane", "Doe")
    assert order.discount_codes == ()
    assert order.discount_total == Decimal(0)
    assert order.refunded_total == Decimal(0)
    assert order.accepts_marketing is False
    assert order.is_test is False
    assert order.customer_id == "20"
    assert order.status_fallback is None
    assert (order.cancelled_at, order.fulfilled_at) == (None, None)
    assert order.billing_address == Address(
        first_name="Jane",
        last_name="Doe",
        address1="455 Main Street",
        city="Austin",
        region="Texas",
        country="United States",
        country_code="US",
        zip="78751",
        phone="555-123-4567",
    )
    assert order.shipping_address is None  # still a sub-resource link
    assert order.line_items == (
        LineItem(
            line_id="65",
            name="Fog Linen Chambray Towel - Beige Stripe",
            quantity=1,
            item_price=Decimal("55.9900"),
            row_total=Decimal("55.9900"),
            product_id="77",
            sku="S-ORAN",
            brand="BigCommerce",
        ),
        LineItem(
            line_id="66",
            name="Able Brewing System",
            quantity=1,
            item_price=Decimal("0.0000"),
            row_total=Decimal("0.0000"),
            product_id="86",
            sku="ABS",
            brand="BigCommerce",
            parent_line_id="65",
        ),
    )
    # The bundled pick-list product counts with the line it came with.
    assert [line.line_id for line in order.counted_lines] == ["65"]


def test_products_still_a_link_give_no_lines() -> None:
    raw = _fixture("order")
    assert raw["products"]["resource"] == "/orders/100/products"

    assert connector.to_order(raw).line_items == ()


def test_tax_inclusive_store_prices_lines_with_tax() -> None:
    line = connector.to_order(_order(is_tax_inclusive_pricing=True)).line_items[0]

    assert (line.item_price, line.row_total) == (Decimal("65.2300"), Decimal("65.2300"))


def test_embedded_coupons_and_shipping_address() -> None:
    raw = _order(
        coupons=[{"id": 1, "coupon_id": 5, "order_id": 100, "code": "SPRING", "amount": "5"}],
        shipping_addresses=[
            {"id": 51, "first_name": "Elsie", "street_1": "1 Oak Road", "country_iso2": "GB"}
        ],
        discount_amount="1.5900",
        coupon_discount="5.0000",
    )

    order = connector.to_order(raw)

    assert order.discount_codes == ("SPRING",)
    assert order.discount_total == Decimal("6.5900")
    assert order.shipping_address == Address(
        first_name="Elsie", address1="1 Oak Road", country_code="GB"
    )


def test_money_is_exact_decimal_from_strings() -> None:
    raw = _order(total_inc_tax="0.3000", refunded_amount="0.1000", discount_amount="0.2000")

    order = connector.to_order(raw)

    assert order.total == Decimal("0.3000")
    assert order.refunded_total == Decimal("0.1000")
    assert order.total - order.refunded_total - order.discount_total == 0
    assert all(type(v) is Decimal for v in (order.total, order.refunded_total))


def test_guest_order() -> None:
    billing = dict(_fixture("order")["billing_address"], email="")
    order = connector.to_order(_order(customer_id=0, billing_address=billing))

    assert (order.customer_id, order.email) == (None, None)


def test_transactional_currency_wins_over_display_currency() -> None:
    raw = _order(currency_code="EUR", default_currency_code="USD")
    assert connector.to_order(raw).currency == "USD"
    raw = _order(currency_code="EUR", default_currency_code="")
    assert connector.to_order(raw).currency == "EUR"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Wed, 05 Dec 2018 20:16:55 +0000", datetime(2018, 12, 5, 20, 16, 55, tzinfo=UTC)),
        ("Thu, 20 Apr 2017 11:32:00 -0400", datetime(2017, 4, 20, 15, 32, tzinfo=UTC)),
        ("Sun, 31 Dec 2017 23:30:00 +0200", datetime(2017, 12, 31, 21, 30, tzinfo=UTC)),
        ("Mon, 01 Jan 2018 00:00:00 -0000", datetime(2018, 1, 1, tzinfo=UTC)),
    ],
)
def test_rfc_2822_dates_become_utc(written: str, expected: datetime) -> None:
    order = connector.to_order(_order(date_modified=written))

    assert order.updated_at == expected
    assert order.updated_at.tzinfo is UTC
    assert connector.updated_at(_order(date_modified=written)) == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", None, "id: missing"),
        ("id", "100", "id: expected a non-negative integer"),
        ("status_id", None, "status_id: missing"),
        ("total_inc_tax", "361,95", "total_inc_tax: not a decimal amount"),
        ("date_created", "2018-01-10T21:05:30Z", "date_created: not an RFC 2822 date-time"),
        ("date_modified", "", "date_modified: not an RFC 2822 date-time"),
        ("billing_address", "Jane", "billing_address: expected an object"),
        ("products", [{"id": 1, "name": "x"}], r"products\[0\].quantity: missing"),
        ("products", "none", "products: expected a list of objects"),
    ],
)
def test_unreadable_fields_are_named(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        connector.to_order(_order(**{field: value}))


# -- lifecycle with the default rules ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status_id", "stages"),
    [
        (0, set()),  # Incomplete
        (1, set()),  # Pending
        (7, set()),  # Awaiting Payment
        (11, {Lifecycle.PLACED}),  # Awaiting Fulfillment
        (9, {Lifecycle.PLACED}),  # Awaiting Shipment
        (2, {Lifecycle.PLACED, Lifecycle.FULFILLED}),  # Shipped
        (10, {Lifecycle.PLACED, Lifecycle.FULFILLED}),  # Completed
        (4, {Lifecycle.PLACED, Lifecycle.REFUNDED}),  # Refunded
        (5, {Lifecycle.CANCELLED}),  # Cancelled
        (6, {Lifecycle.CANCELLED}),  # Declined
    ],
)
def test_lifecycle_stages_of_each_status(status_id: int, stages: set[Lifecycle]) -> None:
    order = connector.to_order(_order(status_id=status_id))

    assert stages_of(order, connector.default_rules) == stages


def test_a_declined_order_first_seen_records_nothing() -> None:
    order = connector.to_order(_order(status_id=6, status="Declined"))

    result = transition(None, order, connector.default_rules)

    assert result.record == ()
    assert result.state.skipped is True


def test_awaiting_fulfillment_then_shipped_records_placed_then_fulfilled() -> None:
    rules = connector.default_rules
    first = transition(None, connector.to_order(_order(status_id=11)), rules)
    later = _order(status_id=2, date_modified="Thu, 06 Dec 2018 09:00:00 +0000")
    second = transition(first.state, connector.to_order(later), rules)

    assert first.record == (Lifecycle.PLACED,)
    assert second.record == (Lifecycle.FULFILLED,)


# -- webhooks ----------------------------------------------------------------------------------


def test_accepts_a_delivery_signed_with_the_client_secret() -> None:
    headers, body = _delivery("statusUpdated")

    check = connector.check_webhook([SECRET], headers, body, now=SENT + timedelta(seconds=3))

    assert check.verdict is WebhookVerdict.ACCEPTED
    assert (check.topic, check.delivery_id, check.reason) == (
        "store/order/statusUpdated",
        "msg_2mM9tFzA1",
        None,
    )


def test_accepts_the_rotated_secret_and_any_listed_signature() -> None:
    headers, body = _delivery(secret="new-secret")
    headers["webhook-signature"] = f"v1,bm90LWl0 {headers['webhook-signature']}"

    check = connector.check_webhook([SECRET, "new-secret"], headers, body, now=SENT)

    assert check.verdict is WebhookVerdict.ACCEPTED


def test_accepts_a_whsec_secret_as_its_base64_key() -> None:
    headers, body = _delivery()
    whsec = "whsec_" + base64.b64encode(SECRET.encode()).decode()

    check = connector.check_webhook([whsec], headers, body, now=SENT)

    assert check.verdict is WebhookVerdict.ACCEPTED


def test_rejects_a_wrong_secret() -> None:
    headers, body = _delivery(secret="someone-else")

    check = connector.check_webhook([SECRET, "new-secret"], headers, body, now=SENT)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == "signature does not match the client secret"


def test_rejects_a_changed_id_timestamp_or_body() -> None:
    headers, body = _delivery()
    for name, value in (("webhook-id", "msg_other"), ("webhook-timestamp", "1741530306")):
        changed = {**headers, name: value}
        check = connector.check_webhook([SECRET], changed, body, now=SENT)
        assert check.verdict is WebhookVerdict.REJECTED
    check = connector.check_webhook([SECRET], headers, body + b" ", now=SENT)
    assert check.verdict is WebhookVerdict.REJECTED


def test_rejects_another_signature_version() -> None:
    headers, body = _delivery()
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v1a,")

    check = connector.check_webhook([SECRET], headers, body, now=SENT)

    assert check.verdict is WebhookVerdict.REJECTED


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_rejects_a_missing_header(header: str) -> None:
    headers, body = _delivery()
    del headers[header]

    check = connector.check_webhook([SECRET], headers, body, now=SENT)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == f"missing {header} header"


def test_rejects_when_no_secret_is_configured() -> None:
    headers, body = _delivery()

    check = connector.check_webhook([], headers, body, now=SENT)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == "no client secret is configured for this integration"


@pytest.mark.parametrize("offset", [timedelta(minutes=5, seconds=1), -timedelta(minutes=6)])
def test_a_signed_delivery_outside_five_minutes_is_clock_skew(offset: timedelta) -> None:
    headers, body = _delivery()

    check = connector.check_webhook([SECRET], headers, body, now=SENT + offset)

    assert check.verdict is WebhookVerdict.CLOCK_SKEW
    assert check.delivery_id == "msg_2mM9tFzA1"
    assert check.reason is not None


@pytest.mark.parametrize("offset", [timedelta(minutes=5), -timedelta(minutes=5)])
def test_five_minutes_either_way_is_still_accepted(offset: timedelta) -> None:
    headers, body = _delivery()

    check = connector.check_webhook([SECRET], headers, body, now=SENT + offset)

    assert check.verdict is WebhookVerdict.ACCEPTED


def test_a_badly_signed_skewed_delivery_is_rejected_not_skewed() -> None:
    headers, body = _delivery(secret="someone-else")

    check = connector.check_webhook([SECRET], headers, body, now=SENT + timedelta(hours=1))

    assert check.verdict is WebhookVerdict.REJECTED


def test_without_now_the_system_clock_is_used() -> None:
    headers, body = _delivery(sent=datetime.now(UTC))
    assert connector.check_webhook([SECRET], headers, body).verdict is WebhookVerdict.ACCEPTED
    headers, body = _delivery(sent=SENT)
    assert connector.check_webhook([SECRET], headers, body).verdict is WebhookVerdict.CLOCK_SKEW


@pytest.mark.parametrize(
    ("scope", "ids"),
    [
        ("created", ["250"]),
        ("updated", ["250"]),
        ("statusUpdated", ["250"]),
        ("refund_created", ["250"]),
        ("archived", []),  # a deletion: nothing to fetch
    ],
)
def test_order_ids_from_every_sample(scope: str, ids: list[str]) -> None:
    headers, body = _delivery(scope)
    check = connector.check_webhook([SECRET], headers, body, now=SENT)
    assert check.verdict is WebhookVerdict.ACCEPTED
    payload = json.loads(body)

    assert check.topic == payload["scope"]
    assert connector.order_ids_from_webhook(check.topic, payload) == ids
    assert connector.orders_from_webhook(check.topic, payload) == []


def test_order_id_written_as_order_id_string() -> None:
    payload = {"scope": "store/order/updated", "data": {"type": "transaction", "order_id": "250"}}

    assert connector.order_ids_from_webhook("store/order/updated", payload) == ["250"]


@pytest.mark.parametrize("topic", ["store/product/updated", "store/order/message/created", ""])
def test_other_scopes_name_no_orders(topic: str) -> None:
    assert connector.order_ids_from_webhook(topic, _fixture("store_order_created")) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "payload: expected"),
        ({"scope": "store/order/created"}, "data.id: missing"),
        ({"data": {"type": "order", "id": "abc"}}, "data.id: expected an order id"),
        ({"data": "250"}, "data: expected an object"),
    ],
)
def test_unreadable_webhook_payloads_are_named(payload: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        connector.order_ids_from_webhook("store/order/created", payload)


# -- sub-resources, fetching and subscriptions --------------------------------------------------


class FakeStore:
    """A MockTransport handler answering as the v2 API does for a few orders: ``products`` and
    ``coupons`` by order id (absent: 404), everything it was asked in ``requests``."""

    def __init__(self, orders: list[dict[str, Any]], products: dict[int, list[Any]]) -> None:
        self.orders = orders
        self.products = products
        self.coupons: dict[int, list[Any]] = {}
        self.hooks: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:  # noqa: PLR0911  # a branch per route
        self.requests.append(request)
        path = request.url.path.removeprefix("/stores/abc123")
        parts = path.strip("/").split("/")
        if path == "/v2/orders":
            page = int(request.url.params["page"])
            listed = self.orders if page == 1 else []
            return httpx.Response(200, json=listed) if listed else httpx.Response(204)
        if path == "/v3/hooks":
            if request.method == "GET":
                return httpx.Response(
                    200, json={"data": self.hooks, "meta": {"pagination": {"total_pages": 1}}}
                )
            return httpx.Response(200, json={"data": json.loads(request.content), "meta": {}})
        if parts[:2] == ["v3", "hooks"]:
            return httpx.Response(200, json={"data": json.loads(request.content), "meta": {}})
        order_id = int(parts[2])
        if len(parts) == 3:
            found = [o for o in self.orders if o["id"] == order_id]
            return httpx.Response(200, json=found[0]) if found else _not_found()
        lists = {"products": self.products, "coupons": self.coupons}[parts[3]]
        if order_id not in lists:
            return _not_found()
        page, limit = int(request.url.params["page"]), int(request.url.params["limit"])
        shown = lists[order_id][(page - 1) * limit : page * limit]
        return httpx.Response(200, json=shown) if shown else httpx.Response(204)

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/stores/abc123") for r in self.requests]


def _not_found() -> httpx.Response:
    return httpx.Response(
        404, json=[{"status": 404, "message": "The requested resource was not found."}]
    )


def test_known_statuses_are_the_fifteen_system_ids() -> None:
    assert connector.known_statuses == {str(n) for n in range(15)}


def test_polled_orders_carry_their_products_and_coupons() -> None:
    plain, couponed, vanished = (_fixture("order") | {"id": n} for n in (100, 101, 102))
    couponed["coupon_discount"] = "5.0000"
    store = FakeStore([plain, couponed, vanished], {100: _fixture("order_products"), 101: []})
    store.coupons[101] = [{"id": 1, "coupon_id": 3, "order_id": 101, "code": "SPRING10"}]
    window = Window(since=SENT, until=SENT + timedelta(hours=1))

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(store)
    ) as client:
        pages = list(connector.order_pages(client, window))

    records = [raw for page in pages for raw in page.records]
    # The order archived between the listing and its lines (404) is left for the next sync.
    assert [raw["id"] for raw in records] == [100, 101]
    assert [len(raw["products"]) for raw in records] == [2, 0]
    # No coupon took anything off the first: its coupons were not asked for, still a link.
    assert records[0]["coupons"]["resource"] == "/orders/100/coupons"
    assert connector.to_order(records[1]).discount_codes == ("SPRING10",)
    assert store.paths() == [
        "/v2/orders",
        "/v2/orders/100/products",
        "/v2/orders/101/products",
        "/v2/orders/101/coupons",
        "/v2/orders/102/products",
    ]
    assert store.requests[1].url.params["limit"] == "250"


def test_an_order_with_more_than_250_lines_is_read_page_by_page() -> None:
    line = _fixture("order_products")[0]
    store = FakeStore([_fixture("order")], {100: [line | {"id": n} for n in range(251)]})

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(store)
    ) as client:
        raw = connector.fetch_order(client, "100")

    assert raw is not None
    assert len(raw["products"]) == 251
    assert [r.url.params.get("page") for r in store.requests[1:]] == ["1", "2"]


def test_fetch_order_reads_the_order_with_its_lines_and_none_when_gone() -> None:
    store = FakeStore([_fixture("order")], {100: _fixture("order_products")})

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(store)
    ) as client:
        fetched = connector.fetch_order(client, "100")
        gone = connector.fetch_order(client, "250")
        with pytest.raises(ValueError, match="expected a BigCommerce order id"):
            connector.fetch_order(client, "../store")

    assert fetched is not None
    assert connector.to_order(fetched) == connector.to_order(_order())
    assert gone is None


def test_register_webhooks_adds_missing_scopes_and_reactivates_deactivated_ones() -> None:
    url = "https://shoptrack.example/webhooks/bigcommerce/int_1"
    store = FakeStore([], {})
    store.hooks = [
        {"id": 1, "scope": "store/order/created", "destination": url, "is_active": True},
        {"id": 2, "scope": "store/order/updated", "destination": url, "is_active": False},
        {
            "id": 3,
            "scope": "store/order/statusUpdated",
            "destination": "https://elsewhere/",
            "is_active": True,
        },
    ]

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(store)
    ) as client:
        health = connector.webhook_health(client, url)
        connector.register_webhooks(client, url, _credentials())

    assert health.missing_topics == ("store/order/statusUpdated", "store/order/refund/created")
    assert health.disabled == ({"id": 2, "topic": "store/order/updated", "status": "inactive"},)
    writes = [
        (r.method, r.url.path.removeprefix("/stores/abc123"), json.loads(r.content))
        for r in store.requests
        if r.method != "GET"
    ]
    assert writes == [
        ("PUT", "/v3/hooks/2", {"is_active": True}),
        (
            "POST",
            "/v3/hooks",
            {"scope": "store/order/statusUpdated", "destination": url, "is_active": True},
        ),
        (
            "POST",
            "/v3/hooks",
            {"scope": "store/order/refund/created", "destination": url, "is_active": True},
        ),
    ]
    assert store.requests[0].url.params["destination"] == url


def test_a_wildcard_hook_covers_every_order_scope() -> None:
    url = "https://shoptrack.example/webhooks/bigcommerce/int_1"
    store = FakeStore([], {})
    store.hooks = [{"id": 9, "scope": "store/order/*", "destination": url, "is_active": True}]

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(store)
    ) as client:
        connector.register_webhooks(client, url, _credentials())
        health = connector.webhook_health(client, url)

    assert [r.method for r in store.requests] == ["GET", "GET"]
    assert (health.missing_topics, health.disabled) == ((), ())


def test_a_429_waits_until_the_quota_window_resets() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "1500"}, json={}),
            httpx.Response(500, headers={"X-Rate-Limit-Time-Reset-Ms": "15000"}, json=[]),
            httpx.Response(204, headers={"X-Rate-Limit-Time-Reset-Ms": "14000"}),
        ]
    )
    sleeps: list[float] = []
    client = connector.client(
        _credentials(),
        guard=SIMULATOR_GUARD,
        transport=httpx.MockTransport(lambda _: next(answers)),
        sleep=sleeps.append,
    )

    with client:
        assert client.get("/v2/orders").status_code == 204

    # The reset on the 429; ordinary backoff after the 500, whose reset header means nothing.
    assert sleeps == [1.5, 1.0]
