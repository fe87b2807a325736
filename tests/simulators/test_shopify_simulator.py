"""The Shopify simulator against Shopify's own Python client (``ShopifyAPI`` from PyPI) on a real
socket, against Shopify's documented example resources, and its webhooks against shoptrack's
verification and mapping."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import shopify
from sqlalchemy import select

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.connectors._shopify_graphql import API_VERSION as GRAPHQL_VERSION
from shoptrack.connectors._shopify_graphql import ORDERS_QUERY
from shoptrack.connectors.base import WebhookVerdict, Window, clean_credentials
from shoptrack.connectors.shopify import Shopify, ShopifyCredentials
from shoptrack.domain.events import Metric
from shoptrack.pipeline.fetch import OrderFetcher
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.catalog import CATALOG
from shoptrack.simulators.shopify import API_VERSION, ShopifySimulator
from shoptrack.store.order_fetches import COALESCE_DELAY
from shoptrack.store.schema import inbox, order_fetches, sync_runs
from shoptrack.testing import SIMULATOR_GUARD, make_shop
from tests.helpers import AppClient, event_counts
from tests.stores import serving

FIXTURES = Path(__file__).parent.parent / "connectors" / "fixtures"
ORDERS = "/admin/api/2025-01/orders.json"
connector = Shopify()


@dataclass
class Store:
    sim: ShopifySimulator
    url: str
    clock: FrozenClock
    http: httpx.Client

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        """A request with the app's token, as a merchant's script would send it."""
        headers = {"X-Shopify-Access-Token": token or self.sim.access_token}
        return self.http.get(path, params=params, headers=headers)

    def follow(self, url: str) -> httpx.Response:
        """The page a ``Link`` header's URL names."""
        return self.http.get(url, headers={"X-Shopify-Access-Token": self.sim.access_token})

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": self.sim.access_token}
        return self.http.request(method, path, json=body, headers=headers)

    def ids(self, **params: Any) -> list[int]:
        response = self.get(ORDERS, **params)
        assert response.status_code == 200, response.text
        return [order["id"] for order in response.json()["orders"]]

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, f"/_sim/{path}", json=body)


@dataclass
class Receiver:
    """A webhook address: keeps each request (lower-case headers, raw body), answers ``status``."""

    status: int = 200
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(({k.lower(): v for k, v in request.headers.items()}, request.content))
        return httpx.Response(self.status)

    def topics(self) -> list[str]:
        return [headers["x-shopify-topic"] for headers, _ in self.requests]

    def bodies(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(b) for h, b in self.requests if h["x-shopify-topic"] == topic]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def store(clock: FrozenClock, receiver: Receiver) -> Iterator[Store]:
    sim = ShopifySimulator(clock=clock.now, webhook_transport=httpx.MockTransport(receiver))
    with serving(sim.app) as url, httpx.Client(base_url=url, timeout=5) as http:
        yield Store(sim, url, clock, http)


def _official(name: str, collection: str) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((FIXTURES / name).read_text())[collection][0]
    return resource


def _same_keys(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where ``ours`` lacks or adds keys against ``theirs``, recursively (lists by their first)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = [] if list(ours) == list(theirs) else [f"{path or '.'}: {list(ours)}"]
        for key in theirs.keys() & ours.keys():
            found += _same_keys(ours[key], theirs[key], f"{path}.{key}")
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and ours and theirs:
        return _same_keys(ours[0], theirs[0], f"{path}[]")
    return []


def _verified(headers: dict[str, str], body: bytes, secret: str) -> str:
    check = connector.check_webhook(["old-secret", secret], headers, body)
    assert check.verdict is WebhookVerdict.ACCEPTED, check.reason
    return check.topic


# -- the official client -----------------------------------------------------------------------


@pytest.fixture
def official_client(store: Store) -> Iterator[None]:
    """ShopifyAPI's session for the shop, its site moved to the simulator over http."""
    session = shopify.Session(store.sim.shop_domain, "2025-01", store.sim.access_token)
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = f"{store.url}/admin/api/2025-01"
    try:
        yield
    finally:
        shopify.ShopifyResource.clear_session()


@pytest.mark.usefixtures("official_client")
def test_official_client_pages_through_orders_by_the_link_header(store: Store) -> None:
    # All in one second, in every status: only the id tie-break keeps pages apart. (Few: the
    # client builds an object per nested resource, slowly.)
    created = store.sim.add_orders(
        25, statuses=["paid", "pending", "fulfilled", "cancelled", "refunded"]
    )

    page = shopify.Order.find(limit=10, status="any")
    seen, pages = [order.id for order in page], 1
    assert not page.has_previous_page()
    while page.has_next_page():
        page = page.next_page()
        assert page.has_previous_page()
        seen += [order.id for order in page]
        pages += 1

    assert pages == 3
    assert len(seen) == len(set(seen)) == 25
    assert sorted(seen) == sorted(created)
    assert seen == sorted(seen, reverse=True)  # newest first
    # The default status=open leaves the archived (fulfilled) and cancelled orders out.
    assert shopify.Order.count() == 5 * 3
    assert shopify.Order.count(status="any") == 25


@pytest.mark.usefixtures("official_client")
def test_official_client_reads_one_order_and_the_shop(store: Store) -> None:
    (order_id,) = store.sim.add_orders(statuses=["authorized"], total="59.90")

    order = shopify.Order.find(order_id)
    shop = shopify.Shop.current()

    assert (order.financial_status, order.total_price, order.name) == (
        "authorized",
        "59.90",
        "#1001",
    )
    assert (shop.myshopify_domain, shop.iana_timezone, shop.currency) == (
        "acme-outfitters.myshopify.com",
        "America/New_York",
        "USD",
    )


def test_official_graphql_client_pages_orders_with_costs(store: Store) -> None:
    created = store.sim.add_orders(3, statuses=["paid", "partially_refunded", "cancelled"])
    session = shopify.Session(store.sim.shop_domain, GRAPHQL_VERSION, store.sim.access_token)
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = f"{store.url}/admin/api/{GRAPHQL_VERSION}"
    try:
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            variables = {"first": 2, "after": after, "query": "updated_at:>='2020-01-01'"}
            answer = json.loads(shopify.GraphQL().execute(ORDERS_QUERY, variables))
            connection = answer["data"]["orders"]
            seen += connection["nodes"]
            cost = answer["extensions"]["cost"]
            assert 0 < cost["actualQueryCost"] <= cost["requestedQueryCost"] <= 1000
            assert cost["throttleStatus"]["restoreRate"] == 100.0
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
    finally:
        shopify.ShopifyResource.clear_session()

    assert [int(node["legacyResourceId"]) for node in seen] == created
    assert [node["displayFinancialStatus"] for node in seen] == [
        "PAID",
        "PARTIALLY_REFUNDED",
        "VOIDED",
    ]
    assert seen[2]["displayFulfillmentStatus"] == "FULFILLMENT_NOT_REQUIRED"


# -- resources as Shopify writes them ----------------------------------------------------------


def test_an_order_has_the_shape_of_shopifys_example(store: Store) -> None:
    (order_id,) = store.sim.add_orders(statuses=["fulfilled"], lines=2)
    store.sim.refund(order_id, "5.00", "scratched")
    store.clock.advance(timedelta(minutes=1))

    ours = store.sim.order(order_id)
    theirs = _official("shopify_orders_2025-01.json", "orders")

    assert _same_keys(ours, theirs) == []
    assert {type(ours[key]) for key in ("id", "order_number", "number")} == {int}
    lines = ours["line_items"]
    assert ours["total_price"] == f"{sum(Decimal(i['price']) * i['quantity'] for i in lines):.2f}"
    assert ours["total_price_set"]["shop_money"] == {
        "amount": ours["total_price"],
        "currency_code": "USD",
    }
    # The shop's wall clock with its offset (New York, in winter).
    assert ours["created_at"].endswith("-05:00")
    assert (ours["financial_status"], ours["fulfillment_status"]) == (
        "partially_refunded",
        "fulfilled",
    )
    assert ours["refunds"][0]["transactions"][0]["amount"] == "5.00"
    assert connector.to_order(ours).refunded_total == Decimal("5.00")


def test_a_checkout_has_the_shape_of_shopifys_example(store: Store) -> None:
    token = store.sim.add_checkout(lines=2)

    ours = store.sim.checkout(token)
    theirs = _official("shopify_checkout_2025-01.json", "checkouts")

    assert _same_keys(ours, theirs) == []
    assert isinstance(ours["id"], str)
    assert ours["token"] == token
    assert ours["abandoned_checkout_url"].startswith(
        f"https://acme-outfitters.myshopify.com/548380009/checkouts/{token}/recover"
    )


def test_shop_and_access_scopes(store: Store) -> None:
    shop = store.get("/admin/api/2025-01/shop.json").json()["shop"]
    assert (shop["iana_timezone"], shop["currency"], shop["money_format"]) == (
        "America/New_York",
        "USD",
        "${{amount}}",
    )
    assert shop["timezone"] == "(GMT-05:00) America/New_York"
    store.sim.set_faults({"site_timezone": "Europe/Berlin"})
    assert store.get("/admin/api/2025-01/shop.json", fields="iana_timezone").json() == {
        "shop": {"iana_timezone": "Europe/Berlin"}
    }

    limited = store.sim.add_token(["read_products"])
    assert store.get("/admin/oauth/access_scopes.json", limited).json() == {
        "access_scopes": [{"handle": "read_products"}]
    }
    assert [
        s["handle"] for s in store.get("/admin/oauth/access_scopes.json").json()["access_scopes"]
    ] == [
        "read_orders",
        "write_orders",
        "read_all_orders",
    ]


# -- listing -----------------------------------------------------------------------------------


def test_updated_at_bounds_are_inclusive_and_compare_instants(store: Store) -> None:
    cut = datetime(2026, 11, 20, 12, tzinfo=UTC)
    before, at_cut, after = (
        store.sim.add_orders(statuses=["paid"], created=cut + offset)[0]
        for offset in (timedelta(seconds=-1), timedelta(0), timedelta(seconds=1))
    )

    assert store.ids(updated_at_min="2026-11-20T12:00:00Z", status="any") == [after, at_cut]
    # The same instant in New York's wall clock, with its offset.
    assert store.ids(updated_at_max="2026-11-20T07:00:00-05:00", status="any") == [at_cut, before]
    # Without an offset: the shop's wall clock [as the simulator reads it].
    assert store.ids(updated_at_min="2026-11-20T07:00:01", status="any") == [after]
    bad = store.get(ORDERS, updated_at_min="yesterday")
    assert (bad.status_code, list(bad.json()["errors"])) == (400, ["updated_at_min"])


def test_filters_sorting_fields_and_count(store: Store) -> None:
    paid, pending, cancelled, fulfilled = (
        store.sim.add_orders(statuses=[s])[0] for s in ("paid", "pending", "cancelled", "fulfilled")
    )
    assert store.ids() == [pending, paid]  # open orders, newest first
    assert store.ids(status="cancelled") == [cancelled]
    assert store.ids(status="closed") == [fulfilled, cancelled]
    assert store.ids(status="any", financial_status="paid") == [fulfilled, paid]
    assert store.ids(status="any", fulfillment_status="shipped") == [fulfilled]
    assert store.ids(status="any", since_id=paid) == [pending, cancelled, fulfilled]
    assert store.ids(status="any", order="id asc", ids=f"{fulfilled},{paid}") == [paid, fulfilled]
    assert store.ids(status="any", name="#1002") == [pending]
    trimmed = store.get(ORDERS, status="any", fields="id,updated_at", limit=1).json()["orders"]
    assert [set(order) for order in trimmed] == [{"id", "updated_at"}]
    assert store.get("/admin/api/2025-01/orders/count.json", status="any").json() == {"count": 4}
    assert store.get(f"/admin/api/2025-01/orders/{paid}.json").json()["order"]["id"] == paid


def test_link_headers_page_both_ways_and_refuse_filters_beside_page_info(store: Store) -> None:
    created = store.sim.add_orders(5, interval=timedelta(minutes=1))
    first = store.get(ORDERS, limit=2, status="any")
    assert set(first.links) == {"next"}
    middle = store.follow(first.links["next"]["url"])
    assert set(middle.links) == {"previous", "next"}
    assert "limit=2" in middle.links["next"]["url"]
    last = store.follow(middle.links["next"]["url"])
    assert set(last.links) == {"previous"}
    back = store.follow(last.links["previous"]["url"])
    pages = [first, middle, last]
    oldest, second, third, fourth, newest = created
    assert [[o["id"] for o in p.json()["orders"]] for p in pages] == [
        [newest, fourth],
        [third, second],
        [oldest],
    ]
    assert back.json() == middle.json()
    assert "link" not in store.get(ORDERS, status="any").headers  # one page: no Link at all

    page_info = first.links["next"]["url"].split("page_info=")[1]
    refused = store.get(ORDERS, page_info=page_info, status="any", updated_at_min="2026-01-01")
    assert refused.status_code == 400
    assert refused.json() == {
        "errors": {
            name: f"{name} cannot be passed when page_info is present. See"
            " https://shopify.dev/api/usage/pagination-rest for more information."
            for name in ("status", "updated_at_min")
        }
    }
    tampered = store.get(ORDERS, page_info=page_info[:-3] + "@@@")
    assert tampered.json() == {"errors": {"page_info": "Invalid value."}}


def test_orders_older_than_60_days_need_read_all_orders(store: Store) -> None:
    now = store.clock.now()
    (old,) = store.sim.add_orders(created=now - timedelta(days=61))
    (recent,) = store.sim.add_orders(created=now - timedelta(days=59))
    store.sim.set_status(old, "refunded")  # updated now, created long ago: still hidden
    limited = store.sim.add_token(["read_orders"])

    assert store.get(ORDERS, limited, status="any").json()["orders"][0]["id"] == recent
    assert len(store.get(ORDERS, limited, status="any").json()["orders"]) == 1
    assert store.get(f"/admin/api/2025-01/orders/{old}.json", limited).status_code == 404
    assert store.get("/admin/api/2025-01/orders/count.json", limited, status="any").json() == {
        "count": 1
    }
    assert sorted(store.ids(status="any")) == sorted([old, recent])  # the app's own token

    # The connector notices before reading, and reads what it may.
    credentials, _ = clean_credentials(
        ShopifyCredentials, store.sim.credentials(store.url) | {"access_token": limited}
    )
    with connector.client(credentials, guard=SIMULATOR_GUARD) as client:
        window, cut = connector.readable_window(client, Window(now - timedelta(days=90), now))
        listed = [
            raw["id"] for page in connector.order_pages(client, window) for raw in page.records
        ]
    assert window.since == now - timedelta(days=60)
    assert cut is not None
    assert cut.code == "scope_missing"
    assert listed == [recent]


# -- authentication, scopes and the rate limit ---------------------------------------------------


def test_refused_tokens_and_missing_scopes_answer_shopifys_errors(store: Store) -> None:
    refused = store.get(ORDERS, "shpat_wrong")
    assert refused.status_code == 401
    assert refused.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    assert refused.headers["www-authenticate"] == 'Basic Realm="Shopify API Authentication"'
    assert store.http.get(ORDERS).status_code == 401  # no token at all
    products_only = store.sim.add_token(["read_products"])
    forbidden = store.get(ORDERS, products_only)
    assert (forbidden.status_code, forbidden.json()) == (
        403,
        {"errors": "[API] This action requires merchant approval for read_orders scope."},
    )
    assert store.get("/admin/api/2025-01/customers.json").json() == {"errors": "Not Found"}
    old = store.sim.access_token
    store.sim.regenerate_token()
    assert store.get(ORDERS, old).status_code == 401
    assert store.get(ORDERS).status_code == 200


def test_the_leaky_bucket_fills_and_leaks_by_the_clock(store: Store) -> None:
    answers = [store.get("/admin/api/2025-01/shop.json") for _ in range(41)]

    assert [a.headers["x-shopify-shop-api-call-limit"] for a in answers[:3]] == [
        "1/40",
        "2/40",
        "3/40",
    ]
    assert [a.status_code for a in answers] == [200] * 40 + [429]
    throttled = answers[-1]
    assert throttled.json() == {
        "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume"
        " uninterrupted service."
    }
    assert (
        throttled.headers["retry-after"],
        throttled.headers["x-shopify-shop-api-call-limit"],
    ) == (
        "0.5",
        "40/40",
    )
    store.clock.advance(timedelta(seconds=1))  # two calls leak out
    assert [store.get(ORDERS).status_code for _ in range(3)] == [200, 200, 429]
    # Each token has its own bucket.
    assert store.get(ORDERS, store.sim.add_token(["read_orders"])).status_code == 200


def test_rate_limit_server_error_slow_and_firewall_faults(store: Store) -> None:
    store.control("POST", "faults", {"rate_limit": {"burst": 2, "retry_after": 7}})
    limited = [store.get(ORDERS) for _ in range(3)]
    assert [r.status_code for r in limited] == [429, 429, 200]
    assert limited[0].headers["retry-after"] == "7.0"
    store.sim.set_faults({"server_error": 2})
    failing = [store.get(ORDERS) for _ in range(3)]
    assert [r.status_code for r in failing] == [500, 502, 200]
    assert failing[0].json() == {"errors": "Internal Server Error"}
    store.sim.set_faults({"firewall_user_agent": "shoptrack"})
    blocked = store.http.get(ORDERS, headers={"user-agent": "shoptrack/0.1"})
    assert blocked.status_code == 403
    assert "Cloudflare" in blocked.text
    assert store.control("DELETE", "faults").json()["firewall_user_agent"] is None
    assert store.control("POST", "faults", {"nonsense": 1}).status_code == 400
    assert store.control("POST", "faults", {"custom_statuses": ["Not A Status"]}).status_code == 400


# -- webhooks ----------------------------------------------------------------------------------


def _subscribe(store: Store, *topics: str, address: str = "https://shoptrack.test/hook") -> None:
    for topic in topics:
        made = store.send(
            "POST",
            "/admin/api/2025-01/webhooks.json",
            {"webhook": {"topic": topic, "address": address, "format": "json"}},
        )
        assert made.status_code == 201, made.text


def test_webhook_subscriptions_through_the_api(store: Store) -> None:
    path = "/admin/api/2025-01/webhooks.json"
    address = "https://shoptrack.test/hook"
    made = store.send("POST", path, {"webhook": {"topic": "orders/create", "address": address}})
    assert made.status_code == 201
    hook = made.json()["webhook"]
    assert (hook["topic"], hook["address"], hook["format"], hook["api_version"]) == (
        "orders/create",
        address,
        "json",
        "2025-01",
    )
    again = store.send("POST", path, {"webhook": {"topic": "orders/create", "address": address}})
    assert (again.status_code, again.json()) == (
        422,
        {"errors": {"address": ["for this topic has already been taken"]}},
    )
    unknown = store.send("POST", path, {"webhook": {"topic": "orders/shipped", "address": address}})
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["topic"][0].startswith(
        "Invalid topic specified: orders/shipped."
    )
    assert store.send("POST", path, {"topic": "orders/create"}).status_code == 400
    assert store.get(path, address=address).json()["webhooks"] == [hook]
    assert store.get(path, address="https://elsewhere.test/").json()["webhooks"] == []
    assert store.get("/admin/api/2025-01/webhooks/count.json").json() == {"count": 1}
    assert store.send("DELETE", f"/admin/api/2025-01/webhooks/{hook['id']}.json").status_code == 200
    assert store.get(path).json()["webhooks"] == []


def test_a_token_without_read_orders_cannot_subscribe_order_topics(store: Store) -> None:
    products_only = store.sim.add_token(["read_products"])
    refused = store.http.post(
        "/admin/api/2025-01/webhooks.json",
        json={"webhook": {"topic": "orders/create", "address": "https://shoptrack.test/"}},
        headers={"X-Shopify-Access-Token": products_only},
    )
    assert refused.status_code == 422
    assert "app/uninstalled" in refused.json()["errors"]["topic"][0]


def test_the_connector_registers_its_topics_and_deliveries_verify(
    store: Store, receiver: Receiver
) -> None:
    credentials, _ = clean_credentials(ShopifyCredentials, store.sim.credentials(store.url))
    with connector.client(credentials, guard=SIMULATOR_GUARD) as client:
        connector.register_webhooks(client, "https://shoptrack.test/hook", credentials)
        connector.register_webhooks(client, "https://shoptrack.test/hook", credentials)  # no-op
    assert sorted(s.topic for s in store.sim.webhooks) == [
        "app/uninstalled",
        "checkouts/create",
        "checkouts/update",
        "orders/create",
        "orders/updated",
    ]

    # Through the REST API, in the default immediate mode: sent before the answer.
    (order_id,) = store.sim.add_orders(statuses=["authorized"])
    asyncio.run(store.sim.deliver_pending())
    store.clock.advance(timedelta(minutes=1))
    cancelled = store.send(
        "POST", f"/admin/api/2025-01/orders/{order_id}/cancel.json", {"reason": "fraud"}
    )
    assert cancelled.json()["notice"] == "Order has been canceled"

    assert receiver.topics() == ["orders/create", "orders/updated"]
    headers, body = receiver.requests[-1]
    assert _verified(headers, body, store.sim.client_secret) == "orders/updated"
    assert headers["x-shopify-shop-domain"] == "acme-outfitters.myshopify.com"
    assert headers["x-shopify-api-version"] == "2025-01"
    assert headers["x-shopify-triggered-at"] == "2026-11-27T15:01:00.000Z"
    assert headers["x-shopify-event-id"] != receiver.requests[0][0]["x-shopify-event-id"]
    payload = json.loads(body)
    assert payload == store.sim.order(order_id)
    order = connector.orders_from_webhook("orders/updated", payload)[0]
    assert (order.raw_status, order.cancelled_at) == ("voided", store.clock.now())
    forged = {**headers, "x-shopify-hmac-sha256": base64.b64encode(b"x" * 32).decode()}
    assert (
        connector.check_webhook([store.sim.client_secret], forged, body).verdict
        is WebhookVerdict.REJECTED
    )


def test_each_admin_action_sends_its_topics_with_the_resource_as_it_was(
    store: Store, receiver: Receiver
) -> None:
    _subscribe(
        store,
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "refunds/create",
    )
    sim = store.sim
    (order_id,) = sim.add_orders(statuses=["pending"], total="80.00")
    sim.set_status(order_id, "paid")
    sim.fulfil(order_id)
    sim.refund(order_id, "30.00", "too big")
    sim.cancel(order_id)
    asyncio.run(sim.deliver_pending())

    assert receiver.topics() == [
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/fulfilled",
        "orders/updated",
        "refunds/create",
        "orders/updated",
        "orders/cancelled",
        "orders/updated",
    ]
    # Each delivery carries the order as the event left it, not as it is when sent.
    assert [b["financial_status"] for b in receiver.bodies("orders/updated")] == [
        "paid",
        "paid",
        "partially_refunded",
        "partially_refunded",
    ]
    (refund,) = receiver.bodies("refunds/create")
    assert (refund["order_id"], refund["transactions"][0]["amount"]) == (order_id, "30.00")
    assert connector.order_ids_from_webhook("refunds/create", refund) == [str(order_id)]
    assert sim.statuses() == {order_id: "cancelled"}
    assert sim.order(order_id)["financial_status"] == "partially_refunded"
    final = connector.to_order(sim.order(order_id))
    assert final.fulfilled_at is not None
    assert final.cancelled_at is not None
    assert final.refunded_total == Decimal("30.00")
    with pytest.raises(ValueError, match=r"at most 50\.00"):
        sim.refund(order_id, "50.01")


def test_duplicate_and_reordered_deliveries(store: Store, receiver: Receiver) -> None:
    _subscribe(store, "orders/updated")
    (order_id,) = store.sim.add_orders(statuses=["pending"])
    store.sim.set_faults({"duplicate_webhooks": True, "reorder_webhooks": True})
    for status in ("authorized", "paid"):
        store.clock.advance(timedelta(minutes=1))
        store.control("POST", f"orders/{order_id}/status", {"status": status})
    assert receiver.requests == []  # held under the reorder fault

    sent = store.control("POST", "webhooks/deliver").json()

    assert [json.loads(body)["financial_status"] for _, body in receiver.requests] == [
        "paid",
        "paid",
        "authorized",
        "authorized",
    ]
    ids = [(h["x-shopify-event-id"], h["x-shopify-webhook-id"]) for h, _ in receiver.requests]
    assert ids[0] == ids[1] != ids[2] == ids[3]
    checks = [
        connector.check_webhook([store.sim.client_secret], h, b) for h, b in receiver.requests
    ]
    assert [c.delivery_id for c in checks] == [i[0] for i in ids]
    assert [d["topic"] for d in sent] == ["orders/updated"] * 4


def test_failed_deliveries_are_retried_then_the_subscription_goes(
    store: Store, receiver: Receiver
) -> None:
    _subscribe(store, "orders/create")
    receiver.status = 500
    store.sim.add_orders()
    for _ in range(9):
        asyncio.run(store.sim.deliver_pending())

    assert len(receiver.requests) == 9  # the first attempt and 8 retries
    assert len({body for _, body in receiver.requests}) == 1
    assert len({h["x-shopify-webhook-id"] for h, _ in receiver.requests}) == 1
    assert store.sim.webhooks == []
    assert [d.attempt for d in store.sim.deliveries] == list(range(1, 10))


# -- checkouts ---------------------------------------------------------------------------------


def test_checkouts_become_one_started_checkout_per_cart(store: Store, receiver: Receiver) -> None:
    _subscribe(store, "checkouts/create", "checkouts/update", "orders/create")
    sim = store.sim
    anonymous = sim.add_checkout(contact=False)
    token = sim.add_checkout(email="Ada@Example.com", lines=2)
    store.clock.advance(timedelta(minutes=2))
    sim.update_checkout(token)  # a step that changes no item: the shipping rate
    sim.update_checkout(anonymous, phone="+1 415 555 0142")
    store.clock.advance(timedelta(minutes=2))
    sim.update_checkout(token, lines=1)  # another cart
    order_id = sim.complete_checkout(token)
    asyncio.run(sim.deliver_pending())

    drafts = []
    for headers, body in receiver.requests:
        topic = _verified(headers, body, sim.client_secret)
        drafts += [(topic, d) for d in connector.drafts_from_webhook(topic, json.loads(body))]

    assert receiver.topics() == [
        "checkouts/create",
        "checkouts/create",
        "checkouts/update",
        "checkouts/update",
        "checkouts/update",
        "orders/create",
        "checkouts/update",
    ]
    # The anonymous checkout records nothing until the phone; the completed one nothing more.
    assert [topic for topic, _ in drafts] == [
        "checkouts/create",
        "checkouts/update",
        "checkouts/update",
        "checkouts/update",
    ]
    ada = [d for _, d in drafts if d.person.email == "ada@example.com"]
    assert [d.metric for d in ada] == [Metric.STARTED_CHECKOUT] * 3
    assert ada[0].unique_id == ada[1].unique_id != ada[2].unique_id
    assert all(d.unique_id.startswith(f"{token}-") for d in ada)
    assert len(ada[0].properties["Items"]) == 2
    assert ada[0].properties["CheckoutURL"] == sim.checkout(token)["abandoned_checkout_url"]
    (phoned,) = [d for _, d in drafts if d.person.phone_number == "+14155550142"]
    assert phoned.person.email is None
    placed = connector.to_order(sim.order(order_id))
    assert (placed.email, placed.raw_status) == ("Ada@Example.com", "paid")  # as typed
    abandoned = store.get("/admin/api/2025-01/checkouts.json").json()["checkouts"]
    assert [c["token"] for c in abandoned] == [anonymous]
    closed = store.get("/admin/api/2025-01/checkouts.json", status="closed").json()["checkouts"]
    assert [c["token"] for c in closed] == [token]


# -- the control surface -----------------------------------------------------------------------


def test_control_endpoints_act_as_buyers_and_the_admin(store: Store, receiver: Receiver) -> None:
    made = store.control(
        "POST",
        "orders",
        {
            "count": 3,
            "statuses": ["paid", "pending"],
            "email": "grace@example.com",
            "created": "2026-11-01T09:00:00Z",
            "interval_seconds": 3600,
            "total": "19.99",
            "test": True,
        },
    )
    assert made.status_code == 201
    ids = made.json()["ids"]
    orders = [store.sim.order(i) for i in ids]
    assert [o["financial_status"] for o in orders] == ["paid", "pending", "paid"]
    assert [o["created_at"] for o in orders] == [
        "2026-11-01T04:00:00-05:00",
        "2026-11-01T05:00:00-05:00",
        "2026-11-01T06:00:00-05:00",
    ]
    assert {(o["email"], o["total_price"], o["test"]) for o in orders} == {
        ("grace@example.com", "19.99", True)
    }
    assert orders[0]["payment_gateway_names"] == ["bogus"]
    assert len({o["customer"]["id"] for o in orders}) == 1  # one customer, three orders
    assert connector.to_order(orders[0]).is_test

    assert (
        store.control("POST", f"orders/{ids[0]}/refunds", {"amount": "19.99"}).json()[
            "financial_status"
        ]
        == "refunded"
    )
    assert (
        store.control("POST", f"orders/{ids[1]}/fulfil").json()["fulfillment_status"] == "fulfilled"
    )
    assert (
        store.control("POST", f"orders/{ids[2]}/cancel", {"reason": "inventory"}).json()[
            "cancel_reason"
        ]
        == "inventory"
    )
    assert (
        store.control("POST", f"orders/{ids[2]}/status", {"status": "fulfilled"}).status_code == 200
    )
    assert store.control("POST", "orders", {"statuses": ["shipped"]}).status_code == 400
    assert store.control("POST", "orders/1/status", {"status": "paid"}).status_code == 404
    assert store.control("POST", f"orders/{ids[1]}/fulfil").status_code == 400  # already

    checkout = store.control("POST", "checkouts", {"email": "lin@example.com"}).json()
    token = checkout["token"]
    assert checkout["checkout"]["email"] == "lin@example.com"
    assert store.control("POST", f"checkouts/{token}", {"lines": 3}).json()["line_items"][2]
    assert store.control("POST", f"checkouts/{token}/complete").json()["order_id"]
    assert store.control("POST", "checkouts/nope/complete").status_code == 404
    limited = store.control("POST", "tokens", {"scopes": ["read_orders"]}).json()["access_token"]
    assert store.get("/admin/oauth/access_scopes.json", limited).json()["access_scopes"] == [
        {"handle": "read_orders"}
    ]
    assert store.control("GET", "webhooks/deliveries").json() == []


def test_statuses_are_named_as_set_status_takes_them(store: Store) -> None:
    sim = store.sim
    pending, paid, fulfilled, cancelled = sim.add_orders(
        4, statuses=["pending", "paid", "fulfilled", "cancelled"]
    )
    assert sim.statuses() == {
        pending: "pending",
        paid: "paid",
        fulfilled: "fulfilled",
        cancelled: "cancelled",
    }
    before = sim.order(fulfilled)
    store.clock.advance(timedelta(minutes=1))
    sim.set_status(fulfilled, "fulfilled")  # already: nothing changes
    sim.set_status(cancelled, "cancelled")
    assert sim.order(fulfilled) == before
    sim.set_status(paid, "fulfilled")
    sim.set_status(fulfilled, "refunded")
    sim.set_status(pending, "authorized")
    assert sim.statuses() == {
        pending: "authorized",
        paid: "fulfilled",
        fulfilled: "refunded",
        cancelled: "cancelled",
    }
    with pytest.raises(ValueError, match="already fulfilled"):
        sim.fulfil(paid)


def test_the_demo_catalog_keeps_a_shop_alive() -> None:
    (life,) = [life for life in CATALOG if life.platform == "shopify"]
    shop = life.build("http://127.0.0.1:1", True)
    life.seed(shop, 30, timedelta(minutes=37))
    rng = random.Random(7)
    for _ in range(40):
        life.step(shop, rng)
    assert len(shop.statuses()) == 70
    assert set(shop.statuses().values()) <= {
        "paid", "pending", "fulfilled", "cancelled", "refunded"
    }  # fmt: skip


def test_credentials_work_as_a_merchant_enters_them(store: Store) -> None:
    credentials = store.sim.credentials(store.url + "/")

    assert credentials == {
        "shop_domain": "acme-outfitters.myshopify.com",
        "access_token": store.sim.access_token,
        "webhook_secret": store.sim.client_secret,
        "api_base_url": store.url,
    }
    cleaned, _ = clean_credentials(ShopifyCredentials, credentials)
    with connector.client(cleaned, guard=SIMULATOR_GUARD) as client:
        connector.check_credentials(client)


def test_public_surface() -> None:
    import shoptrack.simulators
    import shoptrack.simulators.shopify as module

    assert "ShopifySimulator" in shoptrack.simulators.__all__
    assert shoptrack.simulators.ShopifySimulator is ShopifySimulator
    assert sorted(module.__all__) == [
        "API_VERSION",
        "DEFAULT_SCOPES",
        "Delivery",
        "FINANCIAL_STATUSES",
        "ShopifySimulator",
        "Subscription",
        "build_checkout",
        "build_order",
    ]


# -- through shoptrack -------------------------------------------------------------------------


@dataclass
class World:
    """The simulated shop on a real socket, its webhooks delivered to shoptrack's own app."""

    services: Services
    client: AppClient
    shop: ShopifySimulator
    shop_url: str
    account_id: str
    key: str

    def connect(self, credentials: dict[str, str], **settings: Any) -> str:
        response = self.client.post(
            "/api/integrations",
            headers={"Authorization": f"Klaviyo-API-Key {self.key}"},
            json={
                "data": {
                    "type": "integration",
                    "attributes": {
                        "platform": "shopify",
                        "name": "Acme on Shopify",
                        "credentials": credentials,
                        "settings": settings,
                    },
                }
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["attributes"]["health"] == "ok"
        integration_id: str = response.json()["data"]["id"]
        return integration_id

    def deliver(self) -> None:
        self.client.call(self.shop.deliver_pending)
        Processor(self.services.database, self.services.clock).run_until_idle()

    def counts(self) -> dict[str, int]:
        return event_counts(self.services, self.account_id)


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> Iterator[World]:
    account = make_shop(services)
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    shop = ShopifySimulator(
        clock=clock.now, webhook_delivery="manual", webhook_transport=httpx.ASGITransport(app=app)
    )
    try:
        with serving(shop.app) as url:
            yield World(services, client, shop, url, account.account_id, account.private_key)
    finally:
        client.close()


@pytest.mark.slow
def test_checkouts_and_orders_become_events_once_each(world: World, clock: FrozenClock) -> None:
    shop = world.shop
    integration_id = world.connect(shop.credentials(world.shop_url))
    assert {(s.topic, s.address.rsplit("/", 1)[1]) for s in shop.webhooks} == {
        (topic, integration_id)
        for topic in (
            "orders/create",
            "orders/updated",
            "checkouts/create",
            "checkouts/update",
            "app/uninstalled",
        )
    }

    token = shop.add_checkout(email="ada@example.com", lines=2)
    clock.advance(timedelta(minutes=1))
    shop.update_checkout(token)  # the shipping step: the same cart
    world.deliver()
    assert world.counts() == {"Started Checkout": 1}

    shop.set_faults({"duplicate_webhooks": True})
    clock.advance(timedelta(minutes=1))
    shop.update_checkout(token, lines=1)  # another cart
    order_id = shop.complete_checkout(token)
    world.deliver()
    assert world.counts() == {"Started Checkout": 2, "Placed Order": 1, "Ordered Product": 1}

    clock.advance(timedelta(minutes=1))
    shop.fulfil(order_id)
    shop.set_status(order_id, "refunded")
    world.deliver()
    assert [d.status for d in shop.deliveries] == [200] * len(shop.deliveries)
    assert world.counts() == {
        "Started Checkout": 2,
        "Placed Order": 1,
        "Ordered Product": 1,
        "Fulfilled Order": 1,
        "Refunded Order": 1,
    }
    # Polling finds the same order in the same state: nothing new.
    Syncer(world.services).run(world.account_id, integration_id)
    Processor(world.services.database, world.services.clock).run_until_idle()
    assert world.counts()["Placed Order"] == 1


@pytest.mark.slow
def test_a_token_without_read_all_orders_syncs_60_days_and_says_why(
    world: World, clock: FrozenClock
) -> None:
    shop = world.shop
    now = clock.now()
    shop.add_orders(created=now - timedelta(days=75))
    (recent,) = shop.add_orders(created=now - timedelta(days=5))
    limited = shop.add_token(["read_orders"])
    credentials = shop.credentials(world.shop_url) | {"access_token": limited}
    integration_id = world.connect(credentials, backfill_days=90)

    run_id = Syncer(world.services).run(world.account_id, integration_id)

    with world.services.database.read() as connection:
        run = connection.execute(select(sync_runs).where(sync_runs.c.id == run_id)).one()
    assert (run.state, run.error_code, run.error_kind) == ("failed", "scope_missing", "config")
    assert "read_all_orders" in run.error_detail
    assert run.orders_seen == 1
    with world.services.database.read() as connection:
        bodies = connection.execute(
            select(inbox.c.body).where(inbox.c.integration_id == integration_id)
        ).scalars()
        assert [json.loads(body)["id"] for body in bodies] == [recent]


@pytest.mark.slow
def test_placed_order_on_creation_for_any_financial_status_then_cancelled(
    world: World, clock: FrozenClock
) -> None:
    shop = world.shop
    world.connect(shop.credentials(world.shop_url))
    financial = ("pending", "authorized", "partially_paid", "paid")
    ids = shop.add_orders(len(financial), statuses=financial)
    world.deliver()
    assert world.counts()["Placed Order"] == len(financial)

    clock.advance(timedelta(minutes=5))
    shop.cancel(ids[0])  # the unpaid order: its checkout completed all the same
    world.deliver()
    counts = world.counts()
    assert (counts["Placed Order"], counts["Cancelled Order"]) == (len(financial), 1)
    assert "Refunded Order" not in counts


@pytest.mark.slow
def test_a_refund_webhook_fetches_its_order(world: World, clock: FrozenClock) -> None:
    shop = world.shop
    credentials = shop.credentials(world.shop_url)
    world.connect(credentials)
    (order_id,) = shop.add_orders(1, statuses=["paid"], total="40.00")
    world.deliver()
    clock.advance(timedelta(minutes=5))
    # Subscribed to refunds rather than order updates, as a merchant may be (removed through
    # the store's own API): the refund names its order only, which must be fetched.
    (updates,) = [hook for hook in shop.webhooks if hook.topic == "orders/updated"]
    httpx.delete(
        f"{world.shop_url}/admin/api/{API_VERSION}/webhooks/{updates.id}.json",
        headers={"X-Shopify-Access-Token": credentials["access_token"]},
    ).raise_for_status()
    shop.subscribe("refunds/create", updates.address)
    shop.refund(order_id, "40.00")
    world.deliver()
    with world.services.database.read() as connection:
        named = connection.execute(select(order_fetches.c.platform_order_id)).scalars().all()
    assert named == [str(order_id)]
    assert "Refunded Order" not in world.counts()
    clock.advance(COALESCE_DELAY)
    assert OrderFetcher(world.services).run_due() == 1  # the order, read from the store
    assert OrderFetcher(world.services).run_due() == 0  # once
    Processor(world.services.database, world.services.clock).run_until_idle()
    assert world.counts()["Refunded Order"] == 1
    with world.services.database.read() as connection:
        fetched = connection.execute(
            select(inbox.c.body, inbox.c.state).where(inbox.c.source == "fetch")
        ).one()
    assert (json.loads(fetched.body)["id"], fetched.state) == (order_id, "processed")
