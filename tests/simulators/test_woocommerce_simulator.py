"""The WooCommerce simulator against WooCommerce's own client (``woocommerce`` from PyPI, OAuth 1.0a
over plain http) on a real socket, and its webhooks against shoptrack's verification."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from oauthlib import oauth1
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from woocommerce import API

from shoptrack.clock import FrozenClock
from shoptrack.connectors.base import WebhookVerdict
from shoptrack.connectors.woocommerce import WooCommerce
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from tests.stores import serving

SECRET = "whsec-test-secret"


@dataclass
class Store:
    sim: WooCommerceSimulator
    url: str
    clock: FrozenClock

    def api(self, *, key: str | None = None, secret: str | None = None) -> API:
        """WooCommerce's own client, as a merchant's script would build it."""
        return API(
            url=self.url,
            consumer_key=key or self.sim.consumer_key,
            consumer_secret=secret or self.sim.consumer_secret,
            version="wc/v3",
            timeout=5,
        )

    def ids(self, **params: Any) -> list[int]:
        response = self.api().get("orders", params=params)
        assert response.status_code == 200, response.text
        return [order["id"] for order in response.json()]

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.url}/_sim/{path}", json=body, timeout=5)


@dataclass
class Receiver:
    """A webhook endpoint on a real socket: keeps each request, answers ``status``."""

    url: str = ""
    status: int = 200
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        return PlainTextResponse("ok", self.status)

    def deliveries(self) -> list[tuple[dict[str, str], bytes]]:
        """The signed deliveries, pings left out."""
        return [(h, b) for h, b in self.requests if "x-wc-webhook-signature" in h]


@pytest.fixture
def store() -> Iterator[Store]:
    # Near the real time: the official client signs OAuth timestamps with the machine's clock.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    sim = WooCommerceSimulator(clock=clock.now)
    with serving(sim.app) as url:
        yield Store(sim, url, clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    with serving(Starlette(routes=[Route("/hook", hooks.handle, methods=["POST"])])) as url:
        hooks.url = f"{url}/hook"
        yield hooks


def _error(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


# -- listing -------------------------------------------------------------------------------


def test_official_client_pages_through_250_orders_once_each(store: Store) -> None:
    created = store.sim.add_orders(250, statuses=["processing", "completed", "on-hold"])
    api, seen, page = store.api(), [], 1
    while True:
        response = api.get("orders", params={"per_page": 100, "page": page})
        assert response.status_code == 200, response.text
        assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("250", "3")
        assert set(response.links) == {1: {"next"}, 2: {"prev", "next"}}.get(page, {"prev"})
        if not response.json():
            break
        seen += [order["id"] for order in response.json()]
        page += 1
    assert page == 4  # the page past the end is 200 [] with the real totals
    assert sorted(seen) == sorted(created)
    assert seen == sorted(seen, reverse=True)  # newest first by default (date desc, id)
    assert "page=2" in api.get("orders", params={"per_page": 100, "page": 3}).links["prev"]["url"]


def test_the_same_listing_read_again_shows_every_change_made_in_between(store: Store) -> None:
    first, second, third = store.sim.add_orders(3, statuses=["processing"])
    api = store.api()
    processing = {"status": "processing", "orderby": "modified", "order": "asc"}
    assert store.ids(**processing) == [first, second, third]
    store.sim.set_status(first, "completed")
    assert store.ids(**processing) == [second, third]
    store.clock.advance(timedelta(minutes=1))
    assert api.put(f"orders/{second}", {"customer_note": "leave at the door"}).status_code == 200
    assert store.ids(**processing) == [third, second]  # the save bumped its modified time
    store.sim.refund(third, Decimal(api.get(f"orders/{third}").json()["total"]))
    assert store.ids(**processing) == [second]
    (fourth,) = store.sim.add_orders(statuses=["processing"])
    assert store.ids(**processing) == [second, fourth]


def test_modified_after_in_gmt_sorted_by_modified_then_id(store: Store) -> None:
    cut = datetime(2026, 11, 27, 12, tzinfo=UTC)
    store.sim.add_orders(2, created=cut - timedelta(days=3), modified=cut - timedelta(hours=2))
    at_cut = store.sim.add_orders(1, created=cut - timedelta(days=3), modified=cut)
    tied = store.sim.add_orders(
        2, created=cut - timedelta(days=2), modified=cut + timedelta(hours=1)
    )
    sooner = store.sim.add_orders(
        1, created=cut - timedelta(days=1), modified=cut + timedelta(minutes=5)
    )
    params = {
        "modified_after": "2026-11-27T12:00:00",
        "dates_are_gmt": "true",
        "orderby": "modified",
    }
    # The bound is exclusive; equal modified times come in id order.
    assert store.ids(**params, order="asc") == [*sooner, *tied]
    assert store.ids(**params, order="desc") == [*tied[::-1], *sooner]
    assert store.ids(modified_before="2026-11-27T12:00:01", dates_are_gmt="true")[0] == at_cut[0]


def test_dates_compare_in_site_time_unless_dates_are_gmt(store: Store) -> None:
    store.sim.set_faults({"site_timezone": "America/New_York"})
    moment = datetime(2026, 11, 27, 12, tzinfo=UTC)  # 07:00 in New York
    (order_id,) = store.sim.add_orders(created=moment, modified=moment)
    order = store.api().get(f"orders/{order_id}").json()
    assert (order["date_modified"], order["date_modified_gmt"]) == (
        "2026-11-27T07:00:00",
        "2026-11-27T12:00:00",
    )
    assert store.ids(modified_after="2026-11-27T08:00:00") == []
    assert store.ids(modified_after="2026-11-27T08:00:00", dates_are_gmt="true") == [order_id]
    assert store.ids(after="2026-11-27T06:59:59") == [order_id]
    assert store.ids(before="2026-11-27T11:00:00", dates_are_gmt="true") == []
    # As in WP_Date_Query, a bound with an offset is put in site time first, even against the
    # GMT dates: 13:00Z becomes 08:00, and the order modified at 12:00Z is listed.
    assert store.ids(modified_after="2026-11-27T13:00:00Z", dates_are_gmt="true") == [order_id]


def test_status_filters_and_registered_custom_statuses(store: Store) -> None:
    pending, processing, completed = (
        store.sim.add_orders(statuses=[s])[0] for s in ("pending", "processing", "completed")
    )
    assert sorted(store.ids(status="processing,completed")) == [processing, completed]
    assert store.ids(status="any", orderby="id", order="asc") == [pending, processing, completed]
    assert store.ids(include=f"{completed},{pending}", orderby="include") == [completed, pending]
    assert store.ids(exclude=str(processing), orderby="id") == [completed, pending]
    refused = store.api().get("orders", params={"status": "awaiting-shipment"})
    assert _error(refused)[:2] == (400, "rest_invalid_param")
    assert (
        "status[0] is not one of any, trash, pending" in refused.json()["data"]["params"]["status"]
    )
    store.sim.set_faults({"custom_statuses": ["awaiting-shipment"]})
    (custom,) = store.sim.add_orders(statuses=["awaiting-shipment"])
    assert store.ids(status="awaiting-shipment") == [custom]


def test_invalid_arguments_answer_wordpress_400(store: Store) -> None:
    response = store.api().get("orders", params={"per_page": 101, "page": 0, "orderby": "total"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param"
    assert body["message"] == "Invalid parameter(s): page, per_page, orderby"
    assert body["data"]["params"] == {
        "page": "page must be greater than or equal to 1",
        "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)",
        "orderby": "orderby is not one of date, id, include, title, slug, and modified.",
    }
    assert body["data"]["details"]["per_page"]["code"] == "rest_out_of_bounds"
    bad_date = store.api().get("orders", params={"modified_after": "yesterday"})
    assert bad_date.json()["data"]["params"] == {"modified_after": "Invalid date."}


# -- authentication ------------------------------------------------------------------------


def test_refused_keys_answer_woocommerce_errors(store: Store) -> None:
    assert _error(store.api(secret="cs_wrong").get("orders")) == (
        401,
        "woocommerce_rest_authentication_error",
        "Invalid signature - provided signature does not match.",
    )
    assert _error(store.api(key="ck_unknown").get("orders")) == (
        401,
        "woocommerce_rest_authentication_error",
        "Consumer key is invalid.",
    )
    cannot_list = (401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    orders = f"{store.url}/wp-json/wc/v3/orders"
    assert _error(httpx.get(orders)) == cannot_list
    # Plain http: Basic auth is ignored, even with the right keys.
    basic = (store.sim.consumer_key, store.sim.consumer_secret)
    assert _error(httpx.get(orders, auth=basic)) == cannot_list
    assert httpx.get(f"{store.url}/wp-json/").json()["home"] == store.url  # the index is public
    assert _error(store.api().get("orders/99999"))[:2] == (
        404,
        "woocommerce_rest_shop_order_invalid_id",
    )
    assert _error(store.api().get("customers/1"))[:2] == (404, "rest_no_route")


def test_a_read_only_key_cannot_write() -> None:
    sim = WooCommerceSimulator(key_permissions="read")
    with serving(sim.app) as url:
        api = API(url=url, consumer_key=sim.consumer_key, consumer_secret=sim.consumer_secret)
        assert api.get("orders").status_code == 200
        assert _error(api.post("orders", {"status": "pending"})) == (
            401,
            "woocommerce_rest_authentication_error",
            "The API key provided does not have write permissions.",
        )


def test_https_mode_takes_basic_and_query_keys() -> None:
    sim = WooCommerceSimulator(https_mode=True)
    sim.add_orders(2)
    with serving(sim.app) as url:
        orders = f"{url}/wp-json/wc/v3/orders"
        assert httpx.get(orders, auth=(sim.consumer_key, sim.consumer_secret)).status_code == 200
        query = {"consumer_key": sim.consumer_key, "consumer_secret": sim.consumer_secret}
        assert len(httpx.get(orders, params=query | {"status[]": "processing"}).json()) == 2
        wrong = httpx.get(orders, auth=(sim.consumer_key, "cs_wrong"))
        assert _error(wrong) == (
            401,
            "woocommerce_rest_authentication_error",
            "Consumer secret is invalid.",
        )
        assert wrong.headers["www-authenticate"].startswith('Basic realm="WooCommerce API.')
        # An unknown key is no error: the request goes on anonymous and is refused.
        anonymous = httpx.get(orders, auth=("ck_unknown", "cs_wrong"))
        assert _error(anonymous)[1] == "woocommerce_rest_cannot_view"


def test_oauth_nonces_timestamps_methods_and_missing_parameters(store: Store) -> None:
    url = f"{store.url}/wp-json/wc/v3/orders?per_page=1"

    def signed(method: str = oauth1.SIGNATURE_HMAC_SHA1) -> tuple[str, dict[str, str]]:
        client = oauth1.Client(
            store.sim.consumer_key,
            client_secret=store.sim.consumer_secret,
            signature_method=method,
            signature_type=oauth1.SIGNATURE_TYPE_AUTH_HEADER,
        )
        uri, headers, _ = client.sign(url)
        return uri, headers

    uri, headers = signed()  # HMAC-SHA1 in the Authorization header
    assert httpx.get(uri, headers=headers).status_code == 200
    replayed = httpx.get(uri, headers=headers)
    assert _error(replayed)[2] == "Invalid nonce - nonce has already been used."
    store.clock.advance(timedelta(minutes=16))  # the store's clock is now ahead of the client's
    uri, headers = signed()
    assert _error(httpx.get(uri, headers=headers))[2] == "Invalid timestamp."
    store.clock.advance(timedelta(minutes=-16))
    uri, headers = signed(oauth1.SIGNATURE_PLAINTEXT)
    assert _error(httpx.get(uri, headers=headers))[2] == (
        "Invalid signature - signature method is invalid."
    )
    partial = httpx.get(f"{url}&oauth_consumer_key={store.sim.consumer_key}")
    assert _error(partial) == (
        401,
        "woocommerce_rest_authentication_missing_parameter",
        (
            "Missing OAuth parameters oauth_timestamp, oauth_nonce, oauth_signature,"
            " oauth_signature_method"
        ),
    )


# -- faults --------------------------------------------------------------------------------


def test_rate_limit_then_server_errors_then_slow_pages(store: Store) -> None:
    api = store.api()
    store.control("POST", "faults", {"rate_limit": {"burst": 2, "retry_after": 1}})
    limited = [api.get("orders") for _ in range(3)]
    assert [r.status_code for r in limited] == [429, 429, 200]
    assert limited[0].headers["Retry-After"] == "1"
    store.sim.set_faults({"server_error": 3})
    failing = [api.get("orders") for _ in range(4)]
    assert [r.status_code for r in failing] == [500, 502, 503, 200]
    assert failing[0].json()["code"] == "internal_server_error"
    assert "502 Bad Gateway" in failing[1].text
    store.sim.set_faults({"slow_ms": 40})
    started = time.monotonic()
    assert api.get("orders").status_code == 200
    assert time.monotonic() - started >= 0.04


def test_firewall_blocks_one_user_agent_with_cloudflares_page(store: Store) -> None:
    store.control("POST", "faults", {"firewall_user_agent": "shoptrack"})
    orders = f"{store.url}/wp-json/wc/v3/orders"
    blocked = httpx.get(orders, headers={"user-agent": "shoptrack/0.1.0"})
    assert blocked.status_code == 403
    assert "cloudflare" in blocked.headers["server"]  # uvicorn adds its own name too
    assert blocked.headers["cf-ray"]
    assert "Attention Required! | Cloudflare" in blocked.text
    assert '<span class="cf-error-code">1020</span>' in blocked.text
    assert "Cloudflare Ray ID" in blocked.text
    assert store.api().get("orders").status_code == 200  # other clients pass
    assert store.control("DELETE", "faults").json()["firewall_user_agent"] is None
    assert httpx.get(orders, headers={"user-agent": "shoptrack/0.1.0"}).status_code == 401


# -- orders, refunds and webhooks ----------------------------------------------------------


def _register(store: Store, receiver: Receiver, topic: str) -> dict[str, Any]:
    data = {"name": topic, "topic": topic, "delivery_url": receiver.url, "secret": SECRET}
    response = store.api().post("webhooks", data | {"status": "active"})
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def _verified(headers: dict[str, str], body: bytes) -> str:
    check = WooCommerce().check_webhook(["old-secret", SECRET], headers, body)
    assert check.verdict is WebhookVerdict.ACCEPTED, check.reason
    return check.topic


def test_webhooks_ping_then_deliver_signed_orders(store: Store, receiver: Receiver) -> None:
    hook = _register(store, receiver, "order.created")
    assert (hook["status"], hook["resource"], hook["event"]) == ("active", "order", "created")
    assert hook["hooks"] == ["woocommerce_new_order"]
    assert "secret" not in hook
    ((ping_headers, ping_body),) = receiver.requests
    assert ping_body == f"webhook_id={hook['id']}".encode()
    assert (
        WooCommerce().check_webhook([SECRET], ping_headers, ping_body).verdict
        is WebhookVerdict.PING
    )
    _register(store, receiver, "order.updated")

    api = store.api()
    created = api.post("orders", {"set_paid": True, "billing": {"email": "ada@example.com"}})
    assert created.status_code == 201, created.text
    order = created.json()
    assert (order["status"], order["created_via"]) == ("processing", "rest-api")
    deliveries = receiver.deliveries()
    assert [_verified(h, b) for h, b in deliveries] == ["order.created", "order.updated"]
    headers, body = deliveries[0]
    assert headers["x-wc-webhook-source"] == f"{store.url}/"
    assert (headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"]) == ("order", "created")
    assert headers["x-wc-webhook-id"] == str(hook["id"])
    assert headers["user-agent"].startswith("WooCommerce/9.")
    assert "Hookshot (WordPress/6." in headers["user-agent"]
    assert json.loads(body) == api.get(f"orders/{order['id']}").json()
    forged = {**headers, "x-wc-webhook-signature": base64.b64encode(b"x" * 32).decode()}
    assert WooCommerce().check_webhook([SECRET], forged, body).verdict is WebhookVerdict.REJECTED

    store.clock.advance(timedelta(minutes=1))
    updated = api.put(f"orders/{order['id']}", {"status": "completed"}).json()
    assert updated["date_modified_gmt"] > order["date_modified_gmt"]
    assert updated["date_completed_gmt"] == updated["date_modified_gmt"]
    headers, body = receiver.deliveries()[-1]
    assert _verified(headers, body) == "order.updated"
    assert json.loads(body)["status"] == "completed"


def test_refunds_through_the_api(store: Store, receiver: Receiver) -> None:
    (order_id,) = store.sim.add_orders(total="30.00")
    _register(store, receiver, "order.updated")
    api = store.api()
    gateway = api.post(f"orders/{order_id}/refunds", {"amount": "5.00"})  # api_refund defaults on
    assert _error(gateway) == (
        500,
        "woocommerce_rest_cannot_create_order_refund",
        "The payment gateway for this order does not support automatic refunds.",
    )
    partial = api.post(f"orders/{order_id}/refunds", {"amount": "5.00", "api_refund": False})
    assert (partial.status_code, partial.json()["amount"]) == (201, "5.00")
    too_much = api.post(f"orders/{order_id}/refunds", {"amount": "25.01", "api_refund": False})
    assert _error(too_much)[2] == "Invalid refund amount."
    api.post(f"orders/{order_id}/refunds", {"amount": "25.00", "reason": "x", "api_refund": False})
    order = api.get(f"orders/{order_id}").json()
    assert order["status"] == "refunded"
    assert [r["total"] for r in order["refunds"]] == ["-25.00", "-5.00"]  # newest first
    bodies = [json.loads(b) for _, b in receiver.deliveries()]
    assert [b["status"] for b in bodies] == ["processing", "refunded"]


def test_duplicated_deliveries_share_their_delivery_id(store: Store, receiver: Receiver) -> None:
    (order_id,) = store.sim.add_orders()
    _register(store, receiver, "order.updated")
    store.control("POST", "faults", {"duplicate_webhooks": True})
    store.control("POST", f"orders/{order_id}/status", {"status": "completed"})
    first, second = receiver.deliveries()
    assert first == second


def test_delivery_ids_repeat_within_one_second(store: Store, receiver: Receiver) -> None:
    # WooCommerce's id is wp_hash(webhook_id . time()): not unique per delivery.
    first, second = store.sim.add_orders(2)
    _register(store, receiver, "order.updated")
    store.control("POST", f"orders/{first}/status", {"status": "completed"})
    store.control("POST", f"orders/{second}/status", {"status": "completed"})
    store.clock.advance(timedelta(seconds=1))
    store.control("POST", f"orders/{first}/status", {"status": "refunded"})
    ids = [h["x-wc-webhook-delivery-id"] for h, _ in receiver.deliveries()]
    assert ids[0] == ids[1] != ids[2]


def test_reordered_deliveries_come_newest_first_as_they_were(
    store: Store, receiver: Receiver
) -> None:
    (order_id,) = store.sim.add_orders(statuses=["pending"])
    _register(store, receiver, "order.updated")
    store.sim.set_faults({"reorder_webhooks": True})
    for status in ("processing", "completed", "refunded"):
        store.clock.advance(timedelta(minutes=1))
        store.control("POST", f"orders/{order_id}/status", {"status": status})
    assert receiver.deliveries() == []  # held
    sent = store.control("POST", "webhooks/deliver").json()
    assert [d["topic"] for d in sent] == ["order.updated"] * 3
    bodies = [json.loads(b) for _, b in receiver.deliveries()]
    assert [b["status"] for b in bodies] == ["refunded", "completed", "processing"]
    assert bodies[0]["date_modified_gmt"] > bodies[2]["date_modified_gmt"]


def test_failing_webhook_is_disabled_without_retries(store: Store, receiver: Receiver) -> None:
    (order_id,) = store.sim.add_orders()
    receiver.status = 500  # the ping fails too, which counts for nothing
    hook = _register(store, receiver, "order.updated")
    for attempt in range(8):
        store.clock.advance(timedelta(seconds=1))
        status = ("completed", "processing")[attempt % 2]
        store.control("POST", f"orders/{order_id}/status", {"status": status})
    # Counted failures 1..6, then the 7th disables it; the 8th change is not sent.
    assert len(receiver.deliveries()) == 7
    assert store.api().get(f"webhooks/{hook['id']}").json()["status"] == "disabled"
    log = store.control("GET", "webhooks/deliveries").json()
    assert [entry["status"] for entry in log] == [500] * 8
    assert log[0]["ping"] is True


def test_manual_delivery_coalesces_changes_and_sends_the_latest_order() -> None:
    seen: list[httpx.Request] = []
    sim = WooCommerceSimulator(
        webhook_delivery="manual",
        webhook_transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200)),
    )
    sim.add_webhook("order.updated", "http://shoptrack.test/hook", secret=SECRET)
    (order_id,) = sim.add_orders(statuses=["pending"])
    sim.set_status(order_id, "processing")
    sim.set_status(order_id, "cancelled")
    assert seen == []
    (delivery,) = asyncio.run(sim.deliver_pending())
    assert delivery.status == 200
    assert delivery.succeeded
    assert json.loads(seen[0].content)["status"] == "cancelled"
    assert _verified(dict(seen[0].headers), seen[0].content) == "order.updated"


def test_control_endpoints_create_orders_and_report_errors(store: Store) -> None:
    made = store.control(
        "POST",
        "orders",
        {
            "count": 3,
            "statuses": ["pending", "completed"],
            "email": "grace@example.com",
            "created": "2026-11-01T09:00:00Z",
            "interval_seconds": 3600,
        },
    )
    assert made.status_code == 201
    ids = made.json()["ids"]
    orders = [store.sim.order(i) for i in ids]
    assert [o["status"] for o in orders] == ["pending", "completed", "pending"]
    assert [o["date_created_gmt"] for o in orders] == [
        "2026-11-01T09:00:00",
        "2026-11-01T10:00:00",
        "2026-11-01T11:00:00",
    ]
    assert {o["billing"]["email"] for o in orders} == {"grace@example.com"}
    refunded = store.control("POST", f"orders/{ids[1]}/refunds", {"amount": orders[1]["total"]})
    assert refunded.json()["status"] == "refunded"
    assert store.control("POST", "orders", {"statuses": ["shipped"]}).status_code == 400
    assert store.control("POST", "orders/99999/status", {"status": "completed"}).status_code == 404
    assert store.control("POST", "faults", {"nonsense": 1}).status_code == 400


@pytest.mark.slow
def test_simulate_command_serves_a_store_the_official_client_can_read() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "shoptrack", "simulate", "woocommerce", "--orders", "7", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        lines = []
        while not lines or lines[-1].rstrip() != "}":
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        document = json.loads("".join(lines))
        credentials = document["credentials"]
        assert credentials["store_url"] == document["base_url"]
        api = API(
            url=credentials["store_url"],
            consumer_key=credentials["consumer_key"],
            consumer_secret=credentials["consumer_secret"],
            version="wc/v3",
            timeout=5,
        )
        response = api.get("orders", params={"per_page": 100})
        assert response.status_code == 200, response.text
        assert response.headers["X-WP-Total"] == "7"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_public_surface() -> None:
    import shoptrack.simulators
    import shoptrack.simulators.woocommerce as module

    assert "WooCommerceSimulator" in shoptrack.simulators.__all__
    assert sorted(module.__all__) == [
        "Delivery",
        "Refund",
        "SimulatedOrder",
        "WC_VERSION",
        "WP_VERSION",
        "Webhook",
        "WooCommerceSimulator",
        "build_order",
        "placed_order",
    ]
