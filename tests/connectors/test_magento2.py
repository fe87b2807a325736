"""The Magento 2 connector: credentials, requests, paging by ``total_count`` and order mapping
from ``GET /rest/V1/orders`` JSON (``fixtures/magento2/order.json``, a 2.4 order in the shape of
the REST docs' order tutorial)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoptrack.connectors import connector_for
from shoptrack.connectors.base import WebhookVerdict, Window, clean_credentials
from shoptrack.connectors.errors import StoreConfigError, StoreDataError
from shoptrack.connectors.magento2 import Magento2, Magento2Credentials
from shoptrack.connectors.paging import TotalCountPaginator
from shoptrack.domain.order import Address
from shoptrack.domain.status import Lifecycle
from shoptrack.errors import InputError
from shoptrack.testing import SIMULATOR_GUARD

FIXTURE = Path(__file__).parent / "fixtures" / "magento2" / "order.json"
KEYS = {
    "consumer_key": "k" * 32,
    "consumer_secret": "s" * 32,
    "access_token": "t" * 32,
    "access_token_secret": "x" * 32,
}

connector = Magento2()


def _order(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(FIXTURE.read_text())
    raw.update(changes)
    return raw


def _credentials(**entered: Any) -> Magento2Credentials:
    cleaned, _ = clean_credentials(Magento2Credentials, entered)
    assert isinstance(cleaned, Magento2Credentials)
    return cleaned


# -- declarations -------------------------------------------------------------------------------


def test_is_registered_with_the_default_rules() -> None:
    assert connector_for("magento2").platform == "magento2"
    rules = connector.default_rules
    assert rules.stages("pending") == {Lifecycle.PLACED}
    assert rules.stages("pending_payment") == set()  # sent to a gateway, not back yet
    assert rules.stages("complete") == {Lifecycle.PLACED, Lifecycle.FULFILLED}
    assert Lifecycle.CANCELLED in rules.stages("canceled")
    assert Lifecycle.REFUNDED in rules.stages("closed")


def test_a_custom_status_is_judged_by_its_state() -> None:
    order = connector.to_order(_order(status="awaiting_pickup", state="complete"))

    assert (order.raw_status, order.status_fallback) == ("awaiting_pickup", "complete")
    assert connector.default_rules.stages(order.raw_status, order.status_fallback) == {
        Lifecycle.PLACED,
        Lifecycle.FULFILLED,
    }
    # A custom status of the pending_payment state is not placed either.
    waiting = connector.to_order(_order(status="awaiting_wire", state="pending_payment"))
    assert connector.default_rules.stages(waiting.raw_status, waiting.status_fallback) == set()


def test_sends_no_webhooks() -> None:
    check = connector.check_webhook(["secret"], {}, b"{}")

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason
    assert connector.orders_from_webhook("order", _order()) == []


# -- credentials --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "rest_base"),
    [
        ("https://shop.example.com", "https://shop.example.com/rest"),
        ("https://shop.example.com/", "https://shop.example.com/rest"),
        ("https://example.com/store", "https://example.com/store/rest"),
        ("https://shop.example.com/rest", "https://shop.example.com/rest"),
        ("https://shop.example.com/rest/V1/", "https://shop.example.com/rest"),
        ("https://shop.example.com/rest/default/V1", "https://shop.example.com/rest/default"),
        (
            "https://shop.example.com/index.php/rest/all",
            "https://shop.example.com/index.php/rest/all",
        ),
        ("http://127.0.0.1:8080?x=1#top", "http://127.0.0.1:8080/rest"),
    ],
)
def test_the_rest_root_comes_from_what_the_merchant_pasted(base_url: str, rest_base: str) -> None:
    credentials = _credentials(base_url=base_url, access_token="t" * 32)

    assert connector.origin(credentials) == rest_base


def test_api_base_url_replaces_only_the_origin() -> None:
    credentials = _credentials(
        base_url="https://shop.example.com/rest/default",
        access_token="t" * 32,
        api_base_url="http://127.0.0.1:9000",
    )

    assert connector.origin(credentials) == "http://127.0.0.1:9000/rest/default"


def test_four_keys_sign_with_oauth_and_a_token_alone_is_a_bearer() -> None:
    signed = _credentials(base_url="https://shop.example.com", **KEYS)
    bearer = _credentials(base_url="https://shop.example.com", access_token="t" * 32)

    assert signed.signs
    assert isinstance(connector.auth(signed), httpx.Auth)
    assert connector.headers(signed) == {}
    assert not bearer.signs
    assert connector.auth(bearer) is None
    assert connector.headers(bearer) == {"Authorization": f"Bearer {'t' * 32}"}


@pytest.mark.parametrize("left_out", ["consumer_key", "consumer_secret", "access_token_secret"])
def test_a_partial_set_of_oauth_keys_is_named(left_out: str) -> None:
    entered = {"base_url": "https://shop.example.com", **KEYS}
    del entered[left_out]

    with pytest.raises(InputError) as refused:
        clean_credentials(Magento2Credentials, entered)

    assert f"missing: {left_out}" in refused.value.detail


@pytest.mark.parametrize("base_url", ["shop.example.com", "ftp://shop.example.com", "https://"])
def test_a_base_url_that_is_not_an_address_is_refused(base_url: str) -> None:
    with pytest.raises(InputError) as refused:
        clean_credentials(Magento2Credentials, {"base_url": base_url, "access_token": "t"})

    assert refused.value.pointer == "/data/attributes/credentials/base_url"


# -- requests -----------------------------------------------------------------------------------


def _client(
    handler: Callable[[httpx.Request], httpx.Response], **entered: Any
) -> tuple[Any, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    credentials = _credentials(base_url="https://shop.example.com/rest/default/V1", **entered)
    client = connector.client(
        credentials,
        guard=SIMULATOR_GUARD,
        transport=httpx.MockTransport(record),
        sleep=lambda _: None,
    )
    return client, seen


def _search_result(items: list[dict[str, Any]], total: int) -> httpx.Response:
    return httpx.Response(200, json={"items": items, "search_criteria": {}, "total_count": total})


def test_orders_are_asked_for_by_updated_at_in_utc_with_a_unique_tie_break() -> None:
    since = datetime(2026, 3, 8, 1, 59, 59, 750_000, tzinfo=timezone(timedelta(hours=-5)))
    until = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)

    path, params = connector.orders_request(Window(since, until), 3)

    assert path == "/V1/orders"
    group = "searchCriteria[filter_groups]"
    assert params == {
        f"{group}[0][filters][0][field]": "updated_at",
        f"{group}[0][filters][0][value]": "2026-03-08 06:59:59",
        f"{group}[0][filters][0][condition_type]": "gt",
        f"{group}[1][filters][0][field]": "updated_at",
        f"{group}[1][filters][0][value]": "2026-03-08 09:00:00",
        f"{group}[1][filters][0][condition_type]": "lteq",
        "searchCriteria[sortOrders][0][field]": "updated_at",
        "searchCriteria[sortOrders][0][direction]": "ASC",
        "searchCriteria[sortOrders][1][field]": "entity_id",
        "searchCriteria[sortOrders][1][direction]": "ASC",
        "searchCriteria[pageSize]": 100,
        "searchCriteria[currentPage]": 3,
    }


def test_oauth_requests_write_spaces_as_percent_20_and_sign_them() -> None:
    client, seen = _client(lambda request: _search_result([], 0), **KEYS)
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))

    with client:
        list(connector.order_pages(client, window))

    (request,) = seen
    assert b"+" not in request.url.query
    assert b"2026-01-01%2000%3A00%3A00" in request.url.query
    header = request.headers["authorization"]
    assert header.startswith("OAuth ")
    assert 'oauth_signature_method="HMAC-SHA256"' in header
    assert f'oauth_token="{"t" * 32}"' in header
    assert request.url.path == "/rest/default/V1/orders"


def test_bearer_requests_carry_the_token() -> None:
    client, seen = _client(lambda request: _search_result([], 0), access_token="t" * 32)

    with client:
        connector.check_credentials(client)

    (request,) = seen
    assert request.headers["authorization"] == f"Bearer {'t' * 32}"
    assert dict(parse_qsl(urlsplit(str(request.url)).query)) == {"searchCriteria[pageSize]": "1"}


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            {
                "message": "The consumer isn't authorized to access %resources.",
                "parameters": {"resources": "Magento_Sales::actions_view"},
            },
            (
                "The consumer isn't authorized to access Magento_Sales::actions_view."
                " (Magento treated the request as a guest's"
            ),
        ),
        (
            {"message": "The signature is invalid. Verify and try again."},
            "check the consumer secret and access token secret",
        ),
        (
            {
                "message": "The nonce is already being used by the consumer with ID %1",
                "parameters": [1],
            },
            "The nonce is already being used by the consumer with ID 1",
        ),
    ],
)
def test_refused_credentials_are_explained(answer: dict[str, Any], says: str) -> None:
    client, _ = _client(lambda request: httpx.Response(401, json=answer), **KEYS)

    with client, pytest.raises(StoreConfigError) as refused:
        connector.check_credentials(client)

    assert refused.value.code == "credentials_rejected"
    assert says in refused.value.detail
    assert json.loads(refused.value.store_answer) == answer


def test_other_failures_keep_their_classification() -> None:
    client, _ = _client(
        lambda request: httpx.Response(404, json={"message": "Request does not match any route."}),
        access_token="t" * 32,
    )

    with client, pytest.raises(StoreConfigError) as refused:
        connector.check_credentials(client)

    assert refused.value.code == "store_not_found"


# -- paging -------------------------------------------------------------------------------------


def _pages(answers: list[tuple[int, int]], page_size: int = 100) -> list[int]:
    """The pages a sync asks for when the store answers ``(records, total_count)`` in turn."""
    paginator = TotalCountPaginator(connector.total)
    asked = []
    for records, total in answers:
        asked.append(paginator.current)
        if paginator.finished:
            break
        response = _search_result([{}] * records, total)
        paginator.advance(response, records)
    return [page for page in asked if page is not None]


def test_pages_end_when_the_count_is_reached_even_on_a_full_page() -> None:
    assert _pages([(100, 200), (100, 200), (100, 200)]) == [1, 2]


def test_a_short_page_is_not_the_end_where_the_store_caps_the_page_size() -> None:
    # A store answering 20 at a time to pageSize=100: five pages hold the 100 orders.
    assert _pages([(20, 100)] * 6) == [1, 2, 3, 4, 5]


def test_an_empty_page_ends_the_pass_whatever_the_count_says() -> None:
    # The count grew between two pages but the store (2.4) answers nothing past the end.
    assert _pages([(100, 150), (50, 160), (0, 160), (0, 160)]) == [1, 2, 3]


def test_a_page_without_items_or_count_is_unreadable() -> None:
    without_items = json.dumps({"total_count": 3})
    without_count = json.dumps({"items": [], "total_count": "3"})
    for text in (without_items, "[]", "x", "<html>Maintenance</html>"):
        with pytest.raises(StoreDataError):
            connector.records(httpx.Response(200, text=text))
    for text in (without_count, "[]", "x"):
        with pytest.raises(StoreDataError):
            connector.total(httpx.Response(200, text=text))


# -- mapping ------------------------------------------------------------------------------------


def test_maps_a_full_order_field_by_field() -> None:
    order = connector.to_order(_order())

    assert order.platform_order_id == "42"
    assert order.number == "000000042"
    assert order.created_at == datetime(2025, 6, 2, 21, 14, 7, tzinfo=UTC)
    assert order.updated_at == datetime(2025, 6, 2, 21, 20, 45, tzinfo=UTC)
    assert connector.updated_at(_order()) == order.updated_at
    assert (order.raw_status, order.status_fallback) == ("processing", "processing")
    assert order.total == Decimal("81.6")
    assert order.currency == "USD"
    assert order.email == "ines.moreau@example.com"
    assert order.phone == "(512) 555-0148"
    assert (order.first_name, order.last_name) == ("Ines", "Moreau")
    assert order.customer_id == "118"
    assert order.discount_codes == ("SUMMER10",)
    assert order.discount_total == Decimal("7.4")
    assert order.refunded_total == Decimal(0)
    assert order.accepts_marketing is None
    assert order.is_test is False
    assert order.billing_address == Address(
        first_name="Ines",
        last_name="Moreau",
        address1="501 Congress Ave",
        address2="Suite 300",
        city="Austin",
        region="Texas",
        region_code="TX",
        country_code="US",
        zip="78701",
        phone="(512) 555-0148",
    )
    assert order.shipping_address is not None
    assert (order.shipping_address.company, order.shipping_address.city) == (
        "Moreau Design",
        "Round Rock",
    )


def test_a_configurable_product_counts_once_with_its_variants_sku() -> None:
    order = connector.to_order(_order())

    parent, child, band = order.line_items
    assert (parent.name, parent.sku, parent.quantity) == (
        "Mona Pullover Hoodlie",
        "WH01-M-Purple",
        1,
    )
    assert (parent.item_price, parent.row_total) == (Decimal("45.0"), Decimal("40.5"))
    assert (child.parent_line_id, child.item_price) == ("311", Decimal("0.0"))
    assert (band.name, band.quantity, band.row_total) == (
        "Quest Lumaflex™ Band",
        2,
        Decimal("26.1"),
    )
    assert [line.line_id for line in order.counted_lines] == ["311", "313"]


def test_money_is_the_order_currency_not_the_base_one() -> None:
    # An order placed in a store view showing euros on a dollar-based website.
    raw = _order(
        order_currency_code="EUR", grand_total=75.07, base_grand_total=81.6, base_to_order_rate=0.92
    )

    order = connector.to_order(raw)

    assert (order.total, order.currency) == (Decimal("75.07"), "EUR")


def test_a_guest_order_without_shipping_has_no_customer_id_or_shipping_address() -> None:
    raw = _order(customer_is_guest=1, customer_id=None, customer_firstname=None)
    raw["extension_attributes"] = {"shipping_assignments": []}  # a virtual order

    order = connector.to_order(raw)

    assert order.customer_id is None
    assert order.shipping_address is None
    assert order.first_name == "Ines"  # from the billing address


def test_a_refund_and_a_fractional_quantity() -> None:
    raw = _order(total_refunded=81.6, status="closed", state="closed")
    raw["items"][2] = raw["items"][2] | {"qty_ordered": 1.5, "is_qty_decimal": 1}

    order = connector.to_order(raw)

    assert order.refunded_total == Decimal("81.6")
    assert order.line_items[2].quantity == 2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"entity_id": None}, "entity_id"),
        ({"entity_id": "42"}, "entity_id"),
        ({"grand_total": "n/a"}, "grand_total"),
        ({"updated_at": "02/06/2025 21:20"}, "updated_at"),
        ({"created_at": None}, "created_at"),
        ({"items": None}, "items"),
        ({"status": ""}, "status"),
        ({"order_currency_code": None}, "order_currency_code"),
    ],
)
def test_an_unreadable_field_is_named(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        connector.to_order(_order(**change))


def test_an_unreadable_line_is_named_with_its_index() -> None:
    raw = _order()
    raw["items"][1] = {key: value for key, value in raw["items"][1].items() if key != "name"}

    with pytest.raises(ValueError, match=r"items\[1\]\.name"):
        connector.to_order(raw)


def test_times_are_utc_whatever_the_store_timezone() -> None:
    # The API writes UTC without an offset; an offset (a proxy rewriting times) is honoured.
    assert connector.updated_at(_order(updated_at="2026-11-01 06:30:00")) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )
    assert connector.updated_at(_order(updated_at="2026-11-01T01:30:00-05:00")) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


@settings(max_examples=60, deadline=None)  # a loaded machine is no failure
@given(cents=st.integers(min_value=0, max_value=10**10))
def test_totals_survive_the_apis_json_floats_exactly(cents: int) -> None:
    amount = Decimal(cents) / 100
    # PHP's json_encode of the float column, as the API sends it, read back as httpx does.
    body = json.loads(json.dumps({"grand_total": float(amount)}))

    order = connector.to_order(_order(**body))

    assert order.total == amount


def test_the_fixture_is_not_changed_by_mapping() -> None:
    raw = _order()
    before = copy.deepcopy(raw)

    connector.to_order(raw)

    assert raw == before
