"""Shopify's REST order — a webhook's payload, or what ``_shopify_graphql.rest_order`` makes of
an order node — mapped to the platform-neutral ``Order``; and the readers of its fields that
checkouts share (times with an offset, discount codes, discounts allocated to a line)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shoptrack.connectors import fields
from shoptrack.domain.order import Address, LineItem, Order

__all__ = ["allocated_discount", "discount_codes", "optional_utc", "shopify_order", "utc"]

# A fulfilment in one of these states shipped nothing.
_FAILED_FULFILLMENTS = frozenset({"cancelled", "error", "failure"})


def shopify_order(raw: Mapping[str, Any]) -> Order:
    """Maps one REST order; ``ValueError`` names the first field that cannot be read."""
    customer = fields.mapping(raw, "customer")
    billing = fields.mapping(raw, "billing_address")
    updated_at = utc(raw, "updated_at")
    customer_id = fields.optional_integer(customer, "id", "customer.")
    return Order(
        platform_order_id=str(fields.integer(raw, "id")),
        number=fields.optional_text(raw, "name") or fields.text(raw, "order_number"),
        created_at=utc(raw, "created_at"),
        updated_at=updated_at,
        raw_status=fields.text(raw, "financial_status"),
        total=fields.money(raw, "total_price"),
        currency=fields.text(raw, "currency"),
        email=fields.first_text((raw, "email"), (raw, "contact_email"), (customer, "email")),
        phone=fields.optional_text(raw, "phone"),
        first_name=fields.first_text((customer, "first_name"), (billing, "first_name")),
        last_name=fields.first_text((customer, "last_name"), (billing, "last_name")),
        line_items=fields.each(raw, "line_items", _line_item, required=True),
        discount_codes=discount_codes(raw),
        discount_total=fields.money(raw, "total_discounts", default=Decimal(0)),
        refunded_total=_refunded_total(raw),
        billing_address=_address(billing),
        shipping_address=_address(fields.mapping(raw, "shipping_address")),
        accepts_marketing=_accepts_marketing(raw, customer),
        # Test orders (Bogus Gateway, test mode) are kept, and marked for the metrics to skip.
        is_test=raw.get("test") is True,
        cancelled_at=optional_utc(raw, "cancelled_at"),
        fulfilled_at=_fulfilled_at(raw, updated_at),
        customer_id=str(customer_id) if customer_id is not None else None,
    )


def discount_codes(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The codes of an order's or a checkout's ``discount_codes``."""
    return fields.each(raw, "discount_codes", lambda code, path: fields.text(code, "code", path))


def allocated_discount(item: Mapping[str, Any], path: str) -> Decimal | None:
    """The discounts allocated to a line (its ``discount_allocations``), summed; None when it
    lists none."""
    allocations = fields.object_list(item, "discount_allocations", path=path)
    if not allocations:
        return None
    return sum(
        (
            fields.money(allocation, "amount", f"{path}discount_allocations[{index}].")
            for index, allocation in enumerate(allocations)
        ),
        Decimal(0),
    )


def _accepts_marketing(raw: Mapping[str, Any], customer: Mapping[str, Any]) -> bool | None:
    # The checkout box, or the customer's standing email consent (which the box may predate).
    buyer = raw.get("buyer_accepts_marketing")
    consent = customer.get("email_marketing_consent")
    state = consent.get("state") if isinstance(consent, Mapping) else None
    if buyer is True or state == "subscribed":
        return True
    if isinstance(buyer, bool) or isinstance(state, str):
        return False
    return None


def _refunded_total(raw: Mapping[str, Any]) -> Decimal:
    # What went back to the buyer: successful refund transactions (a refund that only restocks
    # has none; a failed or pending transaction moved no money).
    total = Decimal(0)
    for index, refund in enumerate(fields.object_list(raw, "refunds")):
        path = f"refunds[{index}]."
        for number, transaction in enumerate(fields.object_list(refund, "transactions", path=path)):
            if transaction.get("kind") == "refund" and transaction.get("status") == "success":
                total += fields.money(transaction, "amount", f"{path}transactions[{number}].")
    return total


def _fulfilled_at(raw: Mapping[str, Any], updated_at: datetime) -> datetime | None:
    if raw.get("fulfillment_status") != "fulfilled":
        return None
    shipped = [
        utc(fulfillment, "created_at", f"fulfillments[{index}].")
        for index, fulfillment in enumerate(fields.object_list(raw, "fulfillments"))
        if fulfillment.get("status") not in _FAILED_FULFILLMENTS
        and fulfillment.get("created_at") is not None
    ]
    # Without its fulfilments (trimmed by include_fields) the order's change is the best time.
    return max(shipped, default=updated_at)


def _line_item(item: Mapping[str, Any], path: str) -> LineItem:
    price = fields.money(item, "price", path)
    quantity = fields.integer(item, "quantity", path)
    discount = allocated_discount(item, path)
    if discount is None:
        # Payloads without allocations (older versions) carry the line's discount in one sum.
        discount = fields.money(item, "total_discount", path, default=Decimal(0))
    product_id = fields.optional_integer(item, "product_id", path)
    return LineItem(
        line_id=str(fields.integer(item, "id", path)),
        # `name` is the title with the variant's ("IPod Nano - 8gb - green"), as shown at checkout.
        name=fields.optional_text(item, "name") or fields.text(item, "title", path),
        quantity=quantity,
        item_price=price,
        row_total=price * quantity - discount,
        # Custom (non-catalogue) lines have no product, variant or SKU.
        product_id=str(product_id) if product_id is not None else None,
        sku=fields.optional_text(item, "sku"),
        # The product's vendor is the brand Klaviyo's `Brands` lists.
        brand=fields.optional_text(item, "vendor"),
    )


def _address(raw: Mapping[str, Any]) -> Address | None:
    return fields.address(raw, region="province", region_code="province_code")


def utc(raw: Mapping[str, Any], key: str, path: str = "") -> datetime:
    """The time ``key`` of ``raw`` in UTC; ``ValueError`` unless it is ISO 8601 with an
    offset."""
    value = fields.present(raw, key, path)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    # Shopify writes the shop's offset ("2008-01-10T11:00:00-05:00"); a time without one names
    # no instant.
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"{path}{key}: not an ISO 8601 date-time with an offset: {value!r}")
    return moment.astimezone(UTC)


def optional_utc(raw: Mapping[str, Any], key: str) -> datetime | None:
    """``utc``, or None where the time is absent or null."""
    return None if raw.get(key) is None else utc(raw, key)
