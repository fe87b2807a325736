"""The Shift4Shop connector: order mapping from REST API v1 JSON (a hand-written fixture after the
official object definitions), the store's wall clock, and paging through ``MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shoptrack.connectors.base import Window, clean_credentials
from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreError
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.shift4shop import STORE_KEY, Shift4Shop, store_timezone
from shoptrack.domain.order import Address, LineItem
from shoptrack.domain.status import Lifecycle
from shoptrack.errors import InputError
from shoptrack.testing import SIMULATOR_GUARD

FIXTURES = Path(__file__).parent / "fixtures" / "shift4shop"
NEW_YORK = ZoneInfo("America/New_York")
STORE = {
    "StoreTimeZone": "Eastern Standard Time",
    "CurrencyCode": "USD",
    "DecimalPlacesOnPrice": "2",
    "StoreSecureURL": "https://outdoor.example.com",
}
SETTINGS = {
    "StoreInformation": {"StoreName": "Outdoor", "StoreSecureURL": "https://outdoor.example.com"},
    "StoreStandards": {
        "StoreTimeZone": "Eastern Standard Time",
        "CurrencySymbol": "$",
        "DecimalPlacesOnPrice": "2",
        "CurrencyCode": "USD",
    },
}
ORDERS = "/3dCartWebAPI/v1/Orders"
_OFFSET_PAST_END = {
    "Key": "Error",
    "Value": "",
    "Status": "400",
    "Message": "Offset amount exceeds the total number of records",
}

connector = Shift4Shop()


def _orders() -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = json.loads((FIXTURES / "orders.json").read_text())
    return orders


def _kept(raw: dict[str, Any], **store: str) -> dict[str, Any]:
    """An order as a pass keeps it: with its store's settings."""
    return raw | {STORE_KEY: STORE | store}


def _raw(order_id: int, last_update: str, **changes: Any) -> dict[str, Any]:
    return _orders()[1] | {"OrderID": order_id, "LastUpdate": last_update} | changes


# -- declarations and credentials ------------------------------------------------------------


def test_declares_platform_and_default_rules() -> None:
    rules = connector.default_rules
    assert connector.platform == "shift4shop"
    assert rules.stages("2") == {Lifecycle.PLACED}
    assert rules.stages("4") == {Lifecycle.PLACED, Lifecycle.FULFILLED}
    assert rules.stages("5") == {Lifecycle.CANCELLED}
    assert rules.stages("7") == frozenset()  # an abandoned checkout is never placed
    assert rules.stages("1") == frozenset()


@pytest.mark.parametrize(
    "given",
    [
        "outdoor.3dcartstores.com",
        " https://Outdoor.3dcartstores.com/ ",
        "https://outdoor.3dcartstores.com/admin/default.asp",
        "outdoor.3dcartstores.com/",
    ],
)
def test_the_secure_url_is_the_stores_host(given: str) -> None:
    credentials, _ = clean_credentials(
        connector.credentials_model, {"secure_url": given, "private_key": "k", "token": "t"}
    )
    assert connector.headers(credentials) == {
        "SecureURL": "outdoor.3dcartstores.com",
        "PrivateKey": "k",
        "Token": "t",
    }
    assert connector.origin(credentials) == "https://apirest.3dcart.com"


@pytest.mark.parametrize("given", ["not a host", "localhost", "https://", "-bad-.com"])
def test_a_secure_url_that_is_no_host_is_named(given: str) -> None:
    with pytest.raises(InputError) as refused:
        clean_credentials(
            connector.credentials_model, {"secure_url": given, "private_key": "k", "token": "t"}
        )
    assert refused.value.pointer == "/data/attributes/credentials/secure_url"


def test_api_base_url_replaces_the_fixed_host() -> None:
    credentials, _ = clean_credentials(
        connector.credentials_model,
        {
            "secure_url": "a.3dcartstores.com",
            "private_key": "k",
            "token": "t",
            "api_base_url": "http://127.0.0.1:8123/",
        },
    )
    assert connector.origin(credentials) == "http://127.0.0.1:8123"


def test_every_webhook_is_refused() -> None:
    check = connector.check_webhook(["secret"], {"content-type": "application/json"}, b"[{}]")
    assert check.verdict.value == "rejected"
    assert check.reason
    assert connector.orders_from_webhook("order.new", [{}]) == []


# -- mapping ---------------------------------------------------------------------------------


def test_maps_a_full_order_field_by_field() -> None:
    order = connector.to_order(_kept(_orders()[0]))

    assert order.platform_order_id == "5123"
    assert order.number == "AB-1187"
    # 09:41:07 on a July wall clock in New York is EDT, four hours behind UTC.
    assert order.created_at == datetime(2026, 7, 14, 13, 41, 7, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 7, 15, 20, 2, 55, 847000, tzinfo=UTC)
    assert order.raw_status == "4"
    # 88.52000000000001 in the JSON: a double's noise, read to the store's two decimals.
    assert order.total == Decimal("88.52")
    assert str(order.total) == "88.52"
    assert order.currency == "USD"
    assert order.email == "Grace.Hopper@Example.com"
    assert order.phone == "305-555-0143"
    assert (order.first_name, order.last_name) == ("Grace", "Hopper")
    assert order.discount_codes == ("SUMMER10",)
    assert order.discount_total == Decimal("8.13")
    assert order.refunded_total == Decimal(0)
    assert order.customer_id == "311"
    assert (order.accepts_marketing, order.is_test) == (None, False)
    assert order.billing_address == Address(
        first_name="Grace",
        last_name="Hopper",
        company="Cobol Supply",
        address1="1200 Brickell Ave",
        address2="Apt 1804",
        city="Miami",
        region_code="FL",
        country_code="US",
        zip="33131",
        phone="305-555-0143",
    )
    assert order.shipping_address == Address(
        first_name="Grace",
        last_name="Hopper",
        address1="42 Harbor Rd",
        city="Key West",
        region_code="FL",
        country_code="US",
        zip="33040",
        phone="305-555-0199",
    )
    assert order.line_items == (
        LineItem(
            line_id="77001",
            name="Organic Cotton Tee Color: Navy, Size: M",
            quantity=2,
            item_price=Decimal("24.00"),
            row_total=Decimal("48.00"),
            product_id="101",
            sku="TEE-ORG-NVY-M",
            image_url="https://outdoor.example.com/assets/images/tee-organic-navy.jpg",
        ),
        LineItem(
            line_id="77002",
            name="Leather Notebook A5 & Pen Monogram: Yes",
            quantity=1,
            # The options' price comes beside the unit price: 32.10 + 5.20.
            item_price=Decimal("37.30"),
            row_total=Decimal("37.30"),
            product_id="103",
            sku="NOTE-LTHR-A5",
            image_url="https://cdn.example.com/notebook.jpg",
        ),
    )
    lines = sum((line.row_total for line in order.line_items), Decimal(0))
    assert lines - order.discount_total + Decimal("5.40") + Decimal("5.95") == order.total


def test_an_abandoned_checkout_maps_with_its_order_id_as_number() -> None:
    order = connector.to_order(_kept(_orders()[1]))

    assert (order.raw_status, order.number) == ("7", "5124")  # no invoice number yet
    # Never updated (DateTime.MinValue): its updated time is its creation, 22:05:31 EDT.
    assert order.updated_at == order.created_at == datetime(2026, 7, 17, 2, 5, 31, tzinfo=UTC)
    assert order.email == "shopper@example.org"
    assert (order.billing_address, order.shipping_address, order.customer_id) == (None,) * 3
    (line,) = order.line_items
    assert (line.product_id, line.sku, line.image_url) == (None, None, None)
    assert order.total == Decimal("3.00")


def test_amounts_follow_the_stores_decimal_places() -> None:
    raw = _kept(
        _orders()[1] | {"OrderAmount": 1500.0}, DecimalPlacesOnPrice="0", CurrencyCode="jpy"
    )
    order = connector.to_order(raw)
    assert (str(order.total), order.currency) == ("1500", "JPY")


def test_an_order_without_its_stores_settings_is_named() -> None:
    with pytest.raises(ValueError, match=STORE_KEY):
        connector.to_order(_orders()[0])
    with pytest.raises(ValueError, match=STORE_KEY):
        connector.updated_at(_orders()[0])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"OrderID": "5123"}, "OrderID"),
        ({"OrderStatusID": None}, "OrderStatusID"),
        ({"OrderAmount": "n/a"}, "OrderAmount"),
        ({"OrderDate": "yesterday"}, "OrderDate"),
        ({"LastUpdate": 20260715}, "LastUpdate"),
        ({"OrderItemList": [{"ItemIndexID": 1, "ItemDescription": "x", "ItemQuantity": 1.5,
                             "ItemUnitPrice": 1}]}, "OrderItemList[0].ItemQuantity"),
    ],
)  # fmt: skip
def test_a_field_that_cannot_be_read_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        connector.to_order(_kept(_orders()[0] | change))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-01-15T09:30:00", datetime(2026, 1, 15, 14, 30, tzinfo=UTC)),  # EST
        ("2026-07-15T09:30:00", datetime(2026, 7, 15, 13, 30, tzinfo=UTC)),  # EDT
        ("2026-07-15T09:30:00.1234567", datetime(2026, 7, 15, 13, 30, 0, 123456, tzinfo=UTC)),
        ("07/15/2026 09:30:00", datetime(2026, 7, 15, 13, 30, tzinfo=UTC)),
        ("07/15/2026 09:30", datetime(2026, 7, 15, 13, 30, tzinfo=UTC)),
        ("7/15/2026 9:30:00 PM", datetime(2026, 7, 16, 1, 30, tzinfo=UTC)),
        # An offset, where one is written, says which moment it is.
        ("2026-07-15T09:30:00Z", datetime(2026, 7, 15, 9, 30, tzinfo=UTC)),
        ("2026-11-01T01:30:00-05:00", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
        # The repeated hour of the fall-back: the earlier of 05:30 and 06:30 UTC.
        ("2026-11-01T01:30:00", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ],
)
def test_times_are_the_stores_wall_clock(written: str, expected: datetime) -> None:
    assert connector.updated_at(_kept(_raw(1, written))) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("America/New_York", NEW_YORK),
        ("Eastern Standard Time", NEW_YORK),
        ("eastern standard time", NEW_YORK),
        ("(UTC-05:00) Eastern Time (US & Canada)", NEW_YORK),
        ("(GMT-05:00) Eastern Time (US & Canada)", NEW_YORK),
        ("Central Standard Time", ZoneInfo("America/Chicago")),
        ("(UTC-07:00) Arizona", ZoneInfo("America/Phoenix")),
        ("UTC", ZoneInfo("Etc/UTC")),
        ("GMT", UTC),
        ("(UTC+05:45) Kathmandu", timezone(timedelta(hours=5, minutes=45))),
        ("-5", timezone(-timedelta(hours=5))),
        ("GMT-05:00", timezone(-timedelta(hours=5))),
        ("+09:30", timezone(timedelta(hours=9, minutes=30))),
    ],
)
def test_the_stores_time_zone_is_read_in_every_spelling(name: str, expected: Any) -> None:
    assert store_timezone(name) == expected


@pytest.mark.parametrize("name", ["", "Mars Standard Time", "-15", "../etc/passwd", "America"])
def test_a_time_zone_nobody_knows_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="StoreTimeZone"):
        store_timezone(name)


_ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "America/Phoenix", "UTC")


@settings(max_examples=100, deadline=None)
# Random moments seldom fall in a repeated hour: each zone's fall-back, both times 01:30 (02:30).
@example(moment=datetime(2026, 11, 1, 5, 30, tzinfo=UTC), zone_name="America/New_York")
@example(moment=datetime(2026, 11, 1, 6, 30, tzinfo=UTC), zone_name="America/New_York")
@example(moment=datetime(2026, 10, 25, 0, 30, tzinfo=UTC), zone_name="Europe/London")
@example(moment=datetime(2026, 10, 25, 1, 30, tzinfo=UTC), zone_name="Europe/London")
@example(moment=datetime(2026, 4, 4, 15, 30, tzinfo=UTC), zone_name="Australia/Sydney")
@example(moment=datetime(2026, 4, 4, 16, 30, tzinfo=UTC), zone_name="Australia/Sydney")
@given(
    moment=st.datetimes(
        # Hypothesis takes naive bounds and puts the zone on what it draws.
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=datetime(2037, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    zone_name=st.sampled_from(_ZONES),
)
def test_a_window_around_a_moment_keeps_its_order_and_the_cursor_stays_behind(
    moment: datetime, zone_name: str
) -> None:
    # What the store writes for an order changed at `moment`: its wall clock, to the second.
    moment = moment.replace(microsecond=0)
    written = moment.astimezone(ZoneInfo(zone_name)).strftime("%Y-%m-%dT%H:%M:%S")
    raw = _raw(1, written)
    store = STORE | {"StoreTimeZone": zone_name}

    pages = _pages(
        lambda offset: [raw] if offset == 1 else [],
        Window(moment, moment),
        settings={**SETTINGS, "StoreStandards": SETTINGS["StoreStandards"] | store},
    )

    (kept,) = [order for page in pages for order in page]  # nothing filtered out wrongly
    read = connector.updated_at(kept)
    assert read <= moment  # never ahead of the truth
    assert moment - read in (timedelta(0), timedelta(hours=1))  # wrong only in a repeated hour


# -- paging ----------------------------------------------------------------------------------


def _store_api(
    orders: Callable[[int], list[dict[str, Any]] | httpx.Response],
    requests: list[httpx.Request],
    settings: dict[str, Any],
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path.endswith("/StoreSettings"):
            return httpx.Response(200, json=settings)
        if request.url.path.endswith("/Orders"):
            offset = int(parse_qs(request.url.query.decode())["offset"][0])
            page = orders(offset)
            if isinstance(page, httpx.Response):
                return page
            if not page:
                return httpx.Response(400, json=[_OFFSET_PAST_END])
            return httpx.Response(200, json=page)
        return httpx.Response(404, json={"Message": "No HTTP resource was found."})

    return httpx.MockTransport(handle)


def _pages(
    orders: Callable[[int], list[dict[str, Any]] | httpx.Response],
    window: Window,
    *,
    requests: list[httpx.Request] | None = None,
    settings: dict[str, Any] = SETTINGS,
) -> list[list[dict[str, Any]]]:
    seen = [] if requests is None else requests
    transport = _store_api(orders, seen, settings)
    with StoreClient(
        "https://apirest.3dcart.com",
        guard=SIMULATOR_GUARD,
        transport=transport,
        sleep=lambda _: None,
    ) as c:
        return [page.records for page in connector.order_pages(c, window)]


WINDOW = Window(datetime(2026, 11, 1, 3, 0, tzinfo=UTC), datetime(2026, 11, 27, 23, 59, tzinfo=UTC))


def test_pages_are_whole_days_around_the_window_by_record_offset() -> None:
    size = connector.page_size
    inside = [_raw(n, "2026-11-20T12:00:00") for n in range(size * 2)]
    requests: list[httpx.Request] = []

    pages = _pages(lambda offset: inside[offset - 1 : offset - 1 + size], WINDOW, requests=requests)

    assert [len(page) for page in pages] == [size, size]  # a full last page...
    queries = [parse_qs(r.url.query.decode()) for r in requests if r.url.path == ORDERS]
    assert [q["offset"] for q in queries] == [["1"], [str(size + 1)], [str(size * 2 + 1)]]
    # ...then the offset past the end, a 400 that ends paging.
    assert all(q["limit"] == [str(size)] for q in queries)
    # The day before since's UTC date, and two days after until's.
    assert {(q["lastupdatestart"][0], q["lastupdateend"][0]) for q in queries} == {
        ("10/31/2026", "11/29/2026")
    }
    assert requests[0].url.path == "/3dCartWebAPI/v1/StoreSettings"
    assert all(page[0][STORE_KEY] == STORE for page in pages)


def test_no_orders_found_is_an_empty_store() -> None:
    answer = httpx.Response(
        404, json=[{"Key": "Error", "Value": "", "Status": "404", "Message": "No orders found."}]
    )
    assert _pages(lambda offset: answer, WINDOW) == []


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        # The API's own 404 for a path it does not have: an address that is no Shift4Shop API.
        (httpx.Response(404, json={"Message": "No HTTP resource was found."}),
         StoreConfigError, "store_not_found"),
        (httpx.Response(400, json={"Message": "The request is invalid."}), StoreError, None),
        (httpx.Response(401, json={"Message": "Authorization has been denied for this request."}),
         StoreConfigError, "credentials_rejected"),
    ],
)  # fmt: skip
def test_other_refusals_are_errors(
    answer: httpx.Response, error: type[StoreError], code: str | None
) -> None:
    with pytest.raises(error) as failed:
        _pages(lambda offset: answer, WINDOW)
    assert failed.value.store_status == answer.status_code
    if code:
        assert failed.value.code == code


def test_orders_of_the_days_around_are_left_out_and_the_edges_kept() -> None:
    # Wall-clock times in New York (EDT until Nov 1 06:00 UTC, then EST).
    written = {
        1: "2026-10-31T22:59:59",  # 02:59:59 UTC: a second before since
        2: "2026-10-31T23:00:00",  # 03:00 UTC: at since
        3: "2026-11-27T18:59:00",  # 23:59 UTC: at until
        4: "2026-11-27T19:00:00",  # a minute after until
        5: "2026-11-28T10:00:00",  # the next day
    }
    raws = [_raw(order_id, time) for order_id, time in written.items()]

    pages = _pages(lambda offset: raws if offset == 1 else [], WINDOW)

    assert [raw["OrderID"] for page in pages for raw in page] == [2, 3]


def test_an_unreadable_last_update_fails_the_pass_instead_of_dropping_the_order() -> None:
    raws = [_raw(1, "2026-11-20T12:00:00"), _raw(2, "someday")]
    with pytest.raises(StoreDataError, match="someday"):
        _pages(lambda offset: raws if offset == 1 else [], WINDOW)


@pytest.mark.parametrize(
    "settings",
    [
        {**SETTINGS, "StoreStandards": SETTINGS["StoreStandards"] | {"StoreTimeZone": "Mars"}},
        {**SETTINGS, "StoreStandards": SETTINGS["StoreStandards"] | {"CurrencyCode": ""}},
        {"StoreInformation": {}},
        ["not", "an", "object"],
    ],
)
def test_store_settings_that_cannot_be_read_fail_the_check(settings: Any) -> None:
    transport = _store_api(lambda offset: [], [], settings)
    with (
        StoreClient(
            "https://apirest.3dcart.com", guard=SIMULATOR_GUARD, transport=transport
        ) as client,
        pytest.raises(StoreDataError) as failed,
    ):
        connector.check_credentials(client)
    assert failed.value.code == "store_answer_unreadable"
    assert failed.value.store_answer


def test_the_check_reads_the_settings_and_an_order_of_an_empty_store() -> None:
    requests: list[httpx.Request] = []
    answer = httpx.Response(
        404, json=[{"Key": "Error", "Value": "", "Status": "404", "Message": "No orders found."}]
    )
    transport = _store_api(lambda offset: answer, requests, [SETTINGS])  # a one-element list
    with StoreClient(
        "https://apirest.3dcart.com", guard=SIMULATOR_GUARD, transport=transport
    ) as client:
        connector.check_credentials(client)
    assert [r.url.path for r in requests] == ["/3dCartWebAPI/v1/StoreSettings", ORDERS]
