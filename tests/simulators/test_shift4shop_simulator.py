"""The Shift4Shop simulator on a real socket, as a client of ``apirest.3dcart.com`` meets it: the
three-header check, record-offset paging and its end answers, the store's wall clock and day
filters, order queues, store settings, the hosting's faults, and the ``/_sim/`` control routes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.connectors.shift4shop import store_timezone
from shoptrack.simulators.shift4shop import Shift4ShopSimulator
from tests.stores import serving

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
API = "/3dCartWebAPI/v1"
SECURE_URL = "trail-goods.3dcartstores.com"
DENIED = {"Message": "Authorization has been denied for this request."}


@dataclass
class Store:
    sim: Shift4ShopSimulator
    http: httpx.Client
    clock: FrozenClock

    def keys(self) -> dict[str, str]:
        return {
            "SecureURL": SECURE_URL,
            "PrivateKey": self.sim.private_key,
            "Token": self.sim.token,
            "Accept": "application/json",
        }

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(f"{API}/{path}", params=params, headers=self.keys())

    def ids(self, **params: Any) -> list[int]:
        response = self.get("Orders", **params)
        assert response.status_code == 200, response.text
        return [order["OrderID"] for order in response.json()]


@pytest.fixture
def store() -> Iterator[Store]:
    clock = FrozenClock(NOW)
    sim = Shift4ShopSimulator(secure_url=SECURE_URL, clock=clock.now, max_limit=50)
    with serving(sim.app) as url, httpx.Client(base_url=url, timeout=5) as http:
        yield Store(sim, http, clock)


def _error(status: int, message: str) -> list[dict[str, str]]:
    return [{"Key": "Error", "Value": "", "Status": str(status), "Message": message}]


# -- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["SecureURL", "PrivateKey", "Token"])
def test_each_of_the_three_headers_is_checked(store: Store, header: str) -> None:
    store.sim.add_orders(1)
    wrong = store.keys() | {header: "wrong" + store.keys()[header][5:]}
    missing = {name: value for name, value in store.keys().items() if name != header}

    for headers in (wrong, missing):
        response = store.http.get(f"{API}/Orders", headers=headers)
        assert (response.status_code, response.json()) == (401, DENIED)
    assert store.http.get(f"{API}/StoreSettings", headers=missing).status_code == 401


def test_header_names_are_any_case_and_the_secure_url_may_be_an_address(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1)
    headers = {
        "secureurl": f"https://{SECURE_URL.upper()}/",
        "privatekey": store.sim.private_key,
        "token": store.sim.token,
    }
    response = store.http.get(f"{API}/Orders", headers=headers)
    assert response.status_code == 200
    assert [order["OrderID"] for order in response.json()] == [order_id]


def test_credentials_name_the_store_and_the_api(store: Store) -> None:
    assert store.sim.credentials("http://127.0.0.1:9000/") == {
        "secure_url": SECURE_URL,
        "private_key": store.sim.private_key,
        "token": store.sim.token,
        "api_base_url": "http://127.0.0.1:9000",
    }


# -- paging ----------------------------------------------------------------------------------


def test_pages_count_records_from_offset_one(store: Store) -> None:
    created = store.sim.add_orders(25, statuses=["1", "2", "4"], interval=timedelta(minutes=1))

    assert store.ids() == created[:10]  # limit 10 by default
    assert store.ids(limit=10, offset=11) == created[10:20]
    assert store.ids(Limit=10, OFFSET=21) == created[20:]  # names bind in any case
    assert store.ids(limit=10, offset=0) == created[:10]  # below 1 reads as 1
    past_end = store.get("Orders", limit=10, offset=26)
    assert past_end.status_code == 400
    assert past_end.json() == _error(400, "Offset amount exceeds the total number of records")


def test_a_limit_above_the_maximum_is_cut_short(store: Store) -> None:
    created = store.sim.add_orders(60)
    # 100 asked, 50 served: a client that stops at a short page would miss ten orders.
    assert store.ids(limit=100) == created[:50]
    assert store.get("Orders", countonly=1).json() == {"TotalCount": 60}


def test_no_match_at_all_is_404_no_orders_found(store: Store) -> None:
    empty = store.get("Orders")
    assert (empty.status_code, empty.json()) == (404, _error(404, "No orders found."))
    store.sim.add_orders(2)
    none_match = store.get("Orders", orderstatus=5, offset=3)
    assert (none_match.status_code, none_match.json()) == (404, _error(404, "No orders found."))
    assert store.get("Orders", countonly=1, orderstatus=5).json() == {"TotalCount": 0}


@pytest.mark.parametrize(
    "params", [{"limit": "ten"}, {"offset": "1.5"}, {"lastupdatestart": "2026-11-27"}]
)
def test_a_parameter_that_is_not_one_is_400(store: Store, params: dict[str, str]) -> None:
    store.sim.add_orders(1)
    response = store.get("Orders", **params)
    assert (response.status_code, response.json()) == (400, {"Message": "The request is invalid."})


# -- the store's wall clock ------------------------------------------------------------------


def test_times_are_the_stores_wall_clock_without_an_offset(store: Store) -> None:
    store.sim.set_faults({"site_timezone": "America/New_York"})
    fall_back = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    ids = [
        store.sim.add_orders(1, created=fall_back + timedelta(minutes=minutes))[0]
        for minutes in (-30, 30, -24 * 60 * 120)
    ]
    written = {order["OrderID"]: order["LastUpdate"] for order in store.get("Orders").json()}
    assert [written[order_id] for order_id in ids] == [
        "2026-11-01T01:30:00",  # EDT
        "2026-11-01T01:30:00",  # an hour later, EST: the same wall clock
        "2026-07-04T02:00:00",  # EDT in summer
    ]


def test_lastupdate_bounds_are_days_and_a_day_is_its_midnight(store: Store) -> None:
    store.sim.set_faults({"site_timezone": "America/New_York"})
    # 23:30 on the 26th and 00:30 on the 27th in New York (EST, five hours behind UTC).
    late, early = (
        store.sim.add_orders(1, created=moment)[0]
        for moment in (
            datetime(2026, 11, 27, 4, 30, tzinfo=UTC),
            datetime(2026, 11, 27, 5, 30, tzinfo=UTC),
        )
    )

    assert store.ids(lastupdatestart="11/27/2026") == [early]
    assert store.ids(lastupdatestart="11/27/2026 23:59:59") == [early]  # the time is dropped
    assert store.ids(lastupdateend="11/27/2026") == [late]  # not what changed later that day
    assert store.ids(lastupdatestart="11/26/2026", lastupdateend="11/28/2026") == [late, early]


def test_datestart_and_dateend_compare_order_dates_to_the_second(store: Store) -> None:
    first, second = store.sim.add_orders(
        2, created=NOW - timedelta(hours=2), interval=timedelta(hours=1)
    )
    store.clock.advance(timedelta(minutes=5))
    store.sim.set_status(first, "4")  # a later LastUpdate does not move the order date

    assert store.ids(datestart="11/27/2026 13:00:00") == [first, second]  # both ends included
    assert store.ids(datestart="11/27/2026 13:00:01") == [second]
    assert store.ids(dateend="11/27/2026 13:00:00") == [first]
    assert store.get("Orders", dateend="11/27/2026 12:59:59").status_code == 404
    assert store.ids(lastupdatestart="11/27/2026", orderstatus=4) == [first]


def test_filters_by_status_invoice_and_billing_email(store: Store) -> None:
    a, b, c = store.sim.add_orders(3, statuses=["2", "4", "2"], email="Pat@Example.com")
    invoice = store.sim.order(b)["InvoiceNumber"]
    assert store.ids(orderstatus=2) == [a, c]
    assert store.ids(invoicenumber=invoice) == [b]
    assert store.ids(billingemail="pat@example.com") == [a, b, c]


# -- orders ----------------------------------------------------------------------------------


def test_an_order_adds_up_and_carries_its_lines_and_coupon(store: Store) -> None:
    ids = store.sim.add_orders(8, statuses=["2"])
    for order in (store.sim.order(order_id) for order_id in ids):
        lines = sum(
            Decimal(str(item["ItemUnitPrice"])) + Decimal(str(item["ItemOptionPrice"]))
            for item in order["OrderItemList"]
            for _ in range(int(item["ItemQuantity"]))
        )
        shipping = Decimal(str(order["ShipmentList"][0]["ShipmentCost"]))
        discount = Decimal(str(order["OrderDiscount"]))
        assert Decimal(str(order["OrderAmount"])) == lines - discount + shipping
        assert bool(order["PromotionList"]) == (order["OrderID"] % 4 == 0)
        assert order["BillingEmail"].endswith(("example.com", "example.net", "example.org"))
        assert order["TransactionList"][0]["TransactionAmount"] == order["OrderAmount"]


def test_a_given_total_is_the_order_amount(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1, total=Decimal("0.30"), lines=2)
    order = store.sim.order(order_id)
    assert order["OrderAmount"] == 0.3
    assert [item["ItemUnitPrice"] for item in order["OrderItemList"]] == [0.15, 0.15]


def test_a_checkout_not_completed_gets_an_invoice_number_when_it_completes(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1, statuses=["7"])
    assert store.sim.order(order_id)["InvoiceNumber"] == 0

    store.clock.advance(timedelta(minutes=3))
    store.sim.set_status(order_id, "1")

    order = store.sim.order(order_id)
    assert order["InvoiceNumber"] > 0
    assert order["OrderStatusID"] == 1
    assert order["LastUpdate"] == "2026-11-27T15:03:00"
    assert order["OrderDate"] == "2026-11-27T15:00:00"


def test_one_order_comes_as_a_list_of_one(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1, statuses=["4"])
    response = store.get(f"Orders/{order_id}")
    assert response.json() == [store.sim.order(order_id)]
    assert response.json()[0]["ShipmentList"][0]["ShipmentTrackingCode"]
    missing = store.get("Orders/999")
    assert (missing.status_code, missing.json()) == (
        404,
        _error(404, "No order found with the specified id."),
    )


def test_unknown_statuses_and_bad_arguments_are_refused(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1)
    for bad in ("8", "99", "processing"):  # 8 is a custom slot nobody named yet
        with pytest.raises(ValueError, match="order status"):
            store.sim.add_orders(1, statuses=[bad])
        with pytest.raises(ValueError, match="order status"):
            store.sim.set_status(order_id, bad)
    with pytest.raises(ValueError, match="count"):
        store.sim.add_orders(-1)
    with pytest.raises(ValueError, match="total"):
        store.sim.add_orders(1, total="-1")
    with pytest.raises(LookupError):
        store.sim.set_status(999, "2")


# -- order queues and settings ---------------------------------------------------------------


def test_order_queues_list_the_custom_ones_a_merchant_named(store: Store) -> None:
    assert len(store.get("OrderStatus").json()) == 10  # paged like every list: 10 by default
    queues = {q["OrderStatusID"]: q for q in store.get("OrderStatus", limit=50).json()}
    assert queues[7]["StatusText"] == "Not Completed"
    assert not queues[8]["Visible"]

    store.sim.set_faults({"custom_statuses": ["8", "14"]})

    queues = {q["OrderStatusID"]: q for q in store.get("OrderStatus", limit=50).json()}
    assert queues[8]["Visible"]
    assert queues[14]["StatusText"] == "Custom Status 14"
    assert store.sim.add_orders(1, statuses=["8", "14"]) != []
    with pytest.raises(ValueError, match="built-in"):
        store.sim.set_faults({"custom_statuses": ["4"]})


def test_store_settings_name_the_time_zone_and_currency(store: Store) -> None:
    standards = store.get("StoreSettings").json()["StoreStandards"]
    assert (standards["StoreTimeZone"], standards["CurrencyCode"]) == ("UTC", "USD")

    store.sim.set_faults({"site_timezone": "America/Chicago"})

    zone = store.get("StoreSettings").json()["StoreStandards"]["StoreTimeZone"]
    assert zone == "Central Standard Time"
    assert str(store_timezone(zone)) == "America/Chicago"  # what the connector reads back
    with pytest.raises(ValueError, match="time zone"):
        store.sim.set_faults({"site_timezone": "Mars/Olympus_Mons"})


def test_unknown_paths_answer_as_asp_net_does(store: Store) -> None:
    response = store.get("Invoices")
    assert response.status_code == 404
    assert response.json()["Message"].startswith("No HTTP resource was found")


# -- faults ----------------------------------------------------------------------------------


def test_the_hostings_faults_come_before_the_keys(store: Store) -> None:
    store.sim.set_faults({"rate_limit": {"burst": 1, "retry_after": 7}, "server_error": 2})
    limited = store.http.get(f"{API}/Orders")  # no keys at all
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    failing = store.get("Orders")
    assert (failing.status_code, failing.json()) == (500, {"Message": "An error has occurred."})
    assert store.get("Orders").status_code == 502  # the proxy's page
    assert store.get("Orders").status_code == 404  # and then the API again (no orders)

    store.sim.set_faults({"firewall_user_agent": "shoptrack"})
    blocked = store.http.get(f"{API}/Orders", headers=store.keys() | {"User-Agent": "shoptrack/1"})
    assert blocked.status_code == 403
    assert "Cloudflare" in blocked.text

    store.sim.clear_faults()
    assert store.sim.faults()["firewall_user_agent"] is None


def test_unknown_or_malformed_faults_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown faults"):
        store.sim.set_faults({"duplicate_webhooks": True})
    with pytest.raises(ValueError, match="custom_statuses"):
        store.sim.set_faults({"custom_statuses": ["awaiting-pickup"]})
    with pytest.raises(ValueError, match="server_error"):
        store.sim.set_faults({"server_error": -1})


# -- control routes --------------------------------------------------------------------------


def test_control_routes_drive_the_store(store: Store) -> None:
    created = store.http.post(
        "/_sim/orders",
        json={
            "count": 2,
            "statuses": ["1", 7],
            "created": "2026-11-26T10:00:00Z",
            "interval_seconds": 60,
            "total": "19.99",
        },
    )
    assert created.status_code == 201
    first, second = created.json()["ids"]
    assert store.http.get("/_sim/orders").json() == {str(first): "1", str(second): "7"}
    assert store.http.get(f"/_sim/orders/{second}").json()["OrderAmount"] == 19.99

    changed = store.http.post(f"/_sim/orders/{first}/status", json={"status": "4"})
    assert (changed.status_code, changed.json()["OrderStatusID"]) == (200, 4)
    refused = store.http.post(f"/_sim/orders/{first}/status", json={"status": "shipped"})
    assert refused.status_code == 400
    assert store.http.post(f"/_sim/orders/{first}/status", json={}).status_code == 400
    assert store.http.post("/_sim/orders/999/status", json={"status": "4"}).status_code == 404
    assert store.http.get("/_sim/orders/999").status_code == 404
    assert store.http.post("/_sim/orders", json={"created": "2026-11-26"}).status_code == 400

    faults = store.http.post("/_sim/faults", json={"slow_ms": 5, "site_timezone": "UTC"})
    assert faults.json()["slow_ms"] == 5
    assert store.http.post("/_sim/faults", json={"slow_ms": "x"}).status_code == 400
    assert store.http.delete("/_sim/faults").json()["slow_ms"] == 0
