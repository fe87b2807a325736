"""The WooCommerce connector: order mapping from ``wc/v3`` JSON and webhook verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoptrack.connectors.base import WebhookVerdict, Window
from shoptrack.connectors.woocommerce import WooCommerce
from shoptrack.domain.order import Address, LineItem
from shoptrack.domain.status import Lifecycle
from shoptrack.testing import WOO_SITE_TIMEZONE, woo_order, woo_ping, woo_webhook

MODIFIED = datetime(2025, 3, 9, 14, 30, 5, tzinfo=UTC)
CREATED = datetime(2025, 3, 9, 14, 2, 41, tzinfo=UTC)
SECRET = "wh-secret-1"

connector = WooCommerce()


def _line(line_id: int, total: str, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    """A simple-product line as the API writes it, ``price`` being PHP's float division."""
    return {
        "id": line_id,
        "name": f"Product {line_id}",
        "product_id": line_id + 1000,
        "variation_id": 0,
        "quantity": quantity,
        "subtotal": total,
        "total": total,
        "sku": f"SKU-{line_id}",
        "price": float(total) / quantity,
        **fields,
    }


def test_declares_platform_and_default_rules() -> None:
    assert connector.platform == "woocommerce"
    assert connector.default_rules.stages("processing") == {Lifecycle.PLACED}
    assert Lifecycle.FULFILLED in connector.default_rules.stages("completed")


def test_a_sync_window_ends_after_its_last_second_which_the_api_bounds_exclusively() -> None:
    """WooCommerce keeps whole seconds and ``modified_before`` is exclusive: an order modified
    at 12:00:00 is read by a window ending at 12:00:00.9 (rounded down, that order was missed
    by a sync started right after it), and a whole-second end is kept as it is."""
    since = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    _, params = WooCommerce().orders_request(
        Window(since, datetime(2026, 3, 1, 12, 0, 0, 900_000, tzinfo=UTC)), 1
    )
    assert params["modified_after"] == "2026-03-01T11:00:00"
    assert params["modified_before"] == "2026-03-01T12:00:01"
    _, params = WooCommerce().orders_request(Window(since, datetime(2026, 3, 1, 12, tzinfo=UTC)), 1)
    assert params["modified_before"] == "2026-03-01T12:00:00"


def test_maps_a_full_order_field_by_field() -> None:
    raw = woo_order(
        727,
        "processing",
        MODIFIED,
        created=CREATED,
        email="  Ada@Example.com ",
        customer_id=42,
        discount_total="5.00",
        coupon_lines=[
            {"id": 9, "code": "spring10", "discount": "3.00", "discount_tax": "0.00"},
            {"id": 10, "code": "vip", "discount": "2.00", "discount_tax": "0.00"},
        ],
    )

    order = connector.to_order(raw)

    assert order.platform_order_id == "727"
    assert order.number == "727"
    assert order.created_at == CREATED
    assert order.updated_at == MODIFIED
    assert order.raw_status == "processing"
    assert order.total == Decimal("59.90")
    assert order.currency == "USD"
    assert order.email == "Ada@Example.com"
    assert order.phone == "(555) 555-0199"
    assert (order.first_name, order.last_name) == ("Ada", "Lovelace")
    assert order.discount_codes == ("spring10", "vip")
    assert order.discount_total == Decimal("5.00")
    assert order.refunded_total == Decimal(0)
    assert order.customer_id == "42"
    assert order.accepts_marketing is None
    assert order.is_test is False
    assert order.status_fallback is None
    assert order.cancelled_at is None
    assert order.fulfilled_at is None
    assert order.billing_address == Address(
        first_name="Ada",
        last_name="Lovelace",
        address1="969 Market Street",
        address2="Suite 4",
        city="San Francisco",
        region_code="CA",
        country_code="US",
        zip="94103",
        phone="(555) 555-0199",
    )
    assert order.shipping_address is not None
    assert order.shipping_address.phone is None
    assert order.line_items[0] == LineItem(
        line_id="72701",
        name="Organic Cotton Tee 1",
        quantity=1,
        item_price=Decimal("29.95"),
        row_total=Decimal("29.95"),
        product_id="100",
        sku="TEE-100",
        image_url="https://shop.example.com/wp-content/uploads/p100.jpg",
    )
    assert len(order.counted_lines) == 2


def test_guest_order_without_email_or_shipping_address() -> None:
    raw = woo_order(5, "processing", MODIFIED, email="")
    raw["shipping"] = dict.fromkeys(raw["shipping"], "")

    order = connector.to_order(raw)

    assert order.email is None
    assert order.customer_id is None
    assert order.shipping_address is None


def test_an_empty_php_array_stands_for_an_empty_object() -> None:
    # PHP's json_encode writes an empty array as [] even where an object is meant.
    raw = woo_order(5, "processing", MODIFIED, shipping=[], coupon_lines={})

    order = connector.to_order(raw)

    assert (order.shipping_address, order.discount_codes) == (None, ())


def test_money_is_exact_decimal() -> None:
    raw = woo_order(
        6,
        "processing",
        MODIFIED,
        total="0.60",
        line_items=[_line(1, "0.10"), _line(2, "0.20"), _line(3, "0.30", quantity=3)],
    )
    # PHP's float division leaks binary noise into `price`; the JSON round trip keeps it.
    raw = json.loads(json.dumps(raw))
    assert raw["line_items"][2]["price"] == 0.09999999999999999

    order = connector.to_order(raw)

    assert sum(line.row_total for line in order.line_items) == order.total == Decimal("0.60")
    assert [line.item_price for line in order.line_items] == [
        Decimal("0.10"),
        Decimal("0.20"),
        Decimal("0.10"),
    ]
    assert all(type(line.item_price) is Decimal for line in order.line_items)


def test_price_keeps_the_store_decimals() -> None:
    raw = woo_order(
        7,
        "processing",
        MODIFIED,
        currency="JPY",
        total="1000",
        line_items=[_line(1, "1000", quantity=3)],
    )

    line = connector.to_order(raw).line_items[0]

    assert (line.item_price, line.row_total) == (Decimal(333), Decimal(1000))


def test_times_come_from_the_gmt_fields_as_utc() -> None:
    created = datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    raw = woo_order(8, "processing", MODIFIED, created=created)
    # The factory's site is three hours west of UTC: the local fields are not the instant.
    assert raw["date_created"] == "2025-12-31T18:30:00"
    assert raw["date_created_gmt"] == "2025-12-31T21:30:00"
    assert WOO_SITE_TIMEZONE.utcoffset(None) == timedelta(hours=-3)

    order = connector.to_order(raw)

    assert order.created_at == created
    assert order.created_at.tzinfo is UTC
    assert order.updated_at == MODIFIED
    assert order.updated_at.tzinfo is UTC


def test_a_gmt_field_with_an_offset_is_converted() -> None:
    raw = woo_order(9, "processing", MODIFIED, date_modified_gmt="2025-03-09T16:30:05+02:00")

    assert connector.to_order(raw).updated_at == MODIFIED


@pytest.mark.parametrize("value", ["absent", None])
def test_site_local_time_never_stands_in_for_gmt(value: str | None) -> None:
    raw = woo_order(10, "processing", MODIFIED)
    if value == "absent":
        del raw["date_modified_gmt"]
    else:
        raw["date_modified_gmt"] = value
    assert raw["date_modified"] is not None

    with pytest.raises(ValueError, match=r"^date_modified_gmt: missing"):
        connector.to_order(raw)


def test_variation_line_names_the_parent_product_and_the_variant_sku() -> None:
    raw = woo_order(11, "processing", MODIFIED, lines=2, total="40.00")
    variation = raw["line_items"][1]
    assert variation["variation_id"] != 0

    line = connector.to_order(raw).line_items[1]

    assert line.product_id == str(variation["product_id"])
    assert line.sku == variation["sku"]
    assert line.name == "Hoodie - Blue, M"
    assert (line.quantity, line.item_price, line.row_total) == (
        2,
        Decimal("10.00"),
        Decimal("20.00"),
    )
    assert line.parent_line_id is None


def test_line_of_a_deleted_product() -> None:
    deleted = _line(1, "12.00", product_id=0, variation_id=0, sku=None, image={"id": 0, "src": ""})
    deleted["name"] = "Ship Your Idea &ndash; Color: Black"
    raw = woo_order(12, "processing", MODIFIED, total="12.00", line_items=[deleted])

    line = connector.to_order(raw).line_items[0]

    assert (line.product_id, line.sku, line.image_url) == (None, None, None)
    assert line.name == "Ship Your Idea \u2013 Color: Black"


def test_refunded_total_sums_the_refunds() -> None:
    raw = woo_order(
        13,
        "refunded",
        MODIFIED,
        refunds=[
            {"id": 801, "reason": "damaged", "total": "-5.00"},
            {"id": 802, "reason": "", "total": "-2.50"},
        ],
    )

    order = connector.to_order(raw)

    assert order.refunded_total == Decimal("7.50")
    assert order.raw_status == "refunded"


def _without(key: str) -> Any:
    def change(raw: dict[str, Any]) -> None:
        del raw[key]

    return change


def _set(key: str, value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        raw[key] = value

    return change


def _set_line(key: str, value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        raw["line_items"][0][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_without("id"), "id: missing"),
        (_without("number"), "number: missing"),
        (_without("status"), "status: missing"),
        (_set("status", ""), "status: empty"),
        (_without("currency"), "currency: missing"),
        (_without("total"), "total: missing"),
        (_set("total", "59,90"), "total: not a decimal amount"),
        (_set("total", "NaN"), "total: not a decimal amount"),
        (_without("date_created_gmt"), "date_created_gmt: missing"),
        (_set("date_created_gmt", "yesterday"), "date_created_gmt: not an ISO 8601"),
        (_set("id", "727"), "id: expected a non-negative integer"),
        (_without("line_items"), "line_items: missing"),
        (_set("billing", "Ada"), "billing: expected an object"),
        (_set_line("price", None), r"line_items\[0\].price: missing"),
        (_set_line("total", True), r"line_items\[0\].total: not a decimal amount"),
        (_set_line("quantity", 1.5), r"line_items\[0\].quantity: expected"),
        (_set_line("name", ""), r"line_items\[0\].name: empty"),
        (_set("refunds", [{"id": 1}]), r"refunds\[0\].total: missing"),
        (_set("coupon_lines", [{"id": 1, "code": None}]), r"coupon_lines\[0\].code: missing"),
        (_set("coupon_lines", ["spring10"]), "coupon_lines: expected a list of objects"),
        (_set("line_items", {"1": {}}), "line_items: expected a list of objects"),
    ],
)
def test_unreadable_fields_are_named(change: Any, message: str) -> None:
    raw = woo_order(14, "processing", MODIFIED)
    change(raw)

    with pytest.raises(ValueError, match=f"^{message}"):
        connector.to_order(raw)


def test_accepts_a_delivery_signed_with_the_secret() -> None:
    headers, body = woo_webhook(
        woo_order(15, "processing", MODIFIED), secret=SECRET, delivery_id="9f2c1e"
    )

    check = connector.check_webhook([SECRET], headers, body)

    assert check.verdict is WebhookVerdict.ACCEPTED
    assert (check.topic, check.delivery_id, check.reason) == ("order.updated", "9f2c1e", None)


def test_accepts_the_rotated_secret_too() -> None:
    headers, body = woo_webhook(woo_order(16, "processing", MODIFIED), secret="new-secret")

    check = connector.check_webhook([SECRET, "new-secret"], headers, body)

    assert check.verdict is WebhookVerdict.ACCEPTED


def test_rejects_a_wrong_secret() -> None:
    headers, body = woo_webhook(woo_order(17, "processing", MODIFIED), secret="someone-else")

    check = connector.check_webhook([SECRET, "new-secret"], headers, body)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == "signature does not match the webhook secret"


def test_rejects_a_body_changed_after_signing() -> None:
    headers, body = woo_webhook(woo_order(18, "processing", MODIFIED), secret=SECRET)
    # Re-encoding the same JSON differently (unescaped slashes) is a different body.
    reencoded = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert reencoded != body

    check = connector.check_webhook([SECRET], headers, reencoded)

    assert check.verdict is WebhookVerdict.REJECTED


def test_rejects_a_missing_signature() -> None:
    headers, body = woo_webhook(woo_order(19, "processing", MODIFIED), secret=SECRET)
    del headers["x-wc-webhook-signature"]

    check = connector.check_webhook([SECRET], headers, body)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason == "missing X-WC-Webhook-Signature header"


def test_rejects_when_no_secret_is_configured() -> None:
    headers, body = woo_webhook(woo_order(20, "processing", MODIFIED), secret="")

    check = connector.check_webhook([], headers, body)

    assert check.verdict is WebhookVerdict.REJECTED
    assert check.reason is not None
    assert "no webhook secret" in check.reason


def test_answers_the_creation_ping() -> None:
    headers, body = woo_ping(31)

    check = connector.check_webhook([SECRET], headers, body)

    assert check.verdict is WebhookVerdict.PING


def test_an_unsigned_body_that_is_not_a_ping_is_rejected() -> None:
    check = connector.check_webhook([SECRET], {}, b"webhook_id=31&status=active")

    assert check.verdict is WebhookVerdict.REJECTED


@pytest.mark.parametrize("topic", ["order.created", "order.updated", "order.restored"])
def test_order_topics_carry_the_order(topic: str) -> None:
    headers, body = woo_webhook(woo_order(21, "completed", MODIFIED), secret=SECRET, topic=topic)
    check = connector.check_webhook([SECRET], headers, body)

    orders = connector.orders_from_webhook(check.topic, json.loads(body))

    assert [order.platform_order_id for order in orders] == ["21"]
    assert orders[0].raw_status == "completed"


def test_deleted_topic_carries_only_the_id() -> None:
    headers, body = woo_webhook({"id": 22}, secret=SECRET, topic="order.deleted")
    check = connector.check_webhook([SECRET], headers, body)

    assert check.verdict is WebhookVerdict.ACCEPTED
    assert connector.orders_from_webhook(check.topic, json.loads(body)) == []


@pytest.mark.parametrize("topic", ["customer.updated", "action.woocommerce_payment_complete", ""])
def test_other_topics_carry_no_orders(topic: str) -> None:
    assert connector.orders_from_webhook(topic, woo_order(23, "processing", MODIFIED)) == []


def test_legacy_api_payload_is_named() -> None:
    with pytest.raises(ValueError, match="Legacy REST API"):
        connector.orders_from_webhook("order.updated", {"order": {"id": 24}})


@settings(max_examples=50, deadline=None)
@given(cents=st.integers(min_value=0, max_value=10**9), quantity=st.integers(1, 999))
def test_item_price_is_the_row_total_shared_to_the_cent(cents: int, quantity: int) -> None:
    total = f"{Decimal(cents) / 100:.2f}"
    order = woo_order(
        25, "processing", MODIFIED, total=total, line_items=[_line(1, total, quantity)]
    )
    raw = json.loads(json.dumps(order))

    line = connector.to_order(raw).line_items[0]

    assert line.row_total == Decimal(total)
    assert line.item_price.as_tuple().exponent == -2
    # Nearest cent; an exact half-cent may go either way, as PHP's float is all there is.
    assert abs(line.item_price - Decimal(total) / quantity) <= Decimal("0.005")


@settings(max_examples=50, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), flip=st.integers(0, 10_000))
def test_any_changed_byte_breaks_the_signature(secret: str, flip: int) -> None:
    headers, body = woo_webhook(woo_order(26, "processing", MODIFIED), secret=secret)
    assert connector.check_webhook([secret], headers, body).verdict is WebhookVerdict.ACCEPTED
    index = flip % len(body)
    tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]

    assert connector.check_webhook([secret], headers, tampered).verdict is WebhookVerdict.REJECTED
