"""The platform-neutral order that every connector maps its platform's orders to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

__all__ = ["Address", "LineItem", "Order"]


@dataclass(frozen=True, slots=True)
class Address:
    """A billing or shipping address, in Klaviyo's property names once serialised."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    region: str | None = None
    region_code: str | None = None
    country: str | None = None
    country_code: str | None = None
    zip: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class LineItem:
    """One line of an order.

    ``parent_line_id`` marks the child line of a configurable product: the parent line carries
    the price and the child the chosen variant, and together they count as one ordered product.
    """

    line_id: str
    name: str
    quantity: int
    item_price: Decimal
    row_total: Decimal
    product_id: str | None = None
    sku: str | None = None
    product_url: str | None = None
    image_url: str | None = None
    categories: tuple[str, ...] = ()
    brand: str | None = None
    parent_line_id: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as seen once on its platform (a *sighting*), with times in UTC.

    ``raw_status`` is the platform's own status value written as a string (``"11"``,
    ``"processing"``). ``status_fallback`` is the value the status rules consult when no rule
    names the raw status (Magento 2: the state behind a custom status). ``cancelled_at`` and
    ``fulfilled_at`` are set by platforms that report those outside the status field (Shopify).
    """

    platform_order_id: str
    number: str
    created_at: datetime
    updated_at: datetime
    raw_status: str
    total: Decimal
    currency: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    line_items: tuple[LineItem, ...] = ()
    discount_codes: tuple[str, ...] = ()
    discount_total: Decimal = Decimal(0)
    refunded_total: Decimal = Decimal(0)
    billing_address: Address | None = None
    shipping_address: Address | None = None
    accepts_marketing: bool | None = None
    is_test: bool = False
    status_fallback: str | None = None
    cancelled_at: datetime | None = None
    fulfilled_at: datetime | None = None
    customer_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("created_at", "updated_at", "cancelled_at", "fulfilled_at"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"Order.{name} must be timezone-aware (UTC)")

    @property
    def counted_lines(self) -> tuple[LineItem, ...]:
        """The lines that are products of their own (configurable children count with their
        parent)."""
        return tuple(line for line in self.line_items if line.parent_line_id is None)
