"""A Shopify backfill read with a bulk operation: started when a backfill holds more than a page
or two, waited out while the shop's bulk operations are all busy, followed to its end by the
client's injected sleep, its JSONL result downloaded without the store's token through the
outbound guard and read one order at a time into the REST orders webhooks carry."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.connectors._shopify_bulk import BULK_PAGE, bulk_order_pages, result_pages
from shoptrack.connectors._shopify_graphql import (
    API_VERSION,
    BULK_RUN_QUERY,
    LINES_PER_ORDER,
    bulk_orders_query,
)
from shoptrack.connectors.base import OrderPage, Window, clean_credentials
from shoptrack.connectors.errors import (
    StoreConfigError,
    StoreDataError,
    StoreError,
    StoreTransientError,
)
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.shopify import BULK_AFTER_PAGES, Shopify, ShopifyCredentials
from shoptrack.outbound import OutboundGuard
from shoptrack.simulators._shopify_bulk import MAX_RUNNING
from shoptrack.simulators.shopify import ShopifySimulator
from shoptrack.testing import SIMULATOR_GUARD
from tests.connectors import test_shopify_graphql as paged
from tests.stores import serving

# The paged reading's fixtures: its clock, and its shop with webhooks delivered by hand.
clock = paged.clock
shop = paged.shop
NOW = paged.NOW

connector = Shopify()
BACKFILL = Window(NOW - timedelta(days=400), NOW + timedelta(days=1), backfill=True)
MANY = BULK_AFTER_PAGES * connector.page_size + 1  # one more than pages would read


@pytest.fixture
def client(shop: ShopifySimulator, clock: FrozenClock) -> Iterator[tuple[StoreClient, list[float]]]:
    """A client whose sleep moves the shop's clock: waiting is what lets operations end."""
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    with serving(shop.app) as url:
        credentials, _ = clean_credentials(ShopifyCredentials, shop.credentials(url))
        with connector.client(credentials, guard=SIMULATOR_GUARD, sleep=sleep) as api:
            yield api, delays


def _read(api: StoreClient, window: Window = BACKFILL) -> tuple[list[OrderPage], int]:
    pages = list(connector.order_pages(api, window))
    return [page for page in pages if not page.waiting], sum(page.waiting for page in pages)


def test_a_backfill_of_more_than_two_pages_is_read_with_one_bulk_operation(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    api, _ = client
    ids = shop.add_orders(MANY - 1, statuses=["paid", "refunded", "cancelled", "fulfilled"])
    (many_lines,) = shop.add_orders(1, statuses=["partially_refunded"], lines=LINES_PER_ORDER + 4)

    pages, _ = _read(api)

    assert shop.bulk.statuses() == ["COMPLETED"]
    orders = {raw["id"]: raw for page in pages for raw in page.records}
    assert sorted(orders) == sorted([*ids, many_lines])
    for order_id, raw in orders.items():
        # The very order its webhook carries, every line included (bulk reads them all).
        assert connector.to_order(raw) == connector.to_order(shop.order(order_id))
    assert len(orders[many_lines]["line_items"]) == LINES_PER_ORDER + 4
    # Fetched without the store's token, which stays with the Admin API.
    (download,) = shop.bulk.downloads
    assert "x-shopify-access-token" not in download
    assert download["user-agent"].startswith("shoptrack/")


def test_a_small_backfill_and_a_poll_read_pages_without_a_bulk_operation(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    api, _ = client
    shop.add_orders(MANY - 1, statuses=["paid"])
    pages, _ = _read(api)
    assert sum(len(page.records) for page in pages) == MANY - 1

    shop.add_orders(5, statuses=["paid"])
    pages, _ = _read(api, replace(BACKFILL, backfill=False))
    assert sum(len(page.records) for page in pages) == MANY + 4
    assert shop.bulk.statuses() == []


def test_a_running_operation_is_followed_by_the_clients_sleep(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    api, delays = client
    shop.add_orders(MANY, statuses=["paid"])
    shop.bulk_seconds = 40

    pages, waiting = _read(api)

    assert sum(len(page.records) for page in pages) == MANY
    assert waiting == len(delays) > 1  # the sync is told at each look
    assert sum(delays) >= 40
    assert max(delays) <= 30  # looks back often enough


def test_the_shops_busy_bulk_operations_are_waited_out(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]], clock: FrozenClock
) -> None:
    api, delays = client
    shop.add_orders(MANY, statuses=["paid"])
    shop.bulk_seconds = 120
    # Other jobs of the app hold every operation the shop may run at once.
    for _ in range(MAX_RUNNING):
        answer = _graphql(shop, BULK_RUN_QUERY, {"query": bulk_orders_query("")})
        assert answer["userErrors"] == []
    busy = _graphql(shop, BULK_RUN_QUERY, {"query": bulk_orders_query("")})
    assert busy["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    started = clock.now()

    pages, _ = _read(api)

    assert sum(len(page.records) for page in pages) == MANY
    # Not started before the others ended, then run for its own time.
    assert clock.now() - started >= timedelta(seconds=240)
    assert shop.bulk.statuses() == ["COMPLETED"] * (MAX_RUNNING + 1)
    assert delays


@pytest.mark.parametrize(
    ("outcome", "error", "words"),
    [
        ({"status": "FAILED", "error_code": "TIMEOUT"}, StoreTransientError, "TIMEOUT"),
        (
            {"status": "FAILED", "error_code": "INTERNAL_SERVER_ERROR"},
            StoreTransientError,
            "internal error",
        ),
        ({"status": "CANCELED"}, StoreTransientError, "was cancelled"),
        ({"status": "EXPIRED"}, StoreTransientError, "expired"),
        ({"status": "FAILED", "error_code": "ACCESS_DENIED"}, StoreConfigError, "read_orders"),
    ],
)
def test_an_operation_that_does_not_complete_is_a_clear_error(
    shop: ShopifySimulator,
    client: tuple[StoreClient, list[float]],
    outcome: dict[str, Any],
    error: type[StoreError],
    words: str,
) -> None:
    api, _ = client
    shop.add_orders(MANY, statuses=["paid"])
    shop.set_faults({"bulk_outcome": outcome})

    with pytest.raises(error, match="bulk operation") as failed:
        _read(api)

    assert words in failed.value.detail
    assert shop.bulk.downloads == []


def test_a_bulk_query_that_matches_nothing_has_no_file_to_read(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    api, _ = client
    shop.add_orders(3, statuses=["paid"])

    pages = list(bulk_order_pages(api, "updated_at:<='2000-01-01T00:00:00+00:00'"))

    assert all(page.waiting for page in pages)
    assert shop.bulk.statuses() == ["COMPLETED"]
    assert shop.bulk.downloads == []


def test_child_lines_join_the_order_above_them() -> None:
    lines = [
        '{"id":"gid://shopify/Order/1","legacyResourceId":"1","displayFinancialStatus":"PAID"}',
        '{"id":"gid://shopify/LineItem/11","quantity":2,"__parentId":"gid://shopify/Order/1"}',
        "",
        '{"id":"gid://shopify/Order/2","legacyResourceId":"2","displayFinancialStatus":"PAID"}',
    ]
    (page,) = result_pages(iter(lines))
    first, second = page.records
    assert (first["id"], [line["id"] for line in first["line_items"]]) == (1, [11])
    assert (second["id"], second["line_items"]) == (2, [])


def test_an_ungrouped_result_is_refused_rather_than_split() -> None:
    lines = [
        '{"id":"gid://shopify/Order/1","legacyResourceId":"1"}',
        '{"id":"gid://shopify/Order/2","legacyResourceId":"2"}',
        '{"id":"gid://shopify/LineItem/11","__parentId":"gid://shopify/Order/1"}',
    ]
    with pytest.raises(StoreDataError, match="not grouped"):
        list(result_pages(iter(lines)))


def test_the_simulator_writes_children_apart_unless_grouped(shop: ShopifySimulator) -> None:
    shop.add_orders(2, statuses=["paid"], lines=2)
    grouped = {}
    with serving(shop.app) as url:
        for group in (False, True):
            query = BULK_RUN_QUERY.replace(
                "groupObjects: true", f"groupObjects: {str(group).lower()}"
            )
            answer = _post(url, shop, query, {"query": bulk_orders_query("")})
            gid = answer["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
            operation = _post(url, shop, _STATUS, {"id": gid})["data"]["bulkOperation"]
            result = httpx.get(operation["url"]).text
            grouped[group] = ["__parentId" in orjson.loads(line) for line in result.splitlines()]
    assert grouped[True] == [False, True, True, False, True, True]
    assert grouped[False] == [False, False, True, True, True, True]


def test_a_download_goes_through_the_outbound_guard() -> None:
    with (
        StoreClient("https://acme.myshopify.com", guard=OutboundGuard()) as api,
        pytest.raises(StoreConfigError) as refused,
        api.download("http://169.254.169.254/latest/meta-data/", "the result"),
    ):
        pass
    assert refused.value.code == "address_not_allowed"


def test_memory_stays_flat_however_many_orders_the_backfill_holds(
    shop: ShopifySimulator, client: tuple[StoreClient, list[float]]
) -> None:
    """The result is read one order at a time, a page at a time: five times the orders take
    no more memory (``bench/backfill.py --platform shopify`` measures 200,000)."""
    api, _ = client
    peaks = []
    for count in (BULK_PAGE * 2, BULK_PAGE * 10):
        shop.add_orders(count - len(shop.statuses()), statuses=["paid"], lines=3)
        gc.collect()
        tracemalloc.start()
        try:
            seen = sum(len(page.records) for page in connector.order_pages(api, BACKFILL))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert seen == count
    small, large = peaks
    assert large < small * 1.5, peaks


_STATUS = "query($id: ID!) { bulkOperation(id: $id) { id status url } }"


def _post(url: str, shop: ShopifySimulator, query: str, variables: dict[str, Any]) -> Any:
    return httpx.post(
        f"{url}/admin/api/{API_VERSION}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": shop.access_token},
    ).json()


def _graphql(shop: ShopifySimulator, query: str, variables: dict[str, Any]) -> Any:
    with serving(shop.app) as url:
        return _post(url, shop, query, variables)["data"]["bulkOperationRunQuery"]
