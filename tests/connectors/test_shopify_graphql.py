"""Shopify read through the GraphQL Admin API: the queries shoptrack sends are valid against the
pinned schema (``tests/reference/shopify/``) and within one query's cost; an order read by
GraphQL maps to the very Order its REST webhook maps to; Shopify's cost limit is waited out;
the app's scopes come from ``currentAppInstallation``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema, parse, validate

from shoptrack.clock import FrozenClock
from shoptrack.connectors._shopify_graphql import (
    API_VERSION,
    DOCUMENTS,
    LINES_PER_ORDER,
    ORDERS_QUERY,
    rest_order,
)
from shoptrack.connectors.base import Window, clean_credentials
from shoptrack.connectors.errors import StoreConfigError, StoreTransientError
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.shopify import Shopify, ShopifyCredentials
from shoptrack.simulators._shopify_graphql import MAX_QUERY_COST, costs
from shoptrack.simulators.shopify import ShopifySimulator
from shoptrack.testing import SIMULATOR_GUARD
from tests.stores import serving

REFERENCE = Path(__file__).parents[1] / "reference" / "shopify"
SCHEMA_FILE = REFERENCE / f"admin_{API_VERSION}_subset.graphql"
SIMULATOR_SCHEMA = (
    Path(__file__).parents[2] / "src" / "shoptrack" / "simulators" / "shopify_admin.graphql"
)
connector = Shopify()
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EVERYTHING = Window(NOW - timedelta(days=400), NOW + timedelta(days=1))


# -- the queries against Shopify's schema --------------------------------------------------


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_query_is_valid_against_the_pinned_schema(name: str) -> None:
    schema = build_schema(SCHEMA_FILE.read_text("utf-8"))
    errors = validate(schema, parse(DOCUMENTS[name]))
    assert errors == [], [error.message for error in errors]


def test_a_query_with_a_field_shopify_lacks_is_refused_by_the_check() -> None:
    # The check can fail: REST's spelling is no GraphQL field.
    schema = build_schema(SCHEMA_FILE.read_text("utf-8"))
    wrong = ORDERS_QUERY.replace("displayFinancialStatus", "financial_status")
    assert validate(schema, parse(wrong))


def test_the_simulator_refuses_what_the_schema_refuses(clock: FrozenClock) -> None:
    shop = ShopifySimulator(clock=clock.now)
    wrong = ORDERS_QUERY.replace("displayFinancialStatus", "financial_status")
    with serving(shop.app) as url:
        answer = httpx.post(
            f"{url}/admin/api/{API_VERSION}/graphql.json",
            json={"query": wrong, "variables": {"first": 1, "query": ""}},
            headers={"X-Shopify-Access-Token": shop.access_token},
        )

    assert answer.status_code == 200  # Shopify's errors come with a 200
    (error,) = answer.json()["errors"]
    assert "financial_status" in error["message"]
    assert SCHEMA_FILE.resolve() == SIMULATOR_SCHEMA.resolve()  # one schema for both


def test_an_orders_page_asks_for_no_more_than_one_query_may_cost() -> None:
    schema = build_schema(SCHEMA_FILE.read_text("utf-8"))
    _, variables = connector.orders_request(EVERYTHING, None)
    requested = costs(schema, parse(ORDERS_QUERY), variables)
    assert requested <= MAX_QUERY_COST
    # One more order a page would not fit: the page is as large as the limit allows.
    bigger = costs(schema, parse(ORDERS_QUERY), variables | {"first": variables["first"] + 5})
    assert bigger > MAX_QUERY_COST


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_no_query_asks_for_more_than_one_query_may_cost(name: str) -> None:
    schema = build_schema(SCHEMA_FILE.read_text("utf-8"))
    _, variables = connector.orders_request(EVERYTHING, None)
    assert costs(schema, parse(DOCUMENTS[name]), variables) <= MAX_QUERY_COST


def test_the_orders_request_filters_by_updated_time_and_follows_the_cursor() -> None:
    path, first = connector.orders_request(EVERYTHING, "")
    assert path == f"/admin/api/{API_VERSION}/graphql.json"
    assert first == {
        "first": connector.page_size,
        "after": None,
        "query": "updated_at:>='2025-10-23T12:00:00+00:00'"
        " AND updated_at:<='2026-11-28T12:00:00+00:00'",
    }
    assert connector.orders_request(EVERYTHING, "abc")[1]["after"] == "abc"
    assert "sortKey: UPDATED_AT" in ORDERS_QUERY


# -- one order, as a webhook and as a poll -----------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def shop(clock: FrozenClock) -> ShopifySimulator:
    return ShopifySimulator(clock=clock.now, webhook_delivery="manual")


@pytest.fixture
def client(shop: ShopifySimulator) -> Iterator[tuple[StoreClient, list[float]]]:
    delays: list[float] = []
    with serving(shop.app) as url:
        credentials, _ = clean_credentials(ShopifyCredentials, shop.credentials(url))
        with connector.client(credentials, guard=SIMULATOR_GUARD, sleep=delays.append) as api:
            yield api, delays


def _polled(api: StoreClient) -> dict[str, Any]:
    return {
        str(raw["id"]): raw
        for page in connector.order_pages(api, EVERYTHING)
        for raw in page.records
    }


@pytest.mark.parametrize(
    "status",
    ["pending", "authorized", "paid", "partially_refunded", "refunded", "voided", "cancelled",
     "fulfilled"],
)  # fmt: skip
def test_an_order_polled_through_graphql_is_the_order_its_webhook_carries(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]], status: str
) -> None:
    api, _ = client
    (order_id,) = shop.add_orders(1, statuses=[status], lines=3)

    webhook = connector.to_order(shop.order(order_id))  # what order webhooks carry
    polled = connector.to_order(_polled(api)[str(order_id)])
    fetched = connector.fetch_order(api, str(order_id))

    assert polled == webhook
    assert fetched is not None
    assert connector.to_order(fetched) == webhook
    assert polled.raw_status == shop.order(order_id)["financial_status"]


def test_the_rest_shape_of_a_node_keeps_rests_ids_and_lowercase_statuses() -> None:
    node = {
        "id": "gid://shopify/Order/450789469",
        "legacyResourceId": "450789469",
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
        "totalRefundedSet": {"shopMoney": {"amount": "12.5"}},
        "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/466157049", "quantity": 1}]},
    }
    rest = rest_order(node)
    assert rest["id"] == 450789469
    assert (rest["financial_status"], rest["fulfillment_status"]) == (
        "partially_refunded",
        "partial",
    )
    assert rest["line_items"][0]["id"] == 466157049
    assert rest["refunds"][0]["transactions"][0]["amount"] == "12.5"
    assert (
        rest_order(node | {"displayFulfillmentStatus": "FULFILLMENT_NOT_REQUIRED"})[
            "fulfillment_status"
        ]
        is None
    )


def test_lines_beyond_the_first_page_are_read_on(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    api, _ = client
    (order_id,) = shop.add_orders(1, statuses=["paid"], lines=LINES_PER_ORDER + 3)

    polled = connector.to_order(_polled(api)[str(order_id)])

    assert polled == connector.to_order(shop.order(order_id))
    assert len(polled.line_items) == LINES_PER_ORDER + 3


def test_pages_follow_the_cursor_by_updated_time(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]], clock: FrozenClock
) -> None:
    api, _ = client
    created = shop.add_orders(
        connector.page_size * 2 + 1, statuses=["paid"], interval=timedelta(seconds=1)
    )
    pages = list(connector.order_pages(api, EVERYTHING))

    assert [len(page.records) for page in pages] == [connector.page_size] * 2 + [1]
    ids = [raw["id"] for page in pages for raw in page.records]
    assert ids == created  # oldest change first
    window = Window(clock.now() - timedelta(seconds=5), clock.now())
    recent = [raw["id"] for page in connector.order_pages(api, window) for raw in page.records]
    assert recent == created[-6:]  # both bounds included


# -- the cost limit ----------------------------------------------------------------------------


def test_throttled_queries_are_waited_out_with_the_clients_sleep(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    api, delays = client
    (order_id,) = shop.add_orders(1, statuses=["paid"])
    shop.set_faults({"rate_limit": {"burst": 2, "retry_after": 3}})

    assert list(_polled(api)) == [str(order_id)]
    assert delays == [3.0, 3.0]  # what the bucket lacked, over its restore rate


def test_a_bucket_that_stays_empty_ends_in_a_transient_error(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    api, delays = client
    shop.add_orders(1, statuses=["paid"])
    shop.set_faults({"rate_limit": {"burst": 100, "retry_after": 4}})

    with pytest.raises(StoreTransientError, match="throttling"):
        _polled(api)
    assert delays
    assert set(delays) == {4.0}


def test_an_answer_that_leaves_the_bucket_short_waits_before_the_next_query() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        status = {"maximumAvailable": 2000.0, "currentlyAvailable": 100, "restoreRate": 100.0}
        cost = {"requestedQueryCost": 650, "actualQueryCost": 300, "throttleStatus": status}
        page = {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
        return httpx.Response(200, json={"data": {"orders": page}, "extensions": {"cost": cost}})

    credentials, _ = clean_credentials(
        ShopifyCredentials, {"shop_domain": "acme.myshopify.com", "access_token": "shpat_1"}
    )
    delays: list[float] = []
    with connector.client(
        credentials, guard=SIMULATOR_GUARD, transport=httpx.MockTransport(handler),
        sleep=delays.append,
    ) as api:  # fmt: skip
        (page,) = connector.order_pages(api, EVERYTHING)
        assert page.records == []

    assert delays == [5.5]  # (650 - 100) points at 100 a second
    assert json.loads(requests[0].content)["variables"]["first"] == connector.page_size


# -- scopes ------------------------------------------------------------------------------------


def test_scopes_come_from_the_app_installation(clock: FrozenClock) -> None:
    shop = ShopifySimulator(clock=clock.now, scopes=("read_orders",))
    with serving(shop.app) as url:
        credentials, _ = clean_credentials(ShopifyCredentials, shop.credentials(url))
        with connector.client(credentials, guard=SIMULATOR_GUARD) as api:
            assert connector.access_scopes(api) == {"read_orders"}
            window, cut = connector.readable_window(api, EVERYTHING)

    assert window.since == EVERYTHING.until - timedelta(days=60)
    assert cut is not None
    assert cut.code == "scope_missing"
    assert "read_orders" in (cut.store_answer or "")


def test_a_token_without_read_orders_is_denied_as_a_missing_scope(clock: FrozenClock) -> None:
    shop = ShopifySimulator(clock=clock.now, scopes=("read_products",))
    with serving(shop.app) as url:
        credentials, _ = clean_credentials(ShopifyCredentials, shop.credentials(url))
        with connector.client(credentials, guard=SIMULATOR_GUARD) as api:
            connector.check_credentials(api)  # the shop needs no scope
            with pytest.raises(StoreConfigError) as denied:
                list(connector.order_pages(api, EVERYTHING))

    assert denied.value.code == "scope_missing"
    assert "ACCESS_DENIED" in (denied.value.store_answer or "")
