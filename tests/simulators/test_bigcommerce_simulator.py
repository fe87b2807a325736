"""The BigCommerce simulator: against BigCommerce's own Python client (``bigcommerce`` from PyPI)
on a real socket, against the Orders v2 OpenAPI (``tests/reference/bigcommerce``), and its
webhooks against shoptrack's Standard Webhooks verification."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from bigcommerce.api import BigcommerceApi
from bigcommerce.exception import ClientRequestException
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from shoptrack.clock import FrozenClock
from shoptrack.connectors.base import WebhookVerdict, clean_credentials
from shoptrack.connectors.bigcommerce import BigCommerce
from shoptrack.connectors.errors import StoreConfigError
from shoptrack.connectors.http import StoreClient
from shoptrack.simulators.bigcommerce import BigCommerceSimulator
from shoptrack.testing import SIMULATOR_GUARD
from tests.stores import serving

SPEC = Path(__file__).parents[1] / "reference" / "bigcommerce" / "orders.v2.oas2.yml"
RECEIVER = "https://shoptrack.test/webhooks/bigcommerce/1"
connector = BigCommerce()


@dataclass
class Receiver:
    """Where deliveries go (a transport, no socket): keeps each request, answers ``status``."""

    status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


@dataclass
class Store:
    sim: BigCommerceSimulator
    url: str
    clock: FrozenClock
    receiver: Receiver

    def client(self, **overrides: str) -> StoreClient:
        """shoptrack's client of this store, built by the connector; ``sleeps`` records waits."""
        credentials, _ = clean_credentials(
            connector.credentials_model, self.sim.credentials(self.url) | overrides
        )
        return connector.client(credentials, guard=SIMULATOR_GUARD, sleep=self.sleeps.append)

    @functools.cached_property
    def sleeps(self) -> list[float]:
        return []

    @functools.cached_property
    def http(self) -> httpx.Client:
        """A plain HTTP client of the simulator (one, for its connections)."""
        return httpx.Client(base_url=self.url, timeout=5)

    def get(self, path: str, **params: Any) -> httpx.Response:
        """A request with the store's token, as any HTTP client would send it."""
        return self.send("GET", path, params=params)

    def send(self, method: str, path: str, body: Any = None, params: Any = None) -> httpx.Response:
        return self.http.request(
            method,
            f"/stores/{self.sim.store_hash}{path}",
            json=body,
            params=params,
            headers={"X-Auth-Token": self.sim.access_token, "Accept": "application/json"},
        )

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, f"/_sim/{path}", json=body)

    def deliver(self) -> list[dict[str, Any]]:
        sent = len(self.receiver.requests)
        asyncio.run(self.sim.deliver_pending())
        return self.receiver.payloads()[sent:]


def _store(**options: Any) -> Iterator[Store]:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    receiver = Receiver()
    sim = BigCommerceSimulator(
        clock=clock.now,
        webhook_transport=httpx.MockTransport(receiver.handle),
        **options,
    )
    with serving(sim.app) as url:
        store = Store(sim, url, clock, receiver)
        yield store
        store.http.close()


@pytest.fixture
def store() -> Iterator[Store]:
    yield from _store(webhook_delivery="manual")


def official_client(store: Store, monkeypatch: pytest.MonkeyPatch) -> BigcommerceApi:
    """BigCommerce's own client, pointed at the simulator: its host comes from the documented
    ``BC_API_ENDPOINT`` variable, and only its hard-coded ``https://`` is replaced."""
    monkeypatch.setenv("BC_API_ENDPOINT", store.url.removeprefix("http://"))
    api = BigcommerceApi(
        client_id="simulated-client",
        store_hash=store.sim.store_hash,
        access_token=store.sim.access_token,
    )
    connection = api.connection
    https = connection.full_path

    def full_path(url: str) -> str:
        return "http://" + https(url).removeprefix("https://")

    monkeypatch.setattr(connection, "full_path", full_path)
    return api


# -- the official client ---------------------------------------------------------------------


def test_official_client_reads_every_order_and_its_products(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = store.sim.add_orders(260, statuses=[11, 2, 10, 5], interval=timedelta(minutes=7))
    api = official_client(store, monkeypatch)

    orders = list(api.Orders.iterall())  # pages of 250, until the 204 past the end

    assert [order.id for order in orders] == created  # by id, oldest first, each once
    assert api.Orders.count() == 260
    first = orders[0]
    products = first.products()
    assert products
    assert [p["order_id"] for p in products] == [first.id] * len(products)
    assert sum(Decimal(p["total_inc_tax"]) for p in products) == Decimal(first.subtotal_inc_tax)
    assert Decimal(first.total_inc_tax) == (
        Decimal(first.subtotal_inc_tax)
        + Decimal(first.shipping_cost_inc_tax)
        - Decimal(first.coupon_discount)
    )
    assert "@example." in first.billing_address["email"]
    assert api.connection.rate_limit["requests_quota"] == 150
    assert api.connection.rate_limit["window_size_ms"] == 30_000
    statuses = api.OrderStatuses.all()
    assert [status.id for status in statuses][:4] == [0, 1, 7, 11]


def test_official_client_filters_by_modified_date_and_sorts(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cut = datetime(2026, 3, 9, 12, tzinfo=UTC)
    store.sim.add_orders(2, created=cut - timedelta(days=2), modified=cut - timedelta(hours=1))
    at_cut = store.sim.add_orders(1, created=cut - timedelta(days=2), modified=cut)
    later = store.sim.add_orders(
        2, created=cut - timedelta(days=1), modified=cut + timedelta(hours=1)
    )
    api = official_client(store, monkeypatch)

    newest_first = api.Orders.all(
        min_date_modified="Mon, 09 Mar 2026 12:00:00 +0000", sort="date_modified:desc"
    )

    assert [o.id for o in newest_first] == [*later, *at_cut]  # ties in id order, bound included
    iso = api.Orders.all(max_date_modified="2026-03-09T08:00:00-04:00", sort="date_modified:asc")
    assert [o.id for o in iso][-1] == at_cut[0]
    # Nothing after 14:00: a 204, which the client's pager reads as the end.
    assert list(api.Orders.iterall(min_date_modified="Mon, 09 Mar 2026 14:00:00 +0000")) == []


def test_official_client_sees_refused_tokens(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    api = official_client(store, monkeypatch)
    api.connection._session.headers["X-Auth-Token"] = "not-the-token"

    with pytest.raises(ClientRequestException) as refused:
        api.Orders.all()

    assert refused.value.response.status_code == 401


# -- the OpenAPI -----------------------------------------------------------------------------


@functools.cache
def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return spec


@functools.cache
def _validator(schema_name: str, *, many: bool) -> Validator:
    # The spec's components ride along so that its `#/components/...` references resolve; the
    # validator reads OpenAPI 3.0 (`nullable`, `readOnly`).
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    schema = {"type": "array", "items": ref, "minItems": 1} if many else ref
    return OAS30ReadValidator(
        {**schema, "components": _spec()["components"]}, format_checker=oas30_format_checker
    )


def _assert_valid(schema_name: str, instance: Any, *, many: bool = False) -> None:
    validator = _validator(schema_name, many=many)
    errors = [
        f"/{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    ]
    assert errors == [], f"{schema_name}:\n" + "\n".join(errors[:10])


def test_answers_match_the_orders_openapi(store: Store) -> None:
    # Every status, a coupon (every 4th id), refunds in full and in part, an archived order.
    ids = store.sim.add_orders(15, statuses=list(range(15)))
    store.sim.refund(ids[11], Decimal("5.00"))
    store.sim.set_faults({"custom_statuses": {"11": "Ready to pack"}})

    listing = store.get("/v2/orders", limit=250)
    assert listing.status_code == 200
    _assert_valid("order_Resp", listing.json(), many=True)
    with_coupon = next(i for i in ids if i % 4 == 0)
    _assert_valid("order_Resp", store.get(f"/v2/orders/{with_coupon}").json())
    for order_id in ids:
        _assert_valid(
            "orderProducts", store.get(f"/v2/orders/{order_id}/products").json(), many=True
        )
        addresses = store.get(f"/v2/orders/{order_id}/shipping_addresses").json()
        _assert_valid("orderShippingAddress", addresses, many=True)
    _assert_valid(
        "orderCoupons_Base", store.get(f"/v2/orders/{with_coupon}/coupons").json(), many=True
    )
    _assert_valid("ordersCount_Full", store.get("/v2/orders/count").json())
    _assert_valid("orderStatus_Base", store.get("/v2/order_statuses").json(), many=True)
    # The spec's own example order passes the same check (the validator is not too lax)...
    example = _spec()["components"]["responses"]["order_Resp"]["content"]["application/json"]
    _assert_valid("order_Resp", example["examples"]["Response"]["value"])
    # ...and a product line with a field the spec does not know fails it (too strict it is not).
    line = store.get(f"/v2/orders/{ids[0]}/products").json()[0]
    with pytest.raises(AssertionError, match="Additional properties"):
        _assert_valid("orderProducts", [line | {"colour": "blue"}], many=True)


# -- listing ---------------------------------------------------------------------------------


def test_listing_pages_filters_and_answers_204_past_the_end(store: Store) -> None:
    store.sim.set_faults({"site_timezone": "Australia/Sydney"})
    moment = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    ids = store.sim.add_orders(5, statuses=[11, 5], created=moment, interval=timedelta(hours=1))

    page = store.get("/v2/orders", limit=2, page=3)
    assert [o["id"] for o in page.json()] == ids[4:]
    past = store.get("/v2/orders", limit=2, page=4)
    assert (past.status_code, past.content) == (204, b"")
    assert [o["id"] for o in store.get("/v2/orders", status_id=5).json()] == [ids[1], ids[3]]
    written = store.get(f"/v2/orders/{ids[0]}").json()
    # Dates are RFC 2822 in UTC whatever the store's timezone (which /v2/store shows).
    assert written["date_created"] == "Mon, 05 Jan 2026 23:30:00 +0000"
    assert store.get("/v2/store").json()["timezone"]["name"] == "Australia/Sydney"
    both_bounds = store.get(
        "/v2/orders",
        min_date_created="Tue, 06 Jan 2026 00:30:00 +0000",
        max_date_created="2026-01-06T01:30:00Z",
    )
    assert [o["id"] for o in both_bounds.json()] == ids[1:3]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"limit": 251}, 413, "The field 'limit' cannot be greater than 250."),
        ({"page": 0}, 400, "The field 'page' is invalid."),
        ({"sort": "total:asc"}, 400, "The field 'sort' is invalid."),
        ({"min_date_modified": "yesterday"}, 400, "The field 'min_date_modified' is invalid."),
    ],
)
def test_invalid_arguments_answer_v2_error_arrays(
    store: Store, params: dict[str, Any], status: int, message: str
) -> None:
    response = store.get("/v2/orders", **params)

    assert (response.status_code, response.json()) == (
        status,
        [{"status": status, "message": message}],
    )


def test_gateway_refusals(store: Store) -> None:
    orders = f"{store.url}/stores/{store.sim.store_hash}/v2/orders"
    missing = httpx.get(orders)
    assert missing.status_code == 401
    assert missing.json()["title"].startswith("Unauthorized")
    other_store = httpx.get(
        f"{store.url}/stores/otherhash/v2/orders", headers={"X-Auth-Token": store.sim.access_token}
    )
    assert other_store.status_code == 403
    assert "required scope" in other_store.json()["title"]
    assert store.get("/v2/orders/99999").json() == [
        {"status": 404, "message": "The requested resource was not found."}
    ]
    assert store.get("/v2/nothing/here").status_code == 404
    with store.client(access_token="wrong") as client, pytest.raises(StoreConfigError) as refused:
        connector.check_credentials(client)
    assert refused.value.code == "credentials_rejected"


# -- rate limits and faults ------------------------------------------------------------------


def test_every_answer_reports_the_quota_which_is_enforced_on_request() -> None:
    for store in _store(enforce_quota=True, requests_quota=3):
        answers = [store.get("/v2/orders") for _ in range(4)]
        assert [a.status_code for a in answers] == [204, 204, 204, 429]
        assert [a.headers["X-Rate-Limit-Requests-Left"] for a in answers] == ["2", "1", "0", "0"]
        assert {a.headers["X-Rate-Limit-Requests-Quota"] for a in answers} == {"3"}
        assert {a.headers["X-Rate-Limit-Time-Window-Ms"] for a in answers} == {"30000"}
        assert answers[3].headers["X-Rate-Limit-Time-Reset-Ms"] == "30000"  # a frozen clock
        store.clock.advance(timedelta(seconds=12))
        waiting = store.get("/v2/orders")
        assert (waiting.status_code, waiting.headers["X-Rate-Limit-Time-Reset-Ms"]) == (
            429,
            "18000",
        )
        store.clock.advance(timedelta(seconds=18))
        assert store.get("/v2/orders").status_code == 204  # a new window


def test_a_rate_limited_client_waits_what_the_reset_header_says(store: Store) -> None:
    store.sim.add_orders(1)
    store.control("POST", "faults", {"rate_limit": {"burst": 2, "retry_after": 7}})

    limited = store.get("/v2/orders")
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert limited.headers["X-Rate-Limit-Time-Reset-Ms"] == "7000"
    assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
    with store.client() as client:
        assert client.get("/v2/orders").status_code == 200
    assert store.sleeps == [7.0]


def test_server_errors_slow_pages_and_a_proxy_block(store: Store) -> None:
    store.sim.set_faults({"server_error": 3, "slow_ms": 5})
    failing = [store.get("/v2/store") for _ in range(4)]
    assert [r.status_code for r in failing] == [500, 502, 503, 200]
    assert failing[0].json() == [{"status": 500, "message": "Internal server error."}]
    assert "502 Bad Gateway" in failing[1].text
    store.sim.set_faults({"firewall_user_agent": "shoptrack"})
    blocked = httpx.get(
        f"{store.url}/stores/{store.sim.store_hash}/v2/store", headers={"user-agent": "shoptrack/1"}
    )
    assert blocked.status_code == 403
    assert "Cloudflare" in blocked.text
    assert store.control("DELETE", "faults").json()["firewall_user_agent"] is None


# -- orders through the API ------------------------------------------------------------------


def test_orders_are_created_changed_and_archived_through_the_api(store: Store) -> None:
    created = store.send(
        "POST",
        "/v2/orders",
        {
            "billing_address": {"first_name": "Ada", "email": "ada@example.com", "zip": "78751"},
            "products": [
                {"name": "BigCommerce Coffee Mug", "quantity": 2, "price_inc_tax": 12.5},
                {"product_id": 86, "quantity": 1},
            ],
        },
    )
    assert created.status_code == 200, created.text
    order = created.json()
    assert (order["status_id"], order["status"], order["order_source"]) == (
        1,
        "Pending",
        "external",
    )
    assert order["total_inc_tax"] == "250.0000"
    assert order["billing_address"]["email"] == "ada@example.com"
    lines = store.get(f"/v2/orders/{order['id']}/products").json()
    assert [(line["product_id"], line["quantity"]) for line in lines] == [(0, 2), (86, 1)]

    store.clock.advance(timedelta(minutes=1))
    changed = store.send("PUT", f"/v2/orders/{order['id']}", {"status_id": 11}).json()
    assert (changed["status_id"], changed["status"]) == (11, "Awaiting Fulfillment")
    assert parsedate_to_datetime(changed["date_modified"]) == store.clock.now()
    assert store.send("PUT", f"/v2/orders/{order['id']}", {"status_id": 15}).status_code == 400

    assert store.send("DELETE", f"/v2/orders/{order['id']}").status_code == 204
    assert store.get("/v2/orders").status_code == 204  # archived orders are not listed
    assert store.get(f"/v2/orders/{order['id']}").json()["is_deleted"] is True
    assert store.send("POST", "/v2/orders", {"products": []}).json() == [
        {"status": 400, "message": "The required field 'billing_address' was not supplied."}
    ]


def test_relabelled_statuses_keep_their_ids(store: Store) -> None:
    (order_id,) = store.sim.add_orders(statuses=[11])
    store.control("POST", "faults", {"custom_statuses": {"11": "Ready to pack"}})

    order = store.get(f"/v2/orders/{order_id}").json()
    assert (order["status_id"], order["status"], order["custom_status"]) == (
        11,
        "Awaiting Fulfillment",
        "Ready to pack",
    )
    entry = store.get("/v2/order_statuses/11").json()
    assert (entry["system_label"], entry["custom_label"]) == (
        "Awaiting Fulfillment",
        "Ready to pack",
    )
    refused = store.control("POST", "faults", {"custom_statuses": ["ready-to-pack"]})
    assert refused.status_code == 400
    assert "no custom statuses" in refused.json()["error"]


# -- hooks and deliveries --------------------------------------------------------------------


def _subscribe(store: Store) -> None:
    with store.client() as client:
        connector.register_webhooks(
            client,
            RECEIVER,
            connector.credentials_model.model_validate(store.sim.credentials(store.url)),
        )


def _verdict(store: Store, request: httpx.Request, *, late: timedelta = timedelta(0)) -> Any:
    return connector.check_webhook(
        [store.sim.client_secret],
        {name.lower(): value for name, value in request.headers.items()},
        request.content,
        now=store.clock.now() + late,
    )


def test_deliveries_are_signed_and_name_the_order_that_changed(store: Store) -> None:
    _subscribe(store)
    assert sorted(hook.scope for hook in store.sim.hooks) == [
        "store/order/created",
        "store/order/refund/created",
        "store/order/statusUpdated",
        "store/order/updated",
    ]
    (order_id,) = store.sim.add_orders(statuses=[0])
    store.clock.advance(timedelta(minutes=1))
    store.sim.set_status(order_id, 11)
    store.clock.advance(timedelta(minutes=1))
    refund_id = store.sim.refund(order_id, Decimal("1.00"))

    payloads = store.deliver()

    assert [p["scope"] for p in payloads] == [
        "store/order/created",
        "store/order/statusUpdated",
        "store/order/updated",
        "store/order/refund/created",
        "store/order/statusUpdated",
        "store/order/updated",
    ]
    assert payloads[1]["data"] == {
        "type": "order",
        "id": order_id,
        "status": {"previous_status_id": 0, "new_status_id": 11},
    }
    assert payloads[3]["data"]["refund"] == {"refund_id": refund_id}
    assert payloads[4]["data"]["status"]["new_status_id"] == 14  # Partially Refunded
    for payload in payloads:
        assert set(payload) == {"scope", "store_id", "data", "hash", "created_at", "producer"}
        assert payload["producer"] == f"stores/{store.sim.store_hash}"
        data = json.dumps(payload["data"], separators=(",", ":")).encode()
        assert payload["hash"] == hashlib.sha1(data, usedforsecurity=False).hexdigest()
        assert connector.order_ids_from_webhook(payload["scope"], payload) == [str(order_id)]
    # The created and updated events of one order share a hash: their data are the same.
    assert payloads[0]["hash"] == payloads[2]["hash"]
    for request in store.receiver.requests:
        check = _verdict(store, request)
        assert check.verdict is WebhookVerdict.ACCEPTED, check.reason
        assert check.delivery_id == request.headers["webhook-id"]
    assert len({r.headers["webhook-id"] for r in store.receiver.requests}) == 6


def test_late_deliveries_are_clock_skew_and_changed_ones_forgeries(store: Store) -> None:
    _subscribe(store)
    store.sim.add_orders()
    store.deliver()
    (request,) = store.receiver.requests

    assert _verdict(store, request, late=timedelta(minutes=6)).verdict is WebhookVerdict.CLOCK_SKEW
    assert _verdict(store, request, late=timedelta(minutes=4)).verdict is WebhookVerdict.ACCEPTED
    forged = httpx.Request(
        "POST", RECEIVER, headers=request.headers, content=request.content + b" "
    )
    assert _verdict(store, forged).verdict is WebhookVerdict.REJECTED


def test_failed_deliveries_are_retried_on_schedule_then_the_hook_deactivated(store: Store) -> None:
    store.sim.add_hook("store/order/updated", RECEIVER)
    store.receiver.status = 500
    (order_id,) = store.sim.add_orders()
    store.sim.set_status(order_id, 2)
    store.deliver()
    schedule = [60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400]

    for wait in schedule:
        store.clock.advance(timedelta(seconds=wait - 1))
        assert store.deliver() == []  # not due yet
        store.clock.advance(timedelta(seconds=1))
        assert len(store.deliver()) == 1

    attempts = store.receiver.requests
    assert len(attempts) == 12
    assert {r.headers["webhook-id"] for r in attempts} == {attempts[0].headers["webhook-id"]}
    assert len({r.headers["webhook-timestamp"] for r in attempts}) == 12  # signed anew each time
    (hook,) = store.get("/v3/hooks").json()["data"]
    assert hook["is_active"] is False
    with store.client() as client:
        health = connector.webhook_health(client, RECEIVER)
        assert health.disabled == (
            {"id": hook["id"], "topic": "store/order/updated", "status": "inactive"},
        )
        _subscribe(store)  # switches it back on, creates the other three
        assert connector.webhook_health(client, RECEIVER).missing_topics == ()
        assert connector.webhook_health(client, RECEIVER).disabled == ()
    assert store.get(f"/v3/hooks/{hook['id']}").json()["data"]["is_active"] is True
    assert len(store.sim.hooks) == 4


def test_immediate_delivery_happens_before_the_api_answers() -> None:
    for store in _store():  # webhook_delivery="immediate"
        store.sim.add_hook("store/order/*", RECEIVER, headers={"X-Shared": "s3cret"})
        (order_id,) = store.sim.add_orders()
        store.send("PUT", f"/v2/orders/{order_id}", {"status_id": 2})
        scopes = [p["scope"] for p in store.receiver.payloads()]
        # The order created from Python waited; the API's change brought it along.
        assert scopes == ["store/order/created", "store/order/statusUpdated", "store/order/updated"]
        assert store.receiver.requests[0].headers["x-shared"] == "s3cret"


def test_duplicated_and_reordered_deliveries(store: Store) -> None:
    store.sim.add_hook("store/order/statusUpdated", RECEIVER)
    (order_id,) = store.sim.add_orders(statuses=[7])
    store.sim.set_faults({"duplicate_webhooks": True, "reorder_webhooks": True})
    for status in (11, 2):
        store.clock.advance(timedelta(minutes=1))
        store.sim.set_status(order_id, status)

    payloads = store.deliver()

    assert [p["data"]["status"]["new_status_id"] for p in payloads] == [2, 2, 11, 11]
    first, second = store.receiver.requests[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_the_hooks_api(store: Store) -> None:
    made = store.send(
        "POST", "/v3/hooks", {"scope": "store/order/created", "destination": RECEIVER}
    )
    assert made.status_code == 200
    hook = made.json()["data"]
    assert (hook["client_id"], hook["store_hash"], hook["is_active"]) == (
        store.sim.client_id,
        store.sim.store_hash,
        True,
    )
    again = store.send(
        "POST", "/v3/hooks", {"scope": "store/order/created", "destination": RECEIVER}
    )
    assert again.status_code == 422
    plain = store.send(
        "POST",
        "/v3/hooks",
        {"scope": "store/order/updated", "destination": "http://shop.test/hook"},
    )
    port = store.send(
        "POST",
        "/v3/hooks",
        {"scope": "store/order/updated", "destination": "https://shop.test:8443/"},
    )
    missing = store.send("POST", "/v3/hooks", {"scope": "store/order/updated"})
    assert [r.status_code for r in (plain, port, missing)] == [422, 422, 422]
    assert missing.json()["errors"] == {"destination": "error.path.missing"}
    assert plain.json()["type"].endswith("api-status-codes")
    off = store.send("PUT", f"/v3/hooks/{hook['id']}", {"is_active": False}).json()["data"]
    assert off["is_active"] is False
    assert store.get("/v3/hooks", is_active="true").json()["data"] == []
    assert store.send("DELETE", f"/v3/hooks/{hook['id']}").json()["data"]["id"] == hook["id"]
    gone = store.get(f"/v3/hooks/{hook['id']}")
    assert (gone.status_code, gone.json()["title"]) == (
        404,
        f"Webhook with id [{hook['id']}] not found",
    )


def test_fetching_an_order_through_the_connector(store: Store) -> None:
    (order_id,) = [i for i in store.sim.add_orders(4, statuses=[10]) if i % 4 == 0]
    with store.client() as client:
        raw = connector.fetch_order(client, str(order_id))
        assert connector.fetch_order(client, "99999") is None
    assert raw is not None
    order = connector.to_order(raw)
    assert order.discount_codes == ("SPRING10",)  # the coupon, fetched because one was used
    assert [line.line_id for line in order.line_items] == [
        str(p["id"]) for p in store.sim.products(order_id)
    ]
    assert order.total == Decimal(store.sim.order(order_id)["total_inc_tax"])
    assert order.billing_address is not None


# -- control endpoints and surface -----------------------------------------------------------


def test_control_endpoints(store: Store) -> None:
    made = store.control(
        "POST",
        "orders",
        {
            "count": 3,
            "statuses": [11, 4],
            "created": "2026-02-01T09:00:00Z",
            "interval_seconds": 60,
            "total": "19.99",
        },
    )
    assert made.status_code == 201
    ids = made.json()["ids"]
    assert store.sim.statuses() == {ids[0]: 11, ids[1]: 4, ids[2]: 11}
    orders = [store.sim.order(i) for i in ids]
    assert {o["total_inc_tax"] for o in orders} == {"19.9900"}
    assert orders[1]["refunded_amount"] == "19.9900"
    assert [o["date_created"][-14:] for o in orders] == [
        "09:00:00 +0000",
        "09:01:00 +0000",
        "09:02:00 +0000",
    ]
    changed = store.control("POST", f"orders/{ids[0]}/status", {"status_id": 2})
    assert changed.json()["status"] == "Shipped"
    assert changed.json()["date_shipped"]
    refunded = store.control("POST", f"orders/{ids[2]}/refunds", {"amount": "19.99"})
    assert refunded.json()["order"]["status_id"] == 4
    assert store.control("POST", f"orders/{ids[2]}/refunds", {"amount": "1"}).status_code == 400
    assert store.control("POST", f"orders/{ids[0]}/archive").json()["is_deleted"] is True
    assert store.control("POST", "orders", {"statuses": [15]}).status_code == 400
    assert store.control("POST", "orders/99999/status", {"status_id": 2}).status_code == 404
    assert store.control("POST", "faults", {"nonsense": 1}).status_code == 400
    assert store.control("GET", "webhooks/deliveries").json() == []


def test_credentials_work_as_a_merchant_enters_them(store: Store) -> None:
    credentials = store.sim.credentials(store.url + "/")
    assert credentials["api_base_url"] == store.url
    cleaned, trimmed = clean_credentials(connector.credentials_model, credentials)
    assert trimmed == []
    with connector.client(cleaned, guard=SIMULATOR_GUARD) as client:
        connector.check_credentials(client)


def test_public_surface() -> None:
    import shoptrack.simulators
    import shoptrack.simulators.bigcommerce as module

    assert "BigCommerceSimulator" in shoptrack.simulators.__all__
    assert sorted(module.__all__) == ["BigCommerceSimulator", "Delivery", "Hook", "SimulatedOrder"]
