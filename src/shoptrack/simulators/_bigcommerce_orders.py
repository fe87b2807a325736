"""BigCommerce orders as a store keeps them (``_bigcommerce_order_json`` writes them as the
Orders v2 API does). The catalogue is BigCommerce's sample store (Cornerstone's ``[Sample]``
products); the shoppers are made up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

__all__ = [
    "CATALOGUE",
    "SHIPPED_STATUSES",
    "SHOPPERS",
    "STATUSES",
    "Coupon",
    "Line",
    "Product",
    "Shopper",
    "SimulatedOrder",
]

# The system order statuses (GET /v2/order_statuses; the OAS table), with their descriptions.
# A merchant can relabel them (custom_label) but cannot add any: the ids are fixed.
STATUSES: dict[int, tuple[str, str]] = {
    0: (
        "Incomplete",
        (
            "An incomplete order happens when a shopper reached the payment page,"
            " but did not complete the transaction."
        ),
    ),
    1: ("Pending", "Customer started the checkout process, but did not complete it."),
    2: (
        "Shipped",
        (
            "Order has been shipped, but receipt has not been confirmed; seller"
            " has used the Ship Items action."
        ),
    ),
    3: (
        "Partially Shipped",
        (
            "Only some items in the order have been shipped, due to some products"
            " being pre-order only or other reasons."
        ),
    ),
    4: ("Refunded", "Seller has used the Refund action."),
    5: (
        "Cancelled",
        "Seller has cancelled an order, due to a stock inconsistency or other reasons.",
    ),
    6: (
        "Declined",
        "Seller has marked the order as declined for lack of manual payment, or other reasons.",
    ),
    7: (
        "Awaiting Payment",
        "Customer has completed checkout process, but payment has yet to be confirmed.",
    ),
    8: (
        "Awaiting Pickup",
        "Order has been pulled, and is awaiting customer pickup from a seller-specified location.",
    ),
    9: (
        "Awaiting Shipment",
        "Order has been pulled and packaged, and is awaiting collection from a shipping provider.",
    ),
    10: (
        "Completed",
        "Client has paid for their digital product and their file(s) are available for download.",
    ),
    11: (
        "Awaiting Fulfillment",
        "Customer has completed the checkout process and payment has been confirmed.",
    ),
    12: (
        "Manual Verification Required",
        "Order is on hold while some aspect needs to be manually confirmed.",
    ),
    13: (
        "Disputed",
        (
            "Customer has initiated a dispute resolution process for the PayPal"
            " transaction that paid for the order."
        ),
    ),
    14: ("Partially Refunded", "Seller has partially refunded the order."),
}
SHIPPED_STATUSES = frozenset({2, 10})  # every item shipped (Completed: digital goods delivered)


@dataclass(frozen=True, slots=True)
class Product:
    """A catalogue product, with the option a shopper picks for it (if any)."""

    id: int
    name: str
    sku: str
    price: Decimal
    brand: str
    option: tuple[str, str] | None = None  # (option name, value chosen)


# Cornerstone's sample catalogue, as a new BigCommerce trial store ships it.
CATALOGUE: tuple[Product, ...] = (
    Product(
        77,
        "[Sample] Fog Linen Chambray Towel - Beige Stripe",
        "SLCTBS",
        Decimal("49.00"),
        "OFS",
        ("Size", "M"),
    ),
    Product(80, "[Sample] Orbit Terrarium - Large", "OTL", Decimal("109.00"), "Common Good"),
    Product(81, "[Sample] Shower Curtain", "SHOWCU", Decimal("120.00"), "Common Good"),
    Product(86, "[Sample] Able Brewing System", "ABS", Decimal("225.00"), "Sagaform"),
    Product(88, "[Sample] Chemex Coffeemaker 3 Cup", "CC3C", Decimal("49.50"), "Sagaform"),
    Product(93, "[Sample] 1 L Le Parfait Jar", "SLLPJ", Decimal("7.00"), "OFS", ("Size", "1 L")),
    Product(97, "[Sample] Tiered Wire Basket", "TWB", Decimal("119.95"), "OFS"),
    Product(98, "[Sample] Laundry Detergent", "CGLD", Decimal("29.00"), "Common Good"),
    Product(103, "[Sample] Oak Cheese Grater", "OCG", Decimal("34.95"), "Sagaform"),
    Product(104, "[Sample] Utility Caddy", "OFSUC", Decimal("45.95"), "OFS"),
    Product(107, "[Sample] Dustpan & Brush", "DUST1", Decimal("34.95"), "OFS"),
    Product(111, "[Sample] Smith Journal 13", "SM13", Decimal("25.00"), "Kinfolk"),
)


@dataclass(frozen=True, slots=True)
class Shopper:
    """Someone who buys from the store; ``customer_id`` 0 checks out as a guest."""

    customer_id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    city: str
    state: str
    zip: str
    country: str
    country_iso2: str


SHOPPERS: tuple[Shopper, ...] = (
    Shopper(
        11,
        "Jane",
        "Doe",
        "jane.doe@example.com",
        "512-555-0148",
        "455 Main Street",
        "Austin",
        "Texas",
        "78751",
        "United States",
        "US",
    ),
    Shopper(
        0,
        "Marcus",
        "Okafor",
        "marcus.okafor@example.net",
        "",
        "88 Harbour Road",
        "Sydney",
        "New South Wales",
        "2000",
        "Australia",
        "AU",
    ),
    Shopper(
        14,
        "Priya",
        "Raman",
        "priya.raman@example.org",
        "206-555-0112",
        "1201 Pine Street",
        "Seattle",
        "Washington",
        "98101",
        "United States",
        "US",
    ),
    Shopper(
        0,
        "Elsie",
        "Whitfield",
        "elsie.whitfield@example.co.uk",
        "020 7946 0321",
        "14 Rosebery Avenue",
        "London",
        "England",
        "EC1R 4SX",
        "United Kingdom",
        "GB",
    ),
    Shopper(
        19,
        "Tomás",
        "Herrera",
        "tomas.herrera@example.com",
        "305-555-0190",
        "230 Coral Way",
        "Miami",
        "Florida",
        "33145",
        "United States",
        "US",
    ),
    Shopper(
        22,
        "Hannah",
        "Becker",
        "hannah.becker@example.de",
        "+49 30 5550 1234",
        "Oranienstraße 25",
        "Berlin",
        "Berlin",
        "10999",
        "Germany",
        "DE",
    ),
    Shopper(
        0,
        "Kenji",
        "Watanabe",
        "kenji.watanabe@example.jp",
        "",
        "400 Queen Street West",
        "Toronto",
        "Ontario",
        "M5V 2A8",
        "Canada",
        "CA",
    ),
    Shopper(
        27,
        "Grace",
        "Hopper",
        "grace.hopper@example.com",
        "718-555-0175",
        "12 Bleecker Street",
        "New York",
        "New York",
        "10012",
        "United States",
        "US",
    ),
)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an order: a catalogue product (or a custom one, ``product_id`` 0)."""

    id: int
    product_id: int
    name: str
    sku: str
    brand: str
    price: Decimal
    quantity: int
    option: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Coupon:
    """A coupon code used on an order, and what it took off."""

    id: int
    coupon_id: int
    code: str
    amount: Decimal


@dataclass(slots=True)
class SimulatedOrder:
    """One order of the simulated store; times are aware UTC, kept to the second."""

    id: int
    status_id: int
    created: datetime
    modified: datetime
    shopper: Shopper
    email: str
    lines: list[Line]
    shipping_cost: Decimal = Decimal(0)
    coupon: Coupon | None = None
    refunded: Decimal = Decimal(0)
    shipped: datetime | None = None
    is_deleted: bool = False
    is_email_opt_in: bool = False
    payment_method: str = "Credit Card"
    order_source: str = "www"
    customer_message: str = ""
    staff_notes: str = ""
    cart_id: str = field(default="")
    refunds: int = 0  # how many refunds were made (their ids come from the store)

    def subtotal(self) -> Decimal:
        return sum((line.price * line.quantity for line in self.lines), Decimal(0))

    def coupon_discount(self) -> Decimal:
        return self.coupon.amount if self.coupon else Decimal(0)

    def total(self) -> Decimal:
        return self.subtotal() + self.shipping_cost - self.coupon_discount()

    def items(self) -> int:
        return sum(line.quantity for line in self.lines)
