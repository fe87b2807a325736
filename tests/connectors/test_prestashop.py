"""The PrestaShop connector: order mapping from the Webservice's JSON as 1.7 and 8.x write it
(hand-written fixtures after ``WebserviceOutputJSON`` and issues #22760 and #31244: the same order,
updated at 03:12:40 in Paris an hour after the clocks went forward), the shop's wall clock, and
paging, lookups and refusals against the simulator on a real socket."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoptrack.clock import FrozenClock
from shoptrack.connectors import prestashop as module
from shoptrack.connectors.base import WebhookVerdict, Window, clean_credentials
from shoptrack.connectors.errors import StoreConfigError, StoreDataError
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.prestashop import (
    CURRENCY_KEY,
    CUSTOMER_KEY,
    SHOP_KEY,
    PrestaShop,
    PrestaShopCredentials,
)
from shoptrack.domain.order import LineItem
from shoptrack.errors import InputError
from shoptrack.simulators.prestashop import PS_VERSION, PS_VERSION_1_7, PrestaShopSimulator
from shoptrack.testing import SIMULATOR_GUARD
from tests.stores import serving

FIXTURES = Path(__file__).parent / "fixtures" / "prestashop"
KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
# America/New_York falls back at 2026-11-01 06:00 UTC (01:00 EST); springs forward at
# 2026-03-08 07:00 UTC (02:00 EST becomes 03:00 EDT).
FALL_BACK = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
SPRING_FORWARD = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)

connector = PrestaShop()


def _kept(version: str) -> dict[str, Any]:
    """The fixture's order as a pass keeps it: with its shop's settings, customer, currency."""
    (order,) = json.loads((FIXTURES / f"orders_{version}.json").read_text())["orders"]
    typed = version == "8"
    customer = {
        "id": 2 if typed else "2",
        "email": "pub@prestashop.com",
        "firstname": "John",
        "lastname": "DOE",
        "newsletter": 1 if typed else "1",
        "optin": 0 if typed else "0",
        "is_guest": 0 if typed else "0",
    }
    currency = {"id": 1 if typed else "1", "iso_code": "EUR", "precision": 2 if typed else "2"}
    return order | {
        SHOP_KEY: {"PS_TIMEZONE": "Europe/Paris"},
        CUSTOMER_KEY: customer,
        CURRENCY_KEY: currency,
    }


# -- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "base_url"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("https://shop.example.com/api/", "https://shop.example.com"),
        ("https://example.com/boutique/", "https://example.com/boutique"),
        ("http://127.0.0.1:8080/shop/api?ws_key=x", "http://127.0.0.1:8080/shop"),
    ],
)
def test_the_shops_address_is_taken_as_pasted(given: str, base_url: str) -> None:
    credentials, _ = clean_credentials(
        PrestaShopCredentials, {"base_url": given, "webservice_key": KEY}
    )
    assert isinstance(credentials, PrestaShopCredentials)
    assert credentials.base_url == base_url
    assert connector.origin(credentials) == base_url


@pytest.mark.parametrize(
    ("given", "field_name"),
    [
        ({"base_url": "shop.example.com", "webservice_key": KEY}, "base_url"),
        ({"base_url": "https://shop.example.com", "webservice_key": KEY[:-1]}, "webservice_key"),
        ({"base_url": "https://shop.example.com"}, "webservice_key"),
    ],
)
def test_credentials_that_cannot_work_are_named(given: dict[str, str], field_name: str) -> None:
    with pytest.raises(InputError) as refused:
        clean_credentials(PrestaShopCredentials, given)
    assert refused.value.pointer == f"/data/attributes/credentials/{field_name}"


def test_a_proxy_replaces_the_origin_and_keeps_the_shops_folder() -> None:
    credentials = PrestaShopCredentials(
        base_url="https://example.com/boutique",
        webservice_key=KEY,
        api_base_url="http://127.0.0.1:9000",
    )
    assert connector.origin(credentials) == "http://127.0.0.1:9000/boutique"


# -- mapping --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.7", "8"])
def test_an_order_maps_the_same_from_both_versions(version: str) -> None:
    order = connector.to_order(_kept(version))

    assert (order.platform_order_id, order.number, order.raw_status) == ("5", "XKBKNABJK", "4")
    # CET before the change, CEST after it.
    assert order.created_at == datetime(2024, 3, 30, 17, 45, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 3, 31, 1, 12, 40, tzinfo=UTC)
    assert (order.total, order.discount_total, order.currency) == (
        Decimal("61.02"),
        Decimal("4.78"),
        "EUR",
    )
    assert str(order.total) == "61.02"
    assert (order.email, order.first_name, order.last_name) == (
        "pub@prestashop.com",
        "John",
        "DOE",
    )
    assert (order.accepts_marketing, order.customer_id, order.is_test) == (True, "2", False)
    assert order.line_items == (
        LineItem(
            line_id="7",
            name="Hummingbird printed t-shirt - Size : S- Color : White",
            quantity=1,
            item_price=Decimal("23.90"),
            row_total=Decimal("23.90"),
            product_id="1",
            sku="demo_1",
        ),
        LineItem(
            line_id="8",
            name="Hummingbird printed sweater - Size : S",
            quantity=1,
            item_price=Decimal("35.90"),
            row_total=Decimal("35.90"),
            product_id="2",
            sku="demo_3",
        ),
    )
    assert connector.updated_at(_kept(version)) == order.updated_at


def test_amounts_keep_digits_the_currency_would_drop() -> None:
    raw = _kept("8") | {"total_paid_tax_incl": "10.123400"}
    assert connector.to_order(raw).total == Decimal("10.1234")


def test_a_customer_the_shop_no_longer_has_leaves_the_order_without_email() -> None:
    order = connector.to_order(_kept("1.7") | {CUSTOMER_KEY: None})
    assert (order.email, order.accepts_marketing, order.customer_id) == (None, None, "2")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({CURRENCY_KEY: None}, "_currency: missing"),
        ({"date_upd": "0000-00-00 00:00:00"}, "date_upd: not a date-time (never set)"),
        ({SHOP_KEY: {}}, "_shop.PS_TIMEZONE"),
        ({SHOP_KEY: {"PS_TIMEZONE": "Mars/Olympus"}}, "unknown time zone"),
        ({"current_state": "shipped"}, "current_state: expected a non-negative integer"),
        ({"total_paid_tax_incl": "n/a"}, "total_paid_tax_incl: not a decimal amount"),
    ],
)
def test_what_cannot_be_read_is_named(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        connector.to_order(_kept("1.7") | changes)


def test_prestashop_sends_no_webhooks() -> None:
    check = connector.check_webhook(["secret"], {}, b"{}")
    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason
    assert connector.orders_from_webhook("order", {"id": 1}) == []


# -- answers read without the simulator -----------------------------------------------------


def _mock(
    routes: dict[str, Callable[[httpx.Request], httpx.Response]], seen: list[httpx.Request]
) -> StoreClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes[request.url.path](request)

    return StoreClient(
        "https://shop.example.com",
        guard=SIMULATOR_GUARD,
        transport=httpx.MockTransport(handle),
        sleep=lambda _: None,
    )


def _timezone(name: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(
        200, json={"configurations": [{"name": "PS_TIMEZONE", "value": name}]}
    )


@pytest.mark.parametrize(
    ("window", "between"),
    [
        # Either side of the fall-back: the repeated hour's wall clock, whole.
        (
            Window(FALL_BACK - timedelta(minutes=10), FALL_BACK + timedelta(minutes=20)),
            "[2026-11-01 01:00:00,2026-11-01 01:59:59]",
        ),
        # Wholly after it: only its own wall-clock times (the earlier 01:10 are kept out later).
        (
            Window(FALL_BACK + timedelta(minutes=10), FALL_BACK + timedelta(minutes=20)),
            "[2026-11-01 01:10:00,2026-11-01 01:20:00]",
        ),
        # Across the spring-forward the wall clock only jumps ahead.
        (
            Window(SPRING_FORWARD - timedelta(minutes=15), SPRING_FORWARD + timedelta(minutes=15)),
            "[2026-03-08 01:45:00,2026-03-08 03:15:00]",
        ),
    ],
)
def test_windows_become_the_shops_wall_clock(window: Window, between: str) -> None:
    seen: list[httpx.Request] = []
    routes = {
        "/api/configurations": _timezone("America/New_York"),
        "/api/orders": lambda _: httpx.Response(200, json=[]),
    }
    with _mock(routes, seen) as client:
        assert [page.records for page in connector.order_pages(client, window)] == [[]]
    orders = seen[-1].url.params
    assert orders["filter[date_upd]"] == between
    assert (orders["date"], orders["sort"], orders["output_format"]) == (
        "1",
        "[date_upd_ASC,id_ASC]",
        "JSON",
    )
    assert orders["limit"] == f"0,{connector.page_size}"


def test_a_multistore_shops_global_time_zone_is_the_one_read() -> None:
    rows = [
        {"name": "PS_TIMEZONE", "value": "Europe/Berlin", "id_shop": "2", "id_shop_group": "1"},
        {"name": "PS_TIMEZONE", "value": "Europe/Lisbon", "id_shop": "", "id_shop_group": "1"},
        {"name": "PS_TIMEZONE", "value": "Europe/Paris", "id_shop": "", "id_shop_group": ""},
    ]
    routes = {"/api/configurations": lambda _: httpx.Response(200, json={"configurations": rows})}
    with _mock(routes, []) as client:
        assert connector.shop_settings(client) == {"PS_TIMEZONE": "Europe/Paris"}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"configurations": [{"value": "Mars/Olympus"}]}),
        httpx.Response(200, json=[]),
        httpx.Response(200, text="<br />\n<b>Fatal error</b>"),
        httpx.Response(200, json={"configuration": {"value": "UTC"}}),
    ],
)
def test_a_time_zone_that_cannot_be_read_fails_the_pass(answer: httpx.Response) -> None:
    routes = {"/api/configurations": lambda _: answer}
    with _mock(routes, []) as client, pytest.raises(StoreDataError):
        list(connector.order_pages(client, Window(NOW - timedelta(hours=1), NOW)))


# -- against the simulator ------------------------------------------------------------------


@dataclass
class Answered(httpx.BaseTransport):
    """A real HTTP transport that keeps each request with the body it was answered."""

    exchanges: list[tuple[httpx.Request, bytes]] = field(default_factory=list)
    _network: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._network.handle_request(request)
        body = response.read()
        self.exchanges.append((request, body))
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def close(self) -> None:
        # Each client closes it; a fresh pool (no socket until used) serves the next client.
        self._network.close()
        self._network = httpx.HTTPTransport()

    def to(self, path: str) -> list[tuple[httpx.Request, bytes]]:
        return [(r, body) for r, body in self.exchanges if r.url.path == path]


EVERYTHING = Window(NOW - timedelta(days=400), NOW + timedelta(days=1))
PARIS_CUSTOMERS = {
    "pub@prestashop.com",
    "marie.dubois@example.com",
    "lucas.martin@example.com",
    "emma.bernard@example.com",
    "noah.schmidt@example.com",
    "sofia.rossi@example.com",
    "liam.walsh@example.com",
    "chloe.laurent@example.com",
}


@dataclass
class Shop:
    """A simulated shop on a real socket, and what the connector's clients sent it."""

    sim: PrestaShopSimulator
    url: str
    clock: FrozenClock
    transport: Answered = field(default_factory=Answered)
    delays: list[float] = field(default_factory=list)

    def client(self) -> StoreClient:
        credentials, _ = clean_credentials(PrestaShopCredentials, self.sim.credentials(self.url))
        return connector.client(
            credentials, guard=SIMULATOR_GUARD, transport=self.transport, sleep=self.delays.append
        )

    def fetch(self, window: Window = EVERYTHING) -> list[dict[str, Any]]:
        with self.client() as client:
            return [raw for page in connector.order_pages(client, window) for raw in page.records]


@contextmanager
def running(version: str = PS_VERSION, **options: Any) -> Iterator[Shop]:
    clock = FrozenClock(NOW)
    sim = PrestaShopSimulator(clock=clock.now, version=version, **options)
    with serving(sim.app) as url:
        yield Shop(sim, url, clock)


@pytest.fixture
def shop() -> Iterator[Shop]:
    with running() as running_shop:
        yield running_shop


@pytest.mark.parametrize("version", [PS_VERSION_1_7, PS_VERSION])
@pytest.mark.parametrize("empty_list", ["array", "object"])
def test_a_page_past_the_end_ends_paging_in_either_form(version: str, empty_list: str) -> None:
    with running(version, empty_list=empty_list) as shop:
        # A full page, all in one second: the next page must leave those orders out by id.
        created = shop.sim.add_orders(
            connector.page_size, statuses=["2", "3", "4"], created=NOW - timedelta(hours=1)
        )
        listed = [connector.to_order(raw).platform_order_id for raw in shop.fetch()]

    assert listed == [str(order_id) for order_id in created]
    pages = shop.transport.to("/api/orders")
    assert len(pages) == 2
    request, answer = pages[-1]
    assert answer == (b"[]" if empty_list == "array" else b'{"orders":[]}')
    assert request.url.params["filter[id]"] == "![" + "|".join(map(str, created)) + "]"
    # 11:00 UTC is 13:00 in Paris: the page starts at the last order's own wall-clock time.
    assert request.url.params["filter[date_upd]"].startswith("[2026-06-15 13:00:00,")


def test_an_order_changed_during_a_pass_hides_no_other(shop: Shop) -> None:
    created = shop.sim.add_orders(
        250, created=NOW - timedelta(days=1), interval=timedelta(seconds=1)
    )
    with shop.client() as client:
        pages = connector.order_pages(client, Window(NOW - timedelta(days=2), NOW))
        first = next(pages).records
        # The merchant ships orders already read while the sync goes on: they leave the window
        # (offsets into it would now skip as many orders).
        shop.clock.advance(timedelta(minutes=1))
        for order_id in created[:3]:
            shop.sim.set_status(order_id, "4")
        rest = [raw for page in pages for raw in page.records]

    listed = [int(raw["id"]) for raw in first + rest]
    assert listed == created


def test_a_second_too_busy_to_name_its_orders_is_skipped_by_count(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "_MAX_LEFT_OUT", 150)
    created = shop.sim.add_orders(250, created=NOW - timedelta(hours=1))

    listed = [int(raw["id"]) for raw in shop.fetch()]

    assert listed == created
    pages = [request.url.params for request, _ in shop.transport.to("/api/orders")]
    assert [params["limit"] for params in pages] == ["0,100", "0,100", "200,100"]
    assert ["filter[id]" in params for params in pages] == [False, True, False]


def test_customers_and_currencies_are_read_once_a_pass(shop: Shop) -> None:
    shop.sim.add_orders(
        250, statuses=["2", "4"], created=NOW - timedelta(days=10), interval=timedelta(hours=1)
    )

    raws = shop.fetch()

    assert len(raws) == 250
    requests = {
        path: len(shop.transport.to(path))
        for path in ("/api/configurations", "/api/orders", "/api/customers", "/api/currencies")
    }
    assert requests == {
        "/api/configurations": 1,
        "/api/orders": 3,
        "/api/customers": 1,
        "/api/currencies": 1,
    }
    assert {raw[CUSTOMER_KEY]["email"] for raw in raws} == PARIS_CUSTOMERS
    assert "passwd" not in raws[0][CUSTOMER_KEY]  # only the fields a profile needs are kept
    assert {raw[CURRENCY_KEY]["iso_code"] for raw in raws} == {"EUR"}
    assert {json.dumps(raw[SHOP_KEY]) for raw in raws} == {'{"PS_TIMEZONE": "Europe/Paris"}'}
    orders = [connector.to_order(raw) for raw in raws]
    assert {order.accepts_marketing for order in orders} == {True, False}


@pytest.mark.parametrize("missing", ["configurations", "orders", "customers", "currencies"])
def test_a_key_without_a_permission_is_told_which(missing: str) -> None:
    readable = [r for r in ("configurations", "orders", "customers", "currencies") if r != missing]
    with running(key_resources=readable) as shop:
        shop.sim.add_orders(1)
        with shop.client() as client, pytest.raises(StoreConfigError) as refused:
            connector.check_credentials(client)

    assert refused.value.code == "scope_missing"
    assert f"may not read {missing}" in refused.value.detail
    assert '"code":26' in refused.value.store_answer
    assert shop.delays == []


def test_a_disabled_webservice_is_a_config_error(shop: Shop) -> None:
    shop.sim.set_faults({"webservice_disabled": True})

    with shop.client() as client, pytest.raises(StoreConfigError) as refused:
        connector.check_credentials(client)

    assert "webservice is disabled" in refused.value.detail
    assert (refused.value.code, refused.value.store_status) == ("credentials_rejected", 503)
    assert len(shop.delays) == 4  # a 503 is retried before its body is read


def test_the_check_reads_the_time_zone_and_one_id_of_each_resource(shop: Shop) -> None:
    with shop.client() as client:
        connector.check_credentials(client)

    paths = [request.url.path for request, _ in shop.transport.exchanges]
    assert paths == ["/api/configurations", "/api/orders", "/api/customers", "/api/currencies"]
    assert {request.url.params["limit"] for request, _ in shop.transport.exchanges[1:]} == {"1"}


# -- wall-clock bounds, for any window ------------------------------------------------------

ZONES = ("America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Antarctica/Troll", "UTC")


def _changes(zone: ZoneInfo) -> list[datetime]:
    """The hours of 2026 in which ``zone``'s offset changes."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]
    return [b for a, b in itertools.pairwise(hours) if a.astimezone(zone).utcoffset()
            != b.astimezone(zone).utcoffset()]  # fmt: skip


CHANGES = {name: _changes(ZoneInfo(name)) or [datetime(2026, 6, 1, tzinfo=UTC)] for name in ZONES}


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(ZONES),
    change=st.integers(min_value=0, max_value=3),
    offset=st.integers(min_value=-5 * 3600, max_value=5 * 3600),
    length=st.integers(min_value=0, max_value=6 * 3600),
)
def test_wall_clock_bounds_hold_every_moment_of_a_window(
    name: str, change: int, offset: int, length: int
) -> None:
    zone = ZoneInfo(name)
    changes = CHANGES[name]
    since = changes[change % len(changes)] + timedelta(seconds=offset, microseconds=250_000)
    window = Window(since, since + timedelta(seconds=length))

    low, high = (
        datetime.strptime(bound, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007  # the shop's wall clock
        for bound in module._wall_bounds(window, zone)
    )

    moments = [window.since + timedelta(seconds=s) for s in range(0, length + 1, 60)]
    moments += [window.until, *(c + d for c in changes for d in (timedelta(0), -SECOND))]
    walls = [
        moment.astimezone(zone).replace(tzinfo=None, microsecond=0)
        for moment in moments
        if window.since <= moment <= window.until
    ]
    assert low <= min(walls)
    assert high >= max(walls)
    # Tight: no earlier or later than the window's own wall-clock times need.
    assert min(walls) - low < timedelta(minutes=1)
    assert high - max(walls) < timedelta(minutes=1)
