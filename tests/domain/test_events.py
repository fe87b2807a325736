"""Event drafts from order stages, in Klaviyo's e-commerce schema."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shoptrack.domain.events import EventDraft, Metric, Person, order_events, order_person
from shoptrack.domain.order import Address, LineItem, Order
from shoptrack.domain.status import Lifecycle

PLACED = Lifecycle.PLACED
FULFILLED = Lifecycle.FULFILLED
CANCELLED = Lifecycle.CANCELLED
REFUNDED = Lifecycle.REFUNDED

CREATED = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
UPDATED = CREATED + timedelta(days=2, hours=3)

ITEM_KEYS = {
    "ProductID",
    "SKU",
    "ProductName",
    "Quantity",
    "ItemPrice",
    "RowTotal",
    "ProductURL",
    "ImageURL",
    "Categories",
    "Brand",
}
ORDER_KEYS = {
    "OrderId",
    "OrderNumber",
    "Categories",
    "ItemNames",
    "Brands",
    "DiscountCode",
    "DiscountValue",
    "Items",
    "BillingAddress",
    "ShippingAddress",
}

MUG = LineItem(
    line_id="501",
    name="Enamel Mug",
    quantity=2,
    item_price=Decimal("12.50"),
    row_total=Decimal("25.00"),
    product_id="p-mug",
    sku="MUG-BLU",
    product_url="https://shop.example/mug",
    image_url="https://shop.example/mug.jpg",
    categories=("Kitchen", "Gifts"),
    brand="Acme",
)
# A configurable product: the parent line carries the price, the child the chosen variant.
SHIRT = LineItem(
    line_id="502",
    name="Linen Shirt",
    quantity=1,
    item_price=Decimal("39.90"),
    row_total=Decimal("39.90"),
    product_id="p-shirt",
    sku="SHIRT",
    categories=("Clothing", "Gifts"),
    brand="Loom",
)
SHIRT_SIZE = LineItem(
    line_id="503",
    name="Linen Shirt - M",
    quantity=1,
    item_price=Decimal(0),
    row_total=Decimal(0),
    product_id="p-shirt-m",
    sku="SHIRT-M",
    parent_line_id="502",
)
SOCKS = LineItem(
    line_id="504",
    name="Socks",
    quantity=3,
    item_price=Decimal("4.00"),
    row_total=Decimal("12.00"),
    categories=("Clothing",),
    brand="Acme",
)

BILLING = Address(
    first_name="Ada",
    last_name="Lovelace",
    company="Engines Ltd",
    address1="12 St James's Square",
    address2="Flat 2",
    city="London",
    region="England",
    region_code="ENG",
    country="United Kingdom",
    country_code="GB",
    zip="SW1Y 4JH",
    phone="+442079460958",
)


def make_order(**changes: Any) -> Order:
    order = Order(
        platform_order_id="9001",
        number="#1042",
        created_at=CREATED,
        updated_at=UPDATED,
        raw_status="processing",
        total=Decimal("71.80"),
        currency="GBP",
        email="ada@example.com",
        phone="+447700900123",
        first_name="Ada",
        last_name="Lovelace",
        line_items=(MUG, SHIRT, SHIRT_SIZE, SOCKS),
        discount_codes=("SPRING10",),
        discount_total=Decimal("5.10"),
        billing_address=BILLING,
        shipping_address=replace(BILLING, address2=None, phone=None),
    )
    return replace(order, **changes)


def by_metric(drafts: list[EventDraft], metric: Metric) -> list[EventDraft]:
    return [draft for draft in drafts if draft.metric == metric]


def only(drafts: list[EventDraft], metric: Metric) -> EventDraft:
    (draft,) = by_metric(drafts, metric)
    return draft


# --- Placed Order -----------------------------------------------------------------------------


def test_placed_order_properties_follow_klaviyo_schema() -> None:
    placed = only(order_events(make_order(), (PLACED,), backfill=False), Metric.PLACED_ORDER)
    props = placed.properties
    assert set(props) == ORDER_KEYS
    assert props["OrderId"] == "9001"
    assert props["OrderNumber"] == "#1042"
    assert props["ItemNames"] == ["Enamel Mug", "Linen Shirt", "Socks"]
    assert props["Categories"] == ["Kitchen", "Gifts", "Clothing"]  # each once, first-seen order
    assert props["Brands"] == ["Acme", "Loom"]
    assert props["DiscountCode"] == "SPRING10"
    assert props["DiscountValue"] == pytest.approx(5.10)
    assert len(props["Items"]) == 3


def test_placed_order_items() -> None:
    placed = only(order_events(make_order(), (PLACED,), backfill=False), Metric.PLACED_ORDER)
    items = placed.properties["Items"]
    assert all(set(item) == ITEM_KEYS for item in items)
    assert items[0] == {
        "ProductID": "p-mug",
        "SKU": "MUG-BLU",
        "ProductName": "Enamel Mug",
        "Quantity": 2,
        "ItemPrice": pytest.approx(12.50),
        "RowTotal": pytest.approx(25.00),
        "ProductURL": "https://shop.example/mug",
        "ImageURL": "https://shop.example/mug.jpg",
        "Categories": ["Kitchen", "Gifts"],
        "Brand": "Acme",
    }
    assert [item["SKU"] for item in items] == ["MUG-BLU", "SHIRT", None]


def test_addresses() -> None:
    placed = only(order_events(make_order(), (PLACED,), backfill=False), Metric.PLACED_ORDER)
    billing = placed.properties["BillingAddress"]
    assert billing == {
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Engines Ltd",
        "Address1": "12 St James's Square",
        "Address2": "Flat 2",
        "City": "London",
        "Region": "England",
        "RegionCode": "ENG",
        "Country": "United Kingdom",
        "CountryCode": "GB",
        "Zip": "SW1Y 4JH",
        "Phone": "+442079460958",
    }
    shipping = placed.properties["ShippingAddress"]
    assert shipping["Address2"] is None
    assert shipping["City"] == "London"


def test_order_without_addresses_lines_or_discount() -> None:
    order = make_order(
        line_items=(),
        discount_codes=(),
        discount_total=Decimal(0),
        billing_address=None,
        shipping_address=None,
    )
    placed = only(order_events(order, (PLACED,), backfill=False), Metric.PLACED_ORDER)
    props = placed.properties
    assert props["BillingAddress"] is None
    assert props["ShippingAddress"] is None
    assert props["DiscountCode"] is None
    assert props["DiscountValue"] == 0
    assert props["Items"] == []
    assert props["ItemNames"] == []
    assert props["Categories"] == []
    assert props["Brands"] == []
    assert by_metric(order_events(order, (PLACED,), backfill=False), Metric.ORDERED_PRODUCT) == []


def test_several_discount_codes() -> None:
    order = make_order(discount_codes=("SPRING10", "FREESHIP"))
    placed = only(order_events(order, (PLACED,), backfill=False), Metric.PLACED_ORDER)
    assert placed.properties["DiscountCode"] == "SPRING10, FREESHIP"


def test_placed_order_time_value_and_unique_id() -> None:
    placed = only(order_events(make_order(), (PLACED,), backfill=False), Metric.PLACED_ORDER)
    assert placed.time == CREATED
    assert placed.value == Decimal("71.80")
    assert isinstance(placed.value, Decimal)
    assert placed.value_currency == "GBP"
    assert placed.unique_id == "9001"  # the platform's internal id, not the number


def test_placed_order_person() -> None:
    placed = only(order_events(make_order(), (PLACED,), backfill=False), Metric.PLACED_ORDER)
    assert placed.person == Person(
        email="ada@example.com",
        phone_number="+447700900123",
        first_name="Ada",
        last_name="Lovelace",
    )
    assert placed.person.identified
    assert not Person(first_name="Ada").identified


def test_order_person_is_normalised() -> None:
    person = order_person(make_order(email="  Ada@Example.COM ", phone="+44 (0)7700 900123"))
    assert person.email == "ada@example.com"
    assert person.phone_number == "+447700900123"


def test_order_person_drops_identifiers_that_identify_no_one() -> None:
    order = make_order(email="not-an-email", phone="07700 900123", first_name="", last_name="")
    person = order_person(order)
    assert person.email is None
    assert person.phone_number is None  # no country code: unknowable
    assert person.first_name is None
    assert person.last_name is None
    assert not person.identified
    # the order's events are still produced; the pipeline decides what an anonymous one means
    placed = only(order_events(order, (PLACED,), backfill=False), Metric.PLACED_ORDER)
    assert placed.person == person


def test_a_bad_phone_does_not_lose_the_email() -> None:
    person = order_person(make_order(email="ada@example.com", phone="call me"))
    assert person.email == "ada@example.com"
    assert person.phone_number is None
    assert person.identified


# --- Ordered Product --------------------------------------------------------------------------


def test_one_ordered_product_per_counted_line() -> None:
    drafts = order_events(make_order(), (PLACED,), backfill=False)
    products = by_metric(drafts, Metric.ORDERED_PRODUCT)
    assert [p.properties["ProductName"] for p in products] == [
        "Enamel Mug",
        "Linen Shirt",
        "Socks",
    ]
    assert all(p.time == CREATED for p in products)
    assert [p.value for p in products] == [Decimal("25.00"), Decimal("39.90"), Decimal("12.00")]
    assert all(p.value_currency == "GBP" for p in products)
    assert all(p.person == drafts[0].person for p in products)


def test_ordered_product_unique_ids_are_distinct_per_line() -> None:
    drafts = order_events(make_order(), (PLACED,), backfill=False)
    ids = [p.unique_id for p in by_metric(drafts, Metric.ORDERED_PRODUCT)]
    assert len(set(ids)) == 3
    assert "9001" not in ids
    # stable: the same order gives the same ids on a replay
    replayed = order_events(make_order(), (PLACED,), backfill=True)
    assert [p.unique_id for p in by_metric(replayed, Metric.ORDERED_PRODUCT)] == ids


def test_ordered_product_ids_differ_between_orders_with_the_same_line_ids() -> None:
    first = by_metric(order_events(make_order(), (PLACED,), backfill=False), Metric.ORDERED_PRODUCT)
    other = make_order(platform_order_id="9002")
    second = by_metric(order_events(other, (PLACED,), backfill=False), Metric.ORDERED_PRODUCT)
    assert not {p.unique_id for p in first} & {p.unique_id for p in second}


def test_ordered_product_properties() -> None:
    drafts = order_events(make_order(), (PLACED,), backfill=False)
    mug = by_metric(drafts, Metric.ORDERED_PRODUCT)[0].properties
    assert mug["OrderId"] == "9001"
    assert mug["ProductID"] == "p-mug"
    assert mug["SKU"] == "MUG-BLU"
    assert mug["ProductName"] == "Enamel Mug"
    assert mug["Quantity"] == 2
    assert mug["ItemPrice"] == pytest.approx(12.50)
    assert mug["RowTotal"] == pytest.approx(25.00)
    assert mug["ProductURL"] == "https://shop.example/mug"
    assert mug["ImageURL"] == "https://shop.example/mug.jpg"
    assert mug["Categories"] == ["Kitchen", "Gifts"]


def test_configurable_child_lines_count_once() -> None:
    order = make_order(line_items=(SHIRT, SHIRT_SIZE))
    assert order.counted_lines == (SHIRT,)
    drafts = order_events(order, (PLACED,), backfill=False)
    assert len(by_metric(drafts, Metric.ORDERED_PRODUCT)) == 1
    placed = only(drafts, Metric.PLACED_ORDER)
    assert placed.properties["ItemNames"] == ["Linen Shirt"]
    assert [item["ProductName"] for item in placed.properties["Items"]] == ["Linen Shirt"]


def test_only_placed_brings_ordered_products() -> None:
    drafts = order_events(make_order(), (FULFILLED, CANCELLED, REFUNDED), backfill=False)
    assert [d.metric for d in drafts] == [
        Metric.FULFILLED_ORDER,
        Metric.CANCELLED_ORDER,
        Metric.REFUNDED_ORDER,
    ]


def test_no_stages_no_events() -> None:
    assert order_events(make_order(), (), backfill=False) == []


# --- Fulfilled, Cancelled, Refunded -----------------------------------------------------------


def test_later_stages_share_the_order_id_as_unique_id() -> None:
    drafts = order_events(make_order(), (PLACED, FULFILLED, CANCELLED, REFUNDED), backfill=False)
    for metric in (
        Metric.PLACED_ORDER,
        Metric.FULFILLED_ORDER,
        Metric.CANCELLED_ORDER,
        Metric.REFUNDED_ORDER,
    ):
        assert only(drafts, metric).unique_id == "9001"


def test_later_stages_carry_the_order_properties() -> None:
    drafts = order_events(make_order(), (FULFILLED, CANCELLED, REFUNDED), backfill=False)
    for draft in drafts:
        assert draft.properties["OrderId"] == "9001"
        assert draft.properties["OrderNumber"] == "#1042"
        assert len(draft.properties["Items"]) == 3


def test_later_stages_take_the_time_the_change_was_seen() -> None:
    drafts = order_events(make_order(), (FULFILLED, CANCELLED, REFUNDED), backfill=False)
    assert [d.time for d in drafts] == [UPDATED, UPDATED, UPDATED]


def test_shopify_markers_give_fulfilled_and_cancelled_times() -> None:
    fulfilled_at = CREATED + timedelta(hours=5)
    cancelled_at = CREATED + timedelta(hours=9)
    order = make_order(fulfilled_at=fulfilled_at, cancelled_at=cancelled_at)
    drafts = order_events(order, (FULFILLED, CANCELLED, REFUNDED), backfill=False)
    assert only(drafts, Metric.FULFILLED_ORDER).time == fulfilled_at
    assert only(drafts, Metric.CANCELLED_ORDER).time == cancelled_at
    assert only(drafts, Metric.REFUNDED_ORDER).time == UPDATED


def test_refunded_value_is_the_amount_refunded() -> None:
    order = make_order(refunded_total=Decimal("25.00"))
    drafts = order_events(order, (PLACED, FULFILLED, REFUNDED), backfill=False)
    assert only(drafts, Metric.REFUNDED_ORDER).value == Decimal("25.00")
    assert only(drafts, Metric.PLACED_ORDER).value == Decimal("71.80")
    assert only(drafts, Metric.FULFILLED_ORDER).value == Decimal("71.80")


def test_full_refund_value() -> None:
    order = make_order(refunded_total=Decimal("71.80"))
    refunded = only(order_events(order, (REFUNDED,), backfill=False), Metric.REFUNDED_ORDER)
    assert refunded.value == Decimal("71.80")


def test_metric_names_have_one_spelling() -> None:
    assert Metric.CANCELLED_ORDER.value == "Cancelled Order"
    assert Metric.PLACED_ORDER.value == "Placed Order"
    assert Metric.ORDERED_PRODUCT.value == "Ordered Product"
    assert Metric.FULFILLED_ORDER.value == "Fulfilled Order"
    assert Metric.REFUNDED_ORDER.value == "Refunded Order"


def test_events_come_in_the_order_of_the_stages() -> None:
    drafts = order_events(make_order(), (PLACED, FULFILLED), backfill=False)
    assert [d.metric for d in drafts] == [
        Metric.PLACED_ORDER,
        Metric.ORDERED_PRODUCT,
        Metric.ORDERED_PRODUCT,
        Metric.ORDERED_PRODUCT,
        Metric.FULFILLED_ORDER,
    ]


# --- backfill and test orders -----------------------------------------------------------------


@pytest.mark.parametrize("backfill", [True, False])
def test_backfill_flag_is_carried_by_every_event(backfill: bool) -> None:
    drafts = order_events(
        make_order(refunded_total=Decimal(1)),
        (PLACED, FULFILLED, CANCELLED, REFUNDED),
        backfill=backfill,
    )
    assert len(drafts) == 7
    assert all(d.backfill is backfill for d in drafts)


def test_test_orders_are_marked() -> None:
    drafts = order_events(make_order(is_test=True), (PLACED, FULFILLED), backfill=False)
    assert only(drafts, Metric.PLACED_ORDER).properties["IsTest"] is True
    assert only(drafts, Metric.FULFILLED_ORDER).properties["IsTest"] is True


def test_real_orders_are_not_marked() -> None:
    drafts = order_events(make_order(), (PLACED,), backfill=False)
    assert all(not d.properties.get("IsTest") for d in drafts)


def test_test_orders_mark_their_ordered_products() -> None:
    # otherwise a test order's products could not be told from real sales
    drafts = order_events(make_order(is_test=True), (PLACED,), backfill=False)
    products = by_metric(drafts, Metric.ORDERED_PRODUCT)
    assert products
    assert all(p.properties.get("IsTest") is True for p in products)


# --- the order model --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["created_at", "updated_at", "cancelled_at", "fulfilled_at"])
def test_order_times_must_be_aware(name: str) -> None:
    naive = datetime(2024, 5, 2, 9, 30)  # noqa: DTZ001 - a naive time on purpose
    with pytest.raises(ValueError, match=name):
        make_order(**{name: naive})


def test_counted_lines_skip_children_only() -> None:
    assert make_order().counted_lines == (MUG, SHIRT, SOCKS)
