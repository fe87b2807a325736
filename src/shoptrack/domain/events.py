"""Event drafts: what an order's lifecycle stages record, in Klaviyo's e-commerce schema."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.domain.order import Address, LineItem, Order
from shoptrack.domain.status import Lifecycle

__all__ = [
    "TEST_ORDER_DOMAIN",
    "EventDraft",
    "Metric",
    "Person",
    "is_test_address",
    "is_test_order",
    "item_properties",
    "order_events",
    "order_person",
    "order_properties",
]


class Metric(StrEnum):
    """The metric names shoptrack records (one spelling: "Cancelled Order")."""

    PLACED_ORDER = "Placed Order"
    ORDERED_PRODUCT = "Ordered Product"
    FULFILLED_ORDER = "Fulfilled Order"
    CANCELLED_ORDER = "Cancelled Order"
    REFUNDED_ORDER = "Refunded Order"
    STARTED_CHECKOUT = "Started Checkout"
    ADDED_TO_CART = "Added to Cart"
    VIEWED_PRODUCT = "Viewed Product"


@dataclass(frozen=True, slots=True)
class Person:
    """Who an event happened to, by any identifiers known (normalised by the store)."""

    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    # Standard attributes beside the names: organization, locale, title, image, location.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # A profile named by its id (API events may do so instead of giving identifiers).
    profile_id: str | None = None
    # Whether the given names and attributes replace stored ones (the API) or only fill gaps
    # (orders, whose billing names should not undo what a shop set through the API).
    overwrite: bool = False

    @property
    def identified(self) -> bool:
        return bool(self.profile_id or self.email or self.phone_number or self.external_id)


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event about to be recorded; ``unique_id`` dedupes it within its metric."""

    metric: str
    person: Person
    time: datetime
    unique_id: str
    properties: Mapping[str, Any]
    value: Decimal | None = None
    value_currency: str | None = None
    backfill: bool = False
    # A store's test order, or one placed by ``shoptrack test-order``: kept out of charts and
    # of profiles' order statistics.
    test: bool = False


# ``shoptrack test-order`` places its orders for ``test-order+<time>@`` this reserved domain.
TEST_ORDER_DOMAIN = "shoptrack.invalid"

_STAGE_METRIC = {
    Lifecycle.PLACED: Metric.PLACED_ORDER,
    Lifecycle.FULFILLED: Metric.FULFILLED_ORDER,
    Lifecycle.CANCELLED: Metric.CANCELLED_ORDER,
    Lifecycle.REFUNDED: Metric.REFUNDED_ORDER,
}


def order_events(
    order: Order, stages: tuple[Lifecycle, ...], *, backfill: bool
) -> list[EventDraft]:
    """The events that recording ``stages`` of ``order`` produces.

    Placed Order takes the order's creation time and total and brings one Ordered Product per
    counted line. Fulfilled, Cancelled and Refunded Order take the time the change was seen on
    the platform and share the Placed Order's ``unique_id`` (the order id), as Klaviyo's
    customer-lifetime-value netting expects.
    """
    person = order_person(order)
    properties = order_properties(order)
    test = is_test_order(order)
    drafts: list[EventDraft] = []
    for stage in stages:
        drafts.append(
            EventDraft(
                metric=_STAGE_METRIC[stage],
                person=person,
                time=_stage_time(order, stage),
                unique_id=order.platform_order_id,
                properties=properties,
                value=_stage_value(order, stage),
                value_currency=order.currency,
                backfill=backfill,
                test=test,
            )
        )
        if stage is Lifecycle.PLACED:
            drafts.extend(
                EventDraft(
                    metric=Metric.ORDERED_PRODUCT,
                    person=person,
                    time=order.created_at,
                    unique_id=f"{order.platform_order_id}-{line.line_id}",
                    properties=_ordered_product_properties(order, line),
                    value=line.row_total,
                    value_currency=order.currency,
                    backfill=backfill,
                    test=test,
                )
                for line in order.counted_lines
            )
    return drafts


def is_test_address(email: str | None) -> bool:
    """Whether an email is one ``shoptrack test-order`` places orders for (it never delivers)."""
    return bool(email) and str(email).strip().lower().endswith("@" + TEST_ORDER_DOMAIN)


def is_test_order(order: Order) -> bool:
    """A store's own test order (Shopify marks them), or one placed by ``shoptrack test-order``."""
    return order.is_test or is_test_address(order.email)


def order_person(order: Order) -> Person:
    """The customer of an order. Stores accept addresses and numbers that identify no one (a
    phone without its country code); those are left off rather than failing the order."""
    return Person(
        email=_identifier(normalize_email, order.email),
        phone_number=_identifier(normalize_phone, order.phone),
        first_name=order.first_name or None,
        last_name=order.last_name or None,
    )


def _identifier(normalize: Callable[[str | None], str | None], value: str | None) -> str | None:
    try:
        return normalize(value)
    except InvalidIdentifierError:
        return None


def _stage_time(order: Order, stage: Lifecycle) -> datetime:
    if stage is Lifecycle.PLACED:
        return order.created_at
    if stage is Lifecycle.CANCELLED and order.cancelled_at is not None:
        return order.cancelled_at
    if stage is Lifecycle.FULFILLED and order.fulfilled_at is not None:
        return order.fulfilled_at
    return order.updated_at


def _stage_value(order: Order, stage: Lifecycle) -> Decimal:
    if stage is Lifecycle.REFUNDED and order.refunded_total > 0:
        return order.refunded_total
    return order.total


def order_properties(order: Order) -> dict[str, Any]:
    """Placed Order's properties (and the base of the other order events)."""
    lines = order.counted_lines
    properties: dict[str, Any] = {
        "OrderId": order.platform_order_id,
        "OrderNumber": order.number,
        "Categories": _unique(c for line in lines for c in line.categories),
        "ItemNames": [line.name for line in lines],
        "Brands": _unique(line.brand for line in lines if line.brand),
        "DiscountCode": ", ".join(order.discount_codes) or None,
        "DiscountValue": _money(order.discount_total),
        "Items": [item_properties(line) for line in lines],
        "BillingAddress": _address(order.billing_address),
        "ShippingAddress": _address(order.shipping_address),
    }
    if is_test_order(order):
        properties["IsTest"] = True
    return properties


def _ordered_product_properties(order: Order, line: LineItem) -> dict[str, Any]:
    item = item_properties(line)
    item["ProductBrand"] = item.pop("Brand")  # Klaviyo's Ordered Product spells it so
    properties: dict[str, Any] = {
        "OrderId": order.platform_order_id,
        "OrderNumber": order.number,
        **item,
    }
    if is_test_order(order):
        properties["IsTest"] = True
    return properties


def item_properties(line: LineItem) -> dict[str, Any]:
    """One line as Klaviyo's event properties spell an item (Placed Order's and Started
    Checkout's ``Items``; Ordered Product renames ``Brand``)."""
    return {
        "ProductID": line.product_id,
        "SKU": line.sku,
        "ProductName": line.name,
        "Quantity": line.quantity,
        "ItemPrice": _money(line.item_price),
        "RowTotal": _money(line.row_total),
        "ProductURL": line.product_url,
        "ImageURL": line.image_url,
        "Categories": list(line.categories),
        "Brand": line.brand,
    }


def _address(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "FirstName": address.first_name,
        "LastName": address.last_name,
        "Company": address.company,
        "Address1": address.address1,
        "Address2": address.address2,
        "City": address.city,
        "Region": address.region,
        "RegionCode": address.region_code,
        "Country": address.country,
        "CountryCode": address.country_code,
        "Zip": address.zip,
        "Phone": address.phone,
    }


def _money(amount: Decimal) -> float:
    """Money in properties is a JSON number, as Klaviyo's schema has it; ``value`` keeps the
    exact Decimal."""
    return float(amount)


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))
