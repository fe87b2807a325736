"""The Shopify connector: order mapping from REST Admin ``2025-01`` JSON (the shape of webhooks,
and of GraphQL order nodes once converted) and webhooks; reading through GraphQL is
``test_shopify_graphql.py``.

The fixtures are Shopify's own examples: ``shopify_orders_2025-01.json`` is the documented
``GET /admin/api/2025-01/orders.json`` response and ``shopify_checkout_2025-01.json`` the
documented ``GET /admin/api/2025-01/checkouts.json`` one (both from ``Shopify/shopify-app-js``),
and ``shopify_order_legacy.json`` / ``shopify_refund.json`` come from the Python ``ShopifyAPI``
client's test fixtures (an older field set).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoptrack.connectors.base import WebhookVerdict, Window, clean_credentials
from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreError
from shoptrack.connectors.shopify import Shopify, ShopifyCredentials
from shoptrack.domain.events import Metric, Person
from shoptrack.domain.lifecycle import stages_of
from shoptrack.domain.order import Address, LineItem
from shoptrack.domain.status import Lifecycle
from shoptrack.errors import InputError
from shoptrack.testing import SIMULATOR_GUARD

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "shpss_client_secret_1"
SHOP = "jsmith.myshopify.com"
WINDOW = Window(
    since=datetime(2025, 3, 9, 14, 0, tzinfo=UTC), until=datetime(2025, 3, 9, 15, 0, tzinfo=UTC)
)

connector = Shopify()


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def official_order() -> dict[str, Any]:
    """Order #1001 of the 2025-01 documentation example, a fresh copy per call."""
    orders: list[dict[str, Any]] = _fixture("shopify_orders_2025-01.json")["orders"]
    return copy.deepcopy(orders[0])


def _credentials(**fields: Any) -> ShopifyCredentials:
    credentials, _ = clean_credentials(
        ShopifyCredentials, {"shop_domain": SHOP, "access_token": "shpat_123", **fields}
    )
    assert isinstance(credentials, ShopifyCredentials)
    return credentials


def _signed(
    payload: Any, secret: str, topic: str = "orders/updated"
) -> tuple[dict[str, str], bytes]:
    """A delivery as Shopify sends it, signed here independently of shoptrack's code."""
    body = json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    headers = {
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": base64.b64encode(digest).decode(),
        "x-shopify-shop-domain": SHOP,
        "x-shopify-api-version": "2025-01",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "x-shopify-triggered-at": "2025-03-09T14:30:05.000Z",
    }
    return headers, body


# -- mapping ---------------------------------------------------------------------------------


def test_declares_platform_and_default_rules() -> None:
    assert connector.platform == "shopify"
    assert connector.page_size == 10  # what fits in one GraphQL query's cost
    assert connector.default_rules.stages("pending") == {Lifecycle.PLACED}
    assert Lifecycle.REFUNDED in connector.default_rules.stages("refunded")


def test_maps_the_official_example_order_field_by_field() -> None:
    order = connector.to_order(official_order())

    assert order.platform_order_id == "450789469"
    assert order.number == "#1001"
    # The example writes the shop's offset, five hours west of UTC.
    assert order.created_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.created_at.tzinfo is UTC
    assert order.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.raw_status == "partially_refunded"
    assert order.total == Decimal("598.94")
    assert order.currency == "USD"
    assert order.email == "bob.norman@mail.example.com"
    assert order.phone == "+557734881234"
    assert (order.first_name, order.last_name) == ("Bob", "Norman")
    assert order.discount_codes == ("TENOFF",)
    assert order.discount_total == Decimal("10.00")
    # One refund, one successful refund transaction of 209.00.
    assert order.refunded_total == Decimal("209.00")
    assert order.accepts_marketing is False
    assert order.is_test is False
    assert order.status_fallback is None
    assert order.cancelled_at is None
    assert order.fulfilled_at is None
    assert order.customer_id == "207119551"
    expected_address = Address(
        first_name="Bob",
        last_name="Norman",
        address1="Chestnut Street 92",
        city="Louisville",
        region="Kentucky",
        region_code="KY",
        country="United States",
        country_code="US",
        zip="40202",
        phone="+1(502)-459-2181",
    )
    assert order.billing_address == expected_address
    assert order.shipping_address == expected_address
    assert order.line_items == (
        LineItem(
            line_id="466157049",
            name="IPod Nano - 8gb - green",
            quantity=1,
            item_price=Decimal("199.00"),
            row_total=Decimal("195.66"),
            product_id="632910392",
            sku="IPOD2008GREEN",
        ),
        LineItem(
            line_id="518995019",
            name="IPod Nano - 8gb - red",
            quantity=1,
            item_price=Decimal("199.00"),
            row_total=Decimal("195.67"),
            product_id="632910392",
            sku="IPOD2008RED",
        ),
        LineItem(
            line_id="703073504",
            name="IPod Nano - 8gb - black",
            quantity=1,
            item_price=Decimal("199.00"),
            row_total=Decimal("195.67"),
            product_id="632910392",
            sku="IPOD2008BLACK",
        ),
    )


def test_money_is_exact_decimal() -> None:
    order = connector.to_order(official_order())
    raw = official_order()

    # The discount allocations share the 10.00 code across the lines to the cent.
    rows = sum(line.row_total for line in order.line_items)
    assert rows == Decimal(raw["total_line_items_price"]) - order.discount_total
    assert rows + Decimal(raw["total_tax"]) == order.total
    money = [order.total, order.discount_total, order.refunded_total]
    money += [line.item_price for line in order.line_items]
    money += [line.row_total for line in order.line_items]
    assert all(type(amount) is Decimal for amount in money)


def test_row_total_multiplies_the_price_and_subtracts_every_allocation() -> None:
    raw = official_order()
    line = raw["line_items"][0]
    line["quantity"] = 3
    line["price"] = "0.10"
    line["discount_allocations"] = [{"amount": "0.01"}, {"amount": "0.02"}]

    mapped = connector.to_order(raw).line_items[0]

    assert (mapped.item_price, mapped.row_total) == (Decimal("0.10"), Decimal("0.27"))


def test_maps_the_older_client_fixture() -> None:
    # ShopifyAPI's fixture: no contact_email, no refunds, no discount allocations.
    order = connector.to_order(_fixture("shopify_order_legacy.json")["order"])

    assert order.raw_status == "authorized"
    assert order.email == "bob.norman@hostmail.com"
    assert order.total == Decimal("409.94")
    assert order.refunded_total == Decimal(0)
    assert order.discount_total == Decimal("0.00")
    assert [line.row_total for line in order.line_items] == [Decimal("199.00")] * 3
    assert order.customer_id == "207119551"
    assert order.phone is None


def test_email_falls_back_on_contact_email_then_the_customer() -> None:
    raw = official_order()
    raw["email"] = ""
    raw["contact_email"] = "contact@example.com"
    assert connector.to_order(raw).email == "contact@example.com"

    raw["contact_email"] = None
    raw["customer"]["email"] = "customer@example.com"
    assert connector.to_order(raw).email == "customer@example.com"


def test_guest_order_takes_its_names_from_the_billing_address() -> None:
    raw = official_order()
    raw["customer"] = None
    raw["billing_address"]["first_name"] = "Ada"
    raw["shipping_address"] = None

    order = connector.to_order(raw)

    assert (order.first_name, order.last_name) == ("Ada", "Norman")
    assert order.customer_id is None
    assert order.shipping_address is None
    assert order.email == "bob.norman@mail.example.com"


def test_custom_line_without_product() -> None:
    raw = official_order()
    raw["line_items"][0].update(product_id=None, variant_id=None, sku=None, name=None)

    line = connector.to_order(raw).line_items[0]

    assert (line.product_id, line.sku, line.name) == (None, None, "IPod Nano - 8gb")


def test_number_falls_back_on_the_order_number() -> None:
    raw = official_order()
    del raw["name"]

    assert connector.to_order(raw).number == "1001"


@pytest.mark.parametrize(
    ("buyer", "consent", "expected"),
    [
        (True, "not_subscribed", True),
        (False, "subscribed", True),
        (False, "unsubscribed", False),
        (None, "not_subscribed", False),
        (False, None, False),
        (None, None, None),
    ],
)
def test_accepts_marketing(buyer: bool | None, consent: str | None, expected: bool | None) -> None:
    raw = official_order()
    raw["buyer_accepts_marketing"] = buyer
    if consent is None:
        del raw["customer"]["email_marketing_consent"]
    else:
        raw["customer"]["email_marketing_consent"]["state"] = consent

    assert connector.to_order(raw).accepts_marketing is expected


def test_refunded_total_counts_only_successful_refund_transactions() -> None:
    raw = official_order()
    transactions = raw["refunds"][0]["transactions"]
    first = transactions[0]
    transactions += [
        {**first, "id": 2, "amount": "5.50", "status": "success"},
        {**first, "id": 3, "amount": "100.00", "status": "failure"},
        {**first, "id": 4, "amount": "100.00", "status": "pending"},
        {**first, "id": 5, "amount": "100.00", "kind": "capture"},
    ]
    raw["refunds"].append({"id": 2, "transactions": [{**first, "id": 6, "amount": "0.05"}]})
    raw["refunds"].append({"id": 3, "transactions": []})  # a restock without money

    assert connector.to_order(raw).refunded_total == Decimal("214.55")


# -- statuses and markers through the DESIGN lifecycle ----------------------------------------


def _stages(raw: dict[str, Any]) -> frozenset[Lifecycle]:
    return stages_of(connector.to_order(raw), connector.default_rules)


@pytest.mark.parametrize(
    "status",
    ["pending", "authorized", "partially_paid", "paid", "partially_refunded", "voided", "expired"],
)
def test_any_financial_status_places_the_order(status: str) -> None:
    raw = official_order()
    raw["financial_status"] = status

    assert _stages(raw) == {Lifecycle.PLACED}


def test_refunded_status_refunds() -> None:
    raw = official_order()
    raw["financial_status"] = "refunded"

    assert _stages(raw) == {Lifecycle.PLACED, Lifecycle.REFUNDED}


def test_cancelled_at_cancels() -> None:
    raw = official_order()
    raw.update(financial_status="voided", cancelled_at="2025-03-09T10:15:00-04:00")

    order = connector.to_order(raw)

    assert order.cancelled_at == datetime(2025, 3, 9, 14, 15, tzinfo=UTC)
    assert order.raw_status == "voided"
    # First seen cancelled: nothing is placed (DESIGN: the doctor reports it).
    assert stages_of(order, connector.default_rules) == {Lifecycle.CANCELLED}


def test_cancelled_and_refunded() -> None:
    raw = official_order()
    raw.update(financial_status="refunded", cancelled_at="2025-03-09T10:15:00-04:00")

    assert _stages(raw) == {Lifecycle.PLACED, Lifecycle.CANCELLED, Lifecycle.REFUNDED}


def test_fulfilled_uses_the_latest_shipped_fulfilment() -> None:
    raw = official_order()
    failed = raw["fulfillments"][0]
    assert failed["status"] == "failure"
    raw["fulfillment_status"] = "fulfilled"
    raw["fulfillments"] += [
        {**failed, "id": 2, "status": "success", "created_at": "2025-03-09T09:00:00-05:00"},
        {**failed, "id": 3, "status": "success", "created_at": "2025-03-10T09:00:00+01:00"},
        {**failed, "id": 4, "status": "cancelled", "created_at": "2025-03-11T09:00:00Z"},
    ]

    order = connector.to_order(raw)

    assert order.fulfilled_at == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    assert stages_of(order, connector.default_rules) == {Lifecycle.PLACED, Lifecycle.FULFILLED}


def test_fulfilled_without_fulfilments_uses_the_updated_time() -> None:
    raw = official_order()
    raw.update(fulfillment_status="fulfilled", fulfillments=[])

    assert connector.to_order(raw).fulfilled_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("fulfillment_status", [None, "partial", "restocked"])
def test_not_fully_fulfilled_is_not_fulfilled(fulfillment_status: str | None) -> None:
    raw = official_order()
    raw["fulfillment_status"] = fulfillment_status

    assert connector.to_order(raw).fulfilled_at is None
    assert Lifecycle.FULFILLED not in _stages(raw)


def test_the_vendor_is_the_lines_brand() -> None:
    raw = official_order()
    raw["line_items"][0]["vendor"] = "Apple"

    assert [line.brand for line in connector.to_order(raw).line_items] == ["Apple", None, None]


def test_test_orders_are_kept_and_marked() -> None:
    raw = official_order()
    raw["test"] = True

    order = connector.to_order(raw)

    assert order.is_test is True
    assert stages_of(order, connector.default_rules) == {Lifecycle.PLACED}


# -- unreadable input -------------------------------------------------------------------------


def _without(key: str) -> Any:
    def change(raw: dict[str, Any]) -> None:
        del raw[key]

    return change


def _set(key: str, value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        raw[key] = value

    return change


def _set_line(key: str, value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        raw["line_items"][0][key] = value

    return change


def _no_number(raw: dict[str, Any]) -> None:
    del raw["name"], raw["order_number"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_without("id"), "id: missing"),
        (_set("id", "450789469"), "id: expected a non-negative integer"),
        (_no_number, "order_number: missing"),
        (_without("financial_status"), "financial_status: missing"),
        (_set("financial_status", " "), "financial_status: empty"),
        (_without("currency"), "currency: missing"),
        (_without("total_price"), "total_price: missing"),
        (_set("total_price", "598,94"), "total_price: not a decimal amount"),
        (_set("total_price", "Infinity"), "total_price: not a decimal amount"),
        (_set("total_discounts", "ten"), "total_discounts: not a decimal amount"),
        (_without("updated_at"), "updated_at: missing"),
        (_set("created_at", "yesterday"), "created_at: not an ISO 8601"),
        (_set("created_at", "2008-01-10T11:00:00"), "created_at: not an ISO 8601"),
        (_set("cancelled_at", "soon"), "cancelled_at: not an ISO 8601"),
        (_without("line_items"), "line_items: missing"),
        (_set("line_items", {"1": {}}), "line_items: expected a list of objects"),
        (_set("customer", "Bob"), "customer: expected an object"),
        (_set("billing_address", ["Bob"]), "billing_address: expected an object"),
        (_set_line("price", None), r"line_items\[0\].price: missing"),
        (_set_line("quantity", 1.5), r"line_items\[0\].quantity: expected"),
        (_set_line("id", None), r"line_items\[0\].id: missing"),
        (_set_line("product_id", "x"), r"line_items\[0\].product_id: expected"),
        (
            _set_line("discount_allocations", [{"amount": True}]),
            r"line_items\[0\].discount_allocations\[0\].amount: not a decimal amount",
        ),
        (_set("discount_codes", [{"code": ""}]), r"discount_codes\[0\].code: empty"),
        (_set("discount_codes", ["TENOFF"]), "discount_codes: expected a list of objects"),
        (
            _set("refunds", [{"transactions": [{"kind": "refund", "status": "success"}]}]),
            r"refunds\[0\].transactions\[0\].amount: missing",
        ),
        (_set("refunds", [{"transactions": "none"}]), r"refunds\[0\].transactions: expected"),
    ],
)
def test_unreadable_fields_are_named(change: Any, message: str) -> None:
    raw = official_order()
    change(raw)

    with pytest.raises(ValueError, match=f"^{message}"):
        connector.to_order(raw)


def test_unreadable_fulfilment_time_is_named() -> None:
    raw = official_order()
    raw["fulfillment_status"] = "fulfilled"
    raw["fulfillments"][0].update(status="success", created_at="today")

    with pytest.raises(ValueError, match=r"^fulfillments\[0\].created_at: not an ISO 8601"):
        connector.to_order(raw)


# -- credentials and requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        "jsmith.myshopify.com",
        "  JSmith.MyShopify.com ",
        "https://jsmith.myshopify.com/",
        "https://jsmith.myshopify.com/admin",
        "jsmith",
    ],
)
def test_shop_domain_is_normalised(given: str) -> None:
    assert _credentials(shop_domain=given).shop_domain == SHOP


def test_padded_credentials_are_trimmed_and_listed() -> None:
    credentials, trimmed = clean_credentials(
        ShopifyCredentials,
        {"shop_domain": f" {SHOP}", "access_token": "shpat_123\n", "webhook_secret": SECRET},
    )

    assert isinstance(credentials, ShopifyCredentials)
    assert (credentials.shop_domain, credentials.access_token) == (SHOP, "shpat_123")
    assert trimmed == ["access_token", "shop_domain"]


@pytest.mark.parametrize(
    "given", ["shop.example.com", "https://jsmith.myshopify.com.evil.com", "-x.myshopify.com"]
)
def test_bad_shop_domain_is_named(given: str) -> None:
    with pytest.raises(InputError, match=r"credentials\.shop_domain: .*myshopify\.com"):
        _credentials(shop_domain=given)


def test_credentials_without_a_way_in_name_the_client_id_and_the_access_token() -> None:
    with pytest.raises(InputError, match=r"credentials\.client_id: .*access_token") as error:
        clean_credentials(ShopifyCredentials, {"shop_domain": SHOP})
    assert error.value.pointer == "/data/attributes/credentials/client_id"


def test_origin_and_the_token_header() -> None:
    assert connector.origin(_credentials()) == f"https://{SHOP}"
    simulated = _credentials(api_base_url="http://127.0.0.1:8123/")
    assert connector.origin(simulated) == "http://127.0.0.1:8123"
    assert connector.headers(simulated) == {"X-Shopify-Access-Token": "shpat_123"}
    assert connector.auth(simulated) is None


def test_updated_at_needs_an_offset() -> None:
    with pytest.raises(ValueError, match=r"^updated_at: not an ISO 8601"):
        connector.updated_at({"updated_at": "2008-01-10T11:00:00"})


def test_register_webhooks_adds_only_the_missing_topics() -> None:
    delivery_url = "https://track.example.com/webhooks/shopify/7"
    sent: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        if "webhookSubscriptionCreate" in body["query"]:
            created = {"id": "gid://shopify/WebhookSubscription/9", "topic": "X", "uri": ""}
            payload = {"webhookSubscription": created, "userErrors": []}
            return httpx.Response(200, json={"data": {"webhookSubscriptionCreate": payload}})
        hook = {"id": "gid://shopify/WebhookSubscription/1", "topic": "ORDERS_CREATE",
                "uri": delivery_url}  # fmt: skip
        return httpx.Response(200, json={"data": {"webhookSubscriptions": {"nodes": [hook]}}})

    credentials = _credentials(webhook_secret=SECRET)
    with connector.client(
        credentials, guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
    ) as client:
        connector.register_webhooks(client, delivery_url, credentials)

    listed, *created = sent
    assert listed["variables"] == {
        "uri": delivery_url,
        "topics": [
            "ORDERS_CREATE",
            "ORDERS_UPDATED",
            "CHECKOUTS_CREATE",
            "CHECKOUTS_UPDATE",
            "APP_UNINSTALLED",
        ],
    }
    assert [body["variables"] for body in created] == [
        {"topic": topic, "uri": delivery_url}
        for topic in ("ORDERS_UPDATED", "CHECKOUTS_CREATE", "CHECKOUTS_UPDATE", "APP_UNINSTALLED")
    ]
    assert all("webhookSubscription: {uri: $uri, format: JSON}" in b["query"] for b in created)


def test_a_refused_subscription_is_an_error_naming_the_topic() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "webhookSubscriptionCreate" in json.loads(request.content)["query"]:
            error = {"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}
            payload = {"webhookSubscription": None, "userErrors": [error]}
            return httpx.Response(200, json={"data": {"webhookSubscriptionCreate": payload}})
        return httpx.Response(200, json={"data": {"webhookSubscriptions": {"nodes": []}}})

    credentials = _credentials(webhook_secret=SECRET)
    with (
        connector.client(
            credentials, guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
        ) as client,
        pytest.raises(StoreError, match=r"refused the orders/create webhook.*Address is invalid"),
    ):
        connector.register_webhooks(client, "https://track.example.com/hook", credentials)


def test_without_the_client_secret_nothing_is_subscribed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"webhooks": []})

    credentials = _credentials()  # no webhook_secret: no delivery could be verified
    with connector.client(
        credentials, guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
    ) as client:
        connector.register_webhooks(
            client, "https://track.example.com/webhooks/shopify/7", credentials
        )

    assert seen == []


# -- the 60-day window without read_all_orders ---------------------------------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _scopes_store(*handles: str) -> tuple[Any, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        installation = {"accessScopes": [{"handle": handle} for handle in handles]}
        return httpx.Response(200, json={"data": {"currentAppInstallation": installation}})

    return handler, requests


def test_a_window_within_60_days_is_read_whole_without_asking() -> None:
    handler, requests = _scopes_store("read_orders")
    window = Window(NOW - timedelta(days=60), NOW)

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
    ) as client:
        assert connector.readable_window(client, window) == (window, None)

    assert requests == []


def test_a_longer_window_is_read_whole_with_read_all_orders() -> None:
    handler, requests = _scopes_store("read_orders", "read_all_orders")
    window = Window(NOW - timedelta(days=90), NOW)

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
    ) as client:
        assert connector.readable_window(client, window) == (window, None)

    # currentAppInstallation.accessScopes, with the token.
    assert [request.url.path for request in requests] == ["/admin/api/2026-10/graphql.json"]
    assert "currentAppInstallation" in json.loads(requests[0].content)["query"]
    assert requests[0].headers["x-shopify-access-token"] == "shpat_123"


def test_without_read_all_orders_the_window_is_cut_to_60_days_and_the_cut_explained() -> None:
    handler, _ = _scopes_store("read_orders", "write_orders")

    with connector.client(
        _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
    ) as client:
        window, cut = connector.readable_window(client, Window(NOW - timedelta(days=90), NOW))

    assert window == Window(NOW - timedelta(days=60), NOW)
    assert isinstance(cut, StoreConfigError)
    assert (cut.code, cut.kind) == ("scope_missing", "config")
    assert "read_all_orders" in cut.detail
    assert "60 days" in cut.detail
    assert "write_orders" in cut.store_answer  # what the token has, for the doctor


def test_unreadable_access_scopes_are_a_data_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"currentAppInstallation": {"scopes": "x"}}})

    with (
        connector.client(
            _credentials(), guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler)
        ) as client,
        pytest.raises(StoreDataError, match="accessScopes"),
    ):
        connector.readable_window(client, Window(NOW - timedelta(days=61), NOW))


# -- webhooks ---------------------------------------------------------------------------------


def test_accepts_a_delivery_signed_with_the_secret() -> None:
    headers, body = _signed(official_order(), SECRET)

    check = connector.check_webhook([SECRET], headers, body)

    assert check.verdict is WebhookVerdict.ACCEPTED
    assert (check.topic, check.delivery_id, check.reason) == (
        "orders/updated",
        "98880550-7158-44d4-b7cd-2c97c8a091b5",
        None,
    )


def test_delivery_id_falls_back_on_the_webhook_id() -> None:
    headers, body = _signed(official_order(), SECRET)
    del headers["x-shopify-event-id"]

    check = connector.check_webhook([SECRET], headers, body)

    assert check.delivery_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def test_accepts_the_rotated_secret_too() -> None:
    headers, body = _signed(official_order(), "shpss_new")

    assert connector.check_webhook([SECRET, "shpss_new"], headers, body).verdict is (
        WebhookVerdict.ACCEPTED
    )


def test_rejects_a_wrong_secret() -> None:
    headers, body = _signed(official_order(), "someone-else")

    check = connector.check_webhook([SECRET, "shpss_new"], headers, body)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == "signature does not match the webhook secret"


def test_rejects_a_body_changed_after_signing() -> None:
    headers, body = _signed(official_order(), SECRET)
    reencoded = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert reencoded != body

    assert connector.check_webhook([SECRET], headers, reencoded).verdict is WebhookVerdict.REJECTED


def test_rejects_a_missing_signature() -> None:
    headers, body = _signed(official_order(), SECRET)
    del headers["x-shopify-hmac-sha256"]

    check = connector.check_webhook([SECRET], headers, body)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == "missing X-Shopify-Hmac-Sha256 header"


def test_rejects_when_no_secret_is_configured() -> None:
    headers, body = _signed(official_order(), SECRET)

    check = connector.check_webhook([], headers, body)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == "no webhook secret is configured for this integration"


def test_webhook_secrets_include_the_previous_ones() -> None:
    secrets = connector.webhook_secrets(
        _credentials(webhook_secret=SECRET, previous_webhook_secrets=["old"]).model_dump()
    )

    assert secrets == [SECRET, "old"]


@pytest.mark.parametrize(
    "topic",
    [
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/edited",
    ],
)
def test_order_topics_carry_the_order(topic: str) -> None:
    headers, body = _signed(official_order(), SECRET, topic=topic)
    check = connector.check_webhook([SECRET], headers, body)

    orders = connector.orders_from_webhook(check.topic, json.loads(body))

    assert [order.platform_order_id for order in orders] == ["450789469"]
    assert orders[0].total == Decimal("598.94")


def test_refunds_create_carries_a_refund_and_names_its_order_for_fetching() -> None:
    refund = _fixture("shopify_refund.json")["refund"]
    headers, body = _signed(refund, SECRET, topic="refunds/create")
    check = connector.check_webhook([SECRET], headers, body)

    assert check.verdict is WebhookVerdict.ACCEPTED
    assert connector.orders_from_webhook(check.topic, json.loads(body)) == []
    assert connector.order_ids_from_webhook(check.topic, json.loads(body)) == ["450789469"]


@pytest.mark.parametrize("topic", ["orders/updated", "checkouts/create", "orders/delete"])
def test_other_topics_name_no_order_to_fetch(topic: str) -> None:
    assert connector.order_ids_from_webhook(topic, official_order()) == []


def test_a_refund_without_its_order_id_is_named() -> None:
    with pytest.raises(ValueError, match=r"^order_id: missing"):
        connector.order_ids_from_webhook("refunds/create", {"id": 509562969})


# -- checkouts: Started Checkout ----------------------------------------------------------------


def official_checkout() -> dict[str, Any]:
    """The 2025-01 documentation's abandoned checkout, a fresh copy per call."""
    checkouts: list[dict[str, Any]] = _fixture("shopify_checkout_2025-01.json")["checkouts"]
    return copy.deepcopy(checkouts[0])


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_a_checkout_webhook_records_started_checkout(topic: str) -> None:
    headers, body = _signed(official_checkout(), SECRET, topic=topic)
    check = connector.check_webhook([SECRET], headers, body)
    assert check.verdict is WebhookVerdict.ACCEPTED

    (draft,) = connector.drafts_from_webhook(check.topic, json.loads(body))

    assert connector.orders_from_webhook(check.topic, json.loads(body)) == []
    assert draft.metric == Metric.STARTED_CHECKOUT
    assert draft.person == Person(
        email="bob.norman@mail.example.com",
        phone_number="+16136120707",
        first_name="Bob",
        last_name="Norman",
    )
    assert draft.time == datetime(2012, 10, 12, 11, 5, 27, tzinfo=UTC)
    assert draft.unique_id.startswith("2a1ace52255252df566af0faaedfbfa7-")
    assert (draft.value, draft.value_currency) == (Decimal("379.69"), "USD")
    assert draft.backfill is False
    assert draft.properties == {
        "CheckoutURL": (
            "https://checkout.local/548380009/checkouts/2a1ace52255252df566af0faaedfbfa7/recover"
        ),
        "ItemNames": ["IPod Nano - 8GB - Red", "IPod Nano - 8GB - Pink"],
        "Categories": [],
        "Brands": ["Apple"],
        "DiscountCode": "TENOFF",
        "DiscountValue": 39.8,
        "Items": [
            {
                "ProductID": "632910392",
                "SKU": sku,
                "ProductName": f"IPod Nano - 8GB - {colour}",
                "Quantity": 1,
                "ItemPrice": 199.0,
                "RowTotal": 179.1,  # less its share of the TENOFF code
                "ProductURL": None,
                "ImageURL": None,
                "Categories": [],
                "Brand": "Apple",
            }
            for sku, colour in (("IPOD2008RED", "Red"), ("IPOD2008PINK", "Pink"))
        ],
    }


def _started(raw: dict[str, Any], topic: str = "checkouts/update") -> list[Any]:
    return connector.drafts_from_webhook(topic, raw)


def test_the_same_cart_is_one_started_checkout_a_changed_cart_another() -> None:
    (first,) = _started(official_checkout(), "checkouts/create")
    # A later step of the same checkout: an address and a shipping rate, a new updated_at.
    step = official_checkout()
    step.update(updated_at="2012-10-12T07:09:00-04:00", total_price="389.69")
    (stepped,) = _started(step)
    (repeated,) = _started(official_checkout())
    grown = official_checkout()
    grown["line_items"][0]["quantity"] = 2
    (changed,) = _started(grown)
    reordered = official_checkout()
    reordered["line_items"].reverse()
    (same_items,) = _started(reordered)

    assert first.unique_id == stepped.unique_id == repeated.unique_id == same_items.unique_id
    assert changed.unique_id != first.unique_id
    assert changed.unique_id.startswith("2a1ace52255252df566af0faaedfbfa7-")


def test_no_started_checkout_before_the_buyer_gives_a_contact() -> None:
    raw = official_checkout()
    raw.update(email=None, phone=None, customer=None)

    assert _started(raw) == []


def test_a_contact_that_identifies_no_one_is_no_contact() -> None:
    raw = official_checkout()
    raw.update(email="bob at example", phone=None, customer=None)
    assert _started(raw) == []

    raw["phone"] = "+44 20 7946 0958"
    (draft,) = _started(raw)
    assert (draft.person.email, draft.person.phone_number) == (None, "+442079460958")
    # Without a customer the names come from the billing address.
    assert (draft.person.first_name, draft.person.last_name) == ("Bob", "Norman")


def test_the_customer_names_the_buyer_when_the_checkout_does_not() -> None:
    raw = official_checkout()
    raw["email"] = None

    (draft,) = _started(raw)

    assert draft.person.email == "bob.norman@mail.example.com"


def test_a_completed_checkout_records_no_started_checkout() -> None:
    raw = official_checkout()
    raw["completed_at"] = "2012-10-12T07:15:00-04:00"

    assert _started(raw) == []


def test_numeric_ids_of_older_payloads_are_read_too() -> None:
    raw = official_checkout()
    for line in raw["line_items"]:
        line["product_id"], line["variant_id"] = 632910392, 49148385

    (draft,) = _started(raw)

    assert [item["ProductID"] for item in draft.properties["Items"]] == ["632910392"] * 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_without("token"), "token: missing"),
        (_without("total_price"), "total_price: missing"),
        (_set("updated_at", "2012-10-12T07:05:27"), "updated_at: not an ISO 8601"),
        (_set("line_items", "none"), "line_items: expected a list of objects"),
        (_set_line("price", "free"), r"line_items\[0\].price: not a decimal amount"),
        (_set_line("title", None), r"line_items\[0\].title: missing"),
    ],
)
def test_unreadable_checkout_fields_are_named(change: Any, message: str) -> None:
    raw = official_checkout()
    change(raw)

    with pytest.raises(ValueError, match=f"^{message}"):
        _started(raw)


def test_a_checkout_topic_without_a_checkout_object_is_named() -> None:
    with pytest.raises(ValueError, match=r"^payload: expected a Shopify checkout object"):
        connector.drafts_from_webhook("checkouts/create", [official_checkout()])


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated", "refunds/create", ""])
def test_other_topics_record_no_started_checkout(topic: str) -> None:
    assert connector.drafts_from_webhook(topic, official_checkout()) == []


@pytest.mark.parametrize("topic", ["orders/delete", "customers/update", "checkouts/create", ""])
def test_other_topics_carry_no_orders(topic: str) -> None:
    assert connector.orders_from_webhook(topic, official_order()) == []


def test_an_order_topic_without_an_order_object_is_named() -> None:
    with pytest.raises(ValueError, match=r"^payload: expected a Shopify order object"):
        connector.orders_from_webhook("orders/create", [official_order()])


def test_event_style_headers_without_the_prefix() -> None:
    headers, body = _signed(official_order(), SECRET, topic="orders/paid")
    unprefixed = {name.removeprefix("x-"): value for name, value in headers.items()}

    check = connector.check_webhook([SECRET], unprefixed, body)

    assert check.verdict is WebhookVerdict.ACCEPTED
    assert (check.topic, check.delivery_id) == (
        "orders/paid",
        "98880550-7158-44d4-b7cd-2c97c8a091b5",
    )
