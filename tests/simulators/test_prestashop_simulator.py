"""The PrestaShop simulator against PrestaShop's Python client (``prestapyt`` from PyPI, XML) on a
real socket, and its JSON Webservice as the versions write it: values, empty lists, keys,
errors, the filter grammar and the shop's wall clock."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prestapyt import PrestaShopAuthenticationError, PrestaShopWebServiceDict

from shoptrack.clock import FrozenClock
from shoptrack.simulators.prestashop import PS_VERSION, PS_VERSION_1_7, PrestaShopSimulator
from tests.stores import serving

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # 14:00 in Paris (CEST)
# prestapyt warns about every version above 1.7.8.999 (MAX_COMPATIBLE_VERSION), 8.x included.
PRESTAPYT_VERSION_WARNING = "ignore:This library may not be compatible:UserWarning"


@dataclass
class Shop:
    sim: PrestaShopSimulator
    url: str
    clock: FrozenClock

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        """A JSON request to the Webservice with the shop's key (or ``key``)."""
        return httpx.get(
            f"{self.url}/api/{path}",
            params={"output_format": "JSON", **params},
            auth=(self.sim.webservice_key if key is None else key, ""),
            timeout=5,
        )

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.url}/_sim/{path}", json=body, timeout=5)


def _serve(version: str) -> Iterator[Shop]:
    clock = FrozenClock(NOW)
    sim = PrestaShopSimulator(clock=clock.now, version=version)
    with serving(sim.app) as url:
        yield Shop(sim, url, clock)


@pytest.fixture
def shop() -> Iterator[Shop]:
    yield from _serve(PS_VERSION)


@pytest.fixture
def shop_1_7() -> Iterator[Shop]:
    yield from _serve(PS_VERSION_1_7)


def _error(response: httpx.Response) -> tuple[int, int, str]:
    (error,) = response.json()["errors"]
    return response.status_code, error["code"], error["message"]


# -- prestapyt, in XML ------------------------------------------------------------------------


def test_prestapyt_reads_orders_and_their_customer_in_xml(shop_1_7: Shop) -> None:
    shop = shop_1_7
    created = shop.sim.add_orders(3, statuses=["2", "4"], interval=timedelta(hours=1))
    api = PrestaShopWebServiceDict(shop.url, shop.sim.webservice_key)

    listed = api.get(
        "orders",
        options={
            "display": "full",
            "date": 1,
            "filter[date_upd]": "[2026-06-15 00:00:00,2026-06-15 23:59:59]",
            "sort": "[date_upd_ASC,id_ASC]",
            "limit": "0,2",
        },
    )
    orders = listed["orders"]["order"]
    assert [int(order["id"]) for order in orders] == created[:2]
    first = orders[0]
    assert first["current_state"] == "2"  # prestapyt drops the xlink:href
    assert first["date_upd"] == "2026-06-15 12:00:00"  # 10:00 UTC on Paris' wall clock
    rows = first["associations"]["order_rows"]["order_row"]
    rows = rows if isinstance(rows, list) else [rows]
    assert rows[0]["product_reference"].startswith("demo_")
    assert api.search("orders") == created
    customer = api.get("customers", int(first["id_customer"]))["customer"]
    assert customer["email"] == "pub@prestashop.com"
    assert api.get("orders", options={"filter[id]": "[999]"}) == {"orders": ""}


@pytest.mark.filterwarnings(PRESTAPYT_VERSION_WARNING)
def test_prestapyt_reads_an_8x_shop_and_is_refused_a_wrong_key(shop: Shop) -> None:
    (order_id,) = shop.sim.add_orders(1, statuses=["3"], total="19.99")
    api = PrestaShopWebServiceDict(shop.url, shop.sim.webservice_key)

    order = api.get("orders", order_id)["order"]

    assert order["total_paid_tax_incl"] == "19.990000"
    assert order["reference"].isalpha()
    with pytest.raises(PrestaShopAuthenticationError):
        PrestaShopWebServiceDict(shop.url, "X" * 32).get("orders")


# -- JSON as each version writes it -----------------------------------------------------------


def test_1_7_writes_strings_and_8_writes_integers(shop: Shop, shop_1_7: Shop) -> None:
    for each in (shop, shop_1_7):
        each.sim.add_orders(1, statuses=["4"], total="0.30")

    (typed,) = shop.get("orders", display="full").json()["orders"]
    (strings,) = shop_1_7.get("orders", display="full").json()["orders"]

    assert (typed["id"], typed["current_state"], typed["valid"]) == (1, 4, 1)
    assert (strings["id"], strings["current_state"], strings["valid"]) == (1, "4", "1")
    for order in (typed, strings):
        assert order["total_paid_tax_incl"] == "0.300000"
        assert order["date_upd"] == "2026-06-15 14:00:00"
        assert order["associations"]["order_rows"][0]["product_quantity"] == "1"
    assert "note" in typed
    assert "note" not in strings


def test_an_empty_list_is_written_as_each_version_writes_it(shop: Shop, shop_1_7: Shop) -> None:
    assert shop.get("orders", display="full").text == '{"orders":[]}'
    assert shop_1_7.get("orders", display="full").text == "[]"

    shop.sim.set_faults({"empty_list": "array"})
    shop_1_7.sim.set_faults({"empty_list": "object"})

    assert shop.get("orders").text == "[]"
    assert shop_1_7.get("orders").text == '{"orders":[]}'


def test_one_order_without_and_with_display_and_one_that_does_not_exist(shop: Shop) -> None:
    (order_id,) = shop.sim.add_orders(1)

    alone = shop.get(f"orders/{order_id}").json()
    listed = shop.get(f"orders/{order_id}", display="[id,reference]").json()
    missing = shop.get("orders/999")

    assert alone == {"order": shop.sim.order(order_id)}
    assert listed == {"orders": [{"id": order_id, "reference": alone["order"]["reference"]}]}
    # getFilteredObjectDetails(): a 404 with its output switched off.
    assert (missing.status_code, missing.content) == (404, b"")
    assert shop.get("orders").json() == {"orders": [{"id": order_id}]}  # ids only by default


def test_slashes_are_escaped_as_php_writes_them(shop: Shop) -> None:
    shop.sim.set_faults({"site_timezone": "America/New_York"})
    body = shop.get("configurations", display="[value]", **{"filter[name]": "PS_TIMEZONE"})
    assert body.text == '{"configurations":[{"value":"America\\/New_York"}]}'


# -- keys ------------------------------------------------------------------------------------


def test_keys_are_refused_as_prestashop_refuses_them(shop: Shop) -> None:
    key = shop.sim.webservice_key
    empty = base64.b64encode(b":").decode()

    none = httpx.get(f"{shop.url}/api/orders", timeout=5)
    wrong = shop.get("orders", key=key[:-1] + ("A" if key[-1] != "A" else "B"))
    short = shop.get("orders", key=key[:10])
    blank = httpx.get(f"{shop.url}/api/orders", headers={"Authorization": f"Basic {empty}"})

    assert (none.status_code, none.text) == (401, "401 Unauthorized")
    assert "please enter the authentication key" in none.headers["www-authenticate"]
    assert _error(wrong) == (401, 20, "Authentification key is not active")
    assert _error(short) == (401, 18, "Invalid authentication key format")
    assert blank.status_code == 401
    assert "<code><![CDATA[17]]></code>" in blank.text  # no output_format: XML
    for refused in (wrong, short, blank):
        assert refused.headers["www-authenticate"] == none.headers["www-authenticate"]
        assert "psws-version" not in refused.headers  # only once the key is accepted


def test_padded_keys_and_ws_key_are_accepted(shop: Shop) -> None:
    key = shop.sim.webservice_key

    padded = shop.get("orders", key=f" {key}\n")
    query = httpx.get(f"{shop.url}/api/orders", params={"ws_key": f"{key} "}, timeout=5)

    assert padded.status_code == query.status_code == 200
    assert padded.headers["psws-version"] == PS_VERSION
    assert padded.headers["x-powered-by"] == "PrestaShop Webservice"
    assert padded.headers["content-sha1"]


def test_resources_and_methods_a_key_may_not_use(shop: Shop) -> None:
    clock = FrozenClock(NOW)
    narrow = PrestaShopSimulator(clock=clock.now, key_resources=["orders"])
    with serving(narrow.app) as url:
        customers = httpx.get(
            f"{url}/api/customers",
            params={"output_format": "JSON"},
            auth=(narrow.webservice_key, ""),
        )
    posted = httpx.post(
        f"{shop.url}/api/orders",
        params={"output_format": "JSON"},
        auth=(shop.sim.webservice_key, ""),
        content="<prestashop/>",
    )

    assert _error(customers) == (
        401,
        26,
        'Resource of type "customers" is not allowed with this authentication key',
    )
    assert _error(posted) == (
        405,
        25,
        "Method POST is not allowed for the resource orders with this authentication key",
    )
    status, code, message = _error(shop.get("order"))
    assert (status, code) == (400, 27)
    assert message.startswith('Resource of type "order" does not exists. Did you mean: "orders"?')


def test_a_disabled_webservice_answers_503(shop: Shop) -> None:
    shop.sim.set_faults({"webservice_disabled": True})
    status, code, _ = _error(shop.get("orders"))
    assert (status, code) == (503, 22)


# -- the query grammar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filter[date_upd]": "[2026-06-15 00:00:00,2026-06-15 23:59:59]"}, (400, 32)),
        ({"filter[nope]": "1"}, (400, 32)),
        ({"filter[module]": ""}, (400, 33)),
        ({"filter[shipping_number]": "X1"}, (400, 34)),
        ({"filter[customer][email]": "a@b.c"}, (400, 31)),
        ({"display": "[id,nope]"}, (400, 35)),
        ({"display": "id"}, (400, 36)),
        ({"sort": "id"}, (400, 37)),
        ({"sort": "[nope_ASC]"}, (400, 38)),
        ({"sort": "[date_upd_ASC]"}, (400, 38)),  # date fields need date=1 to sort as well
        ({"limit": "1,2,3"}, (400, 39)),
        ({"schema": "full"}, (400, 28)),
    ],
)
def test_requests_prestashop_refuses(
    shop: Shop, params: dict[str, str], expected: tuple[int, int]
) -> None:
    shop.sim.add_orders(1)
    assert _error(shop.get("orders", **params))[:2] == expected


def test_filters_sort_and_limit(shop: Shop) -> None:
    start = NOW - timedelta(hours=10)
    ids = shop.sim.add_orders(
        6, statuses=["2", "4", "6"], created=start, interval=timedelta(hours=1)
    )

    def listed(**params: str) -> list[int]:
        response = shop.get("orders", display="[id]", **params)
        assert response.status_code == 200, response.text
        body = response.json()
        return [order["id"] for order in body["orders"]] if body else []

    assert listed(**{"filter[current_state]": "[4|6]"}) == [ids[1], ids[2], ids[4], ids[5]]
    assert listed(**{"filter[id]": f"![{ids[0]}|{ids[1]}]"}) == ids[2:]
    assert listed(**{"filter[id]": f">[{ids[3]}]"}) == ids[4:]
    assert listed(**{"filter[id]": f"<[{ids[1]}]"}) == ids[:1]
    assert listed(**{"filter[id]": f"[{ids[4]},{ids[2]}]"}) == ids[2:5]  # ends sorted, inclusive
    # The wall clock in Paris: 04:00 UTC is 06:00 there.
    dated = {"date": "1", "filter[date_upd]": "[2026-06-15 06:00:00,2026-06-15 08:00:00]"}
    assert listed(**dated) == ids[2:5]
    assert listed(**{"filter[module]": "PS_WIRE%"}) == []  # LIKE needs the % inside brackets
    assert listed(**{"filter[module]": "%[WIRE]%"}) == ids  # and ignores case
    assert listed(**{"filter[payment]": "bank TRANSFER"}) == ids
    assert listed(sort="[current_state_DESC,id_ASC]", limit="2") == [ids[2], ids[5]]
    assert listed(sort="[id_DESC]", limit="1,2") == [ids[4], ids[3]]
    assert listed(limit="10,5") == []


def test_customers_and_currencies_by_ids(shop: Shop) -> None:
    shop.sim.add_orders(3)

    customers = shop.get(
        "customers", display="[id,email,newsletter]", **{"filter[id]": "[1|3]"}
    ).json()
    currency = shop.get("currencies/1").json()["currency"]

    assert customers == {
        "customers": [
            {"id": 1, "email": "pub@prestashop.com", "newsletter": 1},
            {"id": 3, "email": "lucas.martin@example.com", "newsletter": 0},
        ]
    }
    assert (currency["iso_code"], currency["names"], currency["precision"]) == ("EUR", "Euro", 2)


def test_the_root_lists_what_the_key_may_read_and_the_dispatcher_answers(shop: Shop) -> None:
    key = shop.sim.webservice_key

    root = httpx.get(f"{shop.url}/api/", auth=(key, ""), timeout=5)
    dispatched = httpx.get(
        f"{shop.url}/webservice/dispatcher.php",
        params={"url": "orders", "output_format": "JSON", "ws_key": key},
        timeout=5,
    )

    assert root.headers["content-type"] == "text/xml;charset=utf-8"
    assert '<orders xlink:href="' in root.text
    assert 'get="true"' in root.text
    assert dispatched.status_code == 200
    assert dispatched.text in ("[]", '{"orders":[]}')


# -- the shop's clock and states --------------------------------------------------------------


def test_times_are_the_wall_clock_of_the_day_they_were_written(shop: Shop) -> None:
    (paris,) = shop.sim.add_orders(1, created=NOW - timedelta(days=1))
    shop.sim.set_faults({"site_timezone": "America/New_York"})
    (new_york,) = shop.sim.add_orders(1, created=NOW - timedelta(days=1))

    assert shop.sim.order(paris)["date_add"] == "2026-06-14 14:00:00"
    assert shop.sim.order(new_york)["date_add"] == "2026-06-14 08:00:00"

    shop.clock.advance(timedelta(minutes=5))
    shop.sim.set_status(paris, "4")
    assert shop.sim.order(paris)["date_upd"] == "2026-06-15 08:05:00"  # New York's clock now


def test_state_changes_number_invoices_and_delivery_slips(shop: Shop) -> None:
    (order_id,) = shop.sim.add_orders(1, statuses=["10"])
    before = shop.sim.order(order_id)

    shop.sim.set_status(order_id, "2")
    paid = shop.sim.order(order_id)
    shop.sim.set_status(order_id, "4")
    shipped = shop.sim.order(order_id)

    assert (before["invoice_number"], before["valid"], before["module"]) == (
        0,
        0,
        "ps_wirepayment",
    )
    assert (paid["invoice_number"], paid["valid"], paid["delivery_number"]) == (1, 1, 0)
    assert (shipped["invoice_number"], shipped["delivery_number"]) == (1, 1)
    assert shop.sim.statuses() == {order_id: "4"}
    with pytest.raises(ValueError, match="unknown order state"):
        shop.sim.set_status(order_id, "14")
    shop.sim.set_faults({"custom_statuses": ["14"]})
    shop.sim.set_status(order_id, "14")
    assert shop.get("order_states/14").json()["order_state"]["name"] == "Custom status 14"


def test_control_routes_act_as_checkout_and_back_office(shop: Shop) -> None:
    created = shop.control(
        "POST",
        "orders",
        {
            "count": 2,
            "statuses": ["2"],
            "email": "ada@example.com",
            "created": "2026-06-14T10:00:00Z",
            "interval_seconds": 60,
            "total": "12.50",
        },
    )
    ids = created.json()["ids"]
    moved = shop.control("POST", f"orders/{ids[0]}/status", {"status": "5"})
    faults = shop.control("POST", "faults", {"rate_limit": {"burst": 1, "retry_after": 3}})
    limited = shop.get("orders")
    bad = shop.control("POST", "faults", {"sleep": 1})
    cleared = shop.control("DELETE", "faults")

    assert (created.status_code, len(ids)) == (201, 2)
    assert moved.json()["current_state"] == 5
    assert shop.control("GET", f"orders/{ids[1]}").json()["total_paid_tax_incl"] == "12.500000"
    customer = shop.get(f"customers/{moved.json()['id_customer']}").json()["customer"]
    assert customer["email"] == "ada@example.com"
    assert faults.json()["rate_limit"] == {"burst": 1, "retry_after": 3}
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert bad.status_code == 400
    assert cleared.json()["site_timezone"] == "Europe/Paris"
    assert shop.control("GET", "orders/999").status_code == 404
