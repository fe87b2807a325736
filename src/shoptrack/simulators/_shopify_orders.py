"""Shopify orders, refunds and checkouts as a shop keeps them (``_shopify_order_json`` writes
them as the REST Admin API does). The catalogue and buyers are synthetic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal

__all__ = [
    "API_VERSION",
    "CATALOGUE",
    "FINANCIAL_STATUSES",
    "Buyer",
    "Fulfillment",
    "Line",
    "Product",
    "Refund",
    "Shop",
    "SimulatedCheckout",
    "SimulatedOrder",
    "buyer_for",
    "money",
]

API_VERSION = "2025-01"
# The REST values of `financial_status` (GraphQL's OrderDisplayFinancialStatus adds EXPIRED).
FINANCIAL_STATUSES = (
    "pending",  # awaiting payment (manual methods, bank deposit, cash on delivery)
    "authorized",  # the card was authorised, not captured yet
    "partially_paid",  # part of the total was captured
    "paid",  # captured in full
    "partially_refunded",  # paid, then part of it refunded
    "refunded",  # paid, then refunded in full
    "voided",  # the authorisation was voided (no money moved)
)


@dataclass(frozen=True, slots=True)
class Product:
    """One variant of the shop's catalogue."""

    product_id: int
    variant_id: int
    title: str
    variant_title: str | None
    sku: str
    price: Decimal
    vendor: str
    grams: int


CATALOGUE = (
    Product(8123450001, 44100000001, "Merino Wool Beanie", "Charcoal", "BEANIE-MER-CHR",
            Decimal("28.00"), "Northpeak", 90),
    Product(8123450002, 44100000002, "Trail Running Socks", "M / Olive", "SOCK-TRL-M-OLV",
            Decimal("16.00"), "Northpeak", 60),
    Product(8123450003, 44100000003, "Canvas Weekender Bag", None, "BAG-WKND-CNV",
            Decimal("129.00"), "Harbor & Co.", 1200),
    Product(8123450004, 44100000004, "Organic Cotton Tee", "L / White", "TEE-ORG-L-WHT",
            Decimal("32.00"), "Harbor & Co.", 180),
    Product(8123450005, 44100000005, "Insulated Water Bottle", "750 ml / Sage",
            "BTL-INS-750-SGE", Decimal("38.00"), "Fieldwork", 420),
    Product(8123450006, 44100000006, "Waxed Canvas Jacket", "M / Tan", "JKT-WAX-M-TAN",
            Decimal("248.00"), "Harbor & Co.", 1500),
    Product(8123450007, 44100000007, "Leather Card Wallet", "Cognac", "WAL-CRD-CGN",
            Decimal("54.00"), "Fieldwork", 70),
    Product(8123450008, 44100000008, "Packable Rain Shell", "S / Navy", "SHL-RAIN-S-NVY",
            Decimal("189.00"), "Northpeak", 310),
)  # fmt: skip

_FIRST_NAMES = ("Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Chloe", "Mateo", "Priya", "Kenji")
_LAST_NAMES = (
    "Johnson", "Garcia", "Nguyen", "Okafor", "Schmidt", "Rossi", "Kowalski", "Tanaka", "Haddad",
    "Larsen", "Silva",
)  # fmt: skip
# (street, city, province, province code, zip, latitude, longitude)
_ADDRESSES = (
    ("742 Evergreen Terrace", "Springfield", "Oregon", "OR", "97477", 44.0462, -123.022),
    ("2101 4th Avenue", "Seattle", "Washington", "WA", "98121", 47.6154, -122.3426),
    ("600 Congress Avenue", "Austin", "Texas", "TX", "78701", 30.2682, -97.7429),
    ("350 5th Avenue", "New York", "New York", "NY", "10118", 40.7484, -73.9857),
    ("1200 Market Street", "Denver", "Colorado", "CO", "80204", 39.7481, -104.9961),
    ("88 Harbor Drive", "Portland", "Maine", "ME", "04101", 43.6561, -70.2483),
)


@dataclass(frozen=True, slots=True)
class Buyer:
    """A customer of the shop; ``customer_id`` None for a guest checkout."""

    customer_id: int | None
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    address: tuple[str, str, str, str, str, float, float]
    accepts_marketing: bool
    since: datetime


def buyer_for(number: int, since: datetime, *, email: str | None = None) -> Buyer:
    """A demo customer chosen by ``number`` (the same number, the same person)."""
    first = _FIRST_NAMES[number % len(_FIRST_NAMES)]
    last = _LAST_NAMES[(number * 7) % len(_LAST_NAMES)]
    return Buyer(
        customer_id=7_300_000_000 + number,
        first_name=first,
        last_name=last,
        email=email or f"{first}.{last}{number}@example.com".lower(),
        # 555-01XX numbers are reserved for fiction.
        phone=f"+1415555{100 + number % 100:04d}",
        address=_ADDRESSES[number % len(_ADDRESSES)],
        accepts_marketing=number % 3 != 0,
        since=since,
    )


@dataclass(slots=True)
class Line:
    """One line of an order or checkout: a variant, a quantity and the unit price charged."""

    id: int
    product: Product
    quantity: int
    price: Decimal

    @property
    def total(self) -> Decimal:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Refund:
    """Money given back: one successful refund transaction against the order's sale."""

    id: int
    transaction_id: int
    amount: Decimal
    note: str
    created: datetime


@dataclass(frozen=True, slots=True)
class Fulfillment:
    """A shipment of every line."""

    id: int
    created: datetime
    tracking_number: str


@dataclass(slots=True)
class SimulatedOrder:
    """One order; times are aware and kept to the second."""

    id: int
    number: int  # order_number: 1001, 1002...
    created: datetime
    updated: datetime
    buyer: Buyer
    lines: list[Line]
    financial_status: str
    test: bool = False
    gateway: str = "shopify_payments"
    checkout_id: int = 0
    fulfillment_status: str | None = None  # None, "partial" or "fulfilled"
    fulfillments: list[Fulfillment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None

    @property
    def email(self) -> str | None:
        return self.buyer.email

    @property
    def total(self) -> Decimal:
        """What the customer pays: the lines (shipping is free, no tax is charged)."""
        return sum((line.total for line in self.lines), Decimal(0))

    def refunded(self) -> Decimal:
        return sum((refund.amount for refund in self.refunds), Decimal(0))


@dataclass(slots=True)
class SimulatedCheckout:
    """A checkout the buyer started; ``completed`` once it became an order."""

    id: int
    token: str
    created: datetime
    updated: datetime
    buyer: Buyer | None  # None until the buyer gives a contact
    lines: list[Line]
    completed: datetime | None = None
    order_id: int | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))


@dataclass(frozen=True, slots=True)
class Shop:
    """What every written resource needs to know about the shop."""

    id: int
    domain: str  # the permanent myshopify.com domain
    name: str
    currency: str
    zone: tzinfo
    zone_name: str
    location_id: int


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"
