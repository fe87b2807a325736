"""Shift4Shop orders as a store keeps them, and as ``GET /3dCartWebAPI/v1/Orders`` writes them.

The written order has the API's PascalCase keys in the order of the official object definitions,
money as JSON numbers (so ``59.90`` comes out ``59.9``), and every time as the store's wall clock
without an offset (``2026-11-01T01:30:00``), in the store's time zone. A checkout not completed
(status 7) is an order too, with invoice number 0 until it completes. The customers and products
are demo data: a handful of repeat customers with US addresses, and a small outdoor-goods
catalogue whose descriptions carry HTML, as Shift4Shop's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "CUSTOM_SLOTS",
    "NOT_COMPLETED",
    "SHIPPED",
    "STATUSES",
    "Line",
    "OrderStatus",
    "SimulatedOrder",
    "build_order",
    "new_order",
    "order_lines",
]

_Local = Callable[[datetime | None], str]


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """One order status (an order queue of the admin), as ``GET /OrderStatus`` lists it."""

    id: int
    definition: str
    text: str
    visible: bool = True

    def as_json(self, sorting: int) -> dict[str, Any]:
        return {
            "OrderStatusID": self.id,
            "Sorting": sorting,
            "StatusDefinition": self.definition,
            "StatusText": self.text,
            "Visible": self.visible,
        }


# The queues of a new store (SkuVault's and ShipWorks' enums agree on 1-11; Review is 12 in
# SkuVault's, 13 in ShipWorks'). 8-10 are custom slots, hidden until a merchant names one.
STATUSES = (
    OrderStatus(1, "New", "New"),  # placed, not yet worked on
    OrderStatus(2, "Processing", "Processing"),  # paid, being prepared
    OrderStatus(3, "Partial", "Partially Shipped"),  # some shipments sent
    OrderStatus(4, "Shipped", "Shipped"),  # fulfilled
    OrderStatus(5, "Cancel", "Cancelled"),  # cancelled by the merchant
    OrderStatus(6, "Hold", "On Hold"),  # held for review or stock
    OrderStatus(7, "NotCompleted", "Not Completed"),  # an abandoned checkout
    OrderStatus(8, "Custom1", "Custom1", visible=False),
    OrderStatus(9, "Custom2", "Custom2", visible=False),
    OrderStatus(10, "Custom3", "Custom3", visible=False),
    OrderStatus(11, "Unpaid", "Unpaid"),  # awaiting an offline payment
    OrderStatus(12, "Review", "Review"),  # flagged by fraud screening
)
CUSTOM_SLOTS = frozenset({8, 9, 10})
NOT_COMPLETED = "7"
SHIPPED = "4"
_PAID = frozenset({"2", "3", "4"})


@dataclass(frozen=True, slots=True)
class _Customer:
    first_name: str
    last_name: str
    email: str
    phone: str
    address: str
    address2: str
    city: str
    state: str
    zip: str


_CUSTOMERS = (
    _Customer("Grace", "Hopper", "grace.hopper@example.com", "305-555-0143",
              "1200 Brickell Ave", "Apt 1804", "Miami", "FL", "33131"),
    _Customer("Alan", "Turing", "alan.turing@example.net", "212-555-0178",
              "350 5th Ave", "", "New York", "NY", "10118"),
    _Customer("Katherine", "Johnson", "k.johnson@example.org", "757-555-0112",
              "24 Langley Blvd", "", "Hampton", "VA", "23681"),
    _Customer("Margaret", "Hamilton", "mhamilton@example.com", "617-555-0190",
              "77 Massachusetts Ave", "Bldg 10", "Cambridge", "MA", "02139"),
    _Customer("Dorothy", "Vaughan", "dvaughan@example.com", "804-555-0131",
              "600 E Broad St", "", "Richmond", "VA", "23219"),
    _Customer("Claude", "Shannon", "claude.shannon@example.net", "415-555-0166",
              "1 Market St", "Suite 300", "San Francisco", "CA", "94105"),
    _Customer("Hedy", "Lamarr", "hedy.lamarr@example.com", "310-555-0157",
              "9641 Sunset Blvd", "", "Beverly Hills", "CA", "90210"),
    _Customer("Edsger", "Dijkstra", "edsger@example.org", "512-555-0104",
              "110 Inner Campus Dr", "", "Austin", "TX", "78712"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an order: a catalogue product, its options' price beside its own."""

    catalog_id: int
    sku: str
    description: str  # HTML, as the storefront shows it
    quantity: int
    unit_price: Decimal
    option_price: Decimal = Decimal(0)
    image: str = ""  # relative to the store, as Shift4Shop writes image paths
    weight: Decimal = Decimal("0.5")

    @property
    def total(self) -> Decimal:
        return (self.unit_price + self.option_price) * self.quantity


_CATALOGUE = (
    Line(101, "TEE-ORG-NVY-M", "Organic Cotton Tee<br><b>Color:</b> Navy, <b>Size:</b> M",
         1, Decimal("24.00"), image="assets/images/tee-organic-navy.jpg"),
    Line(102, "MUG-ENAMEL-12", "Enamel Camp Mug &ndash; 12 oz", 1, Decimal("16.50"),
         image="assets/images/mug-enamel.jpg"),
    Line(103, "NOTE-LTHR-A5", "Leather Notebook A5<br><b>Monogram:</b> Yes", 1,
         Decimal("32.00"), Decimal("5.00"), image="assets/images/notebook-leather.jpg"),
    Line(104, "SOCK-MERINO-L", "Merino Hiking Socks (2 pairs)", 1, Decimal("18.00"),
         image="assets/images/socks-merino.jpg"),
    Line(105, "BTL-STEEL-750", "Steel Bottle &amp; Straw Lid, 750 ml", 1, Decimal("27.50"),
         image="assets/images/bottle-steel.jpg"),
    Line(106, "CAP-WOOL-OLV", "Wool Baseball Cap<br><b>Color:</b> Olive", 1, Decimal("29.95"),
         image="assets/images/cap-wool-olive.jpg"),
)  # fmt: skip
_SHIPPING = Decimal("5.95")
_COUPON = "WELCOME10"
_CENT = Decimal("0.01")


@dataclass(slots=True)
class SimulatedOrder:
    """One order of the simulated store; times are aware (UTC) and kept to the second."""

    id: int
    invoice_number: int  # 0 while the checkout is not completed
    status: str  # the OrderStatusID, as a string
    created: datetime
    modified: datetime
    lines: list[Line]
    email: str
    shipping: Decimal = _SHIPPING
    coupon: str | None = None
    discount: Decimal = Decimal(0)
    shipped: datetime | None = None
    customer_id: int = 0  # 0: a guest checkout

    @property
    def customer(self) -> _Customer:
        return _CUSTOMERS[self.id % len(_CUSTOMERS)]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount + self.shipping


def order_lines(order_id: int, count: int | None, total: Decimal | None) -> list[Line]:
    """The lines of a new order: catalogue products, or ``total`` shared by single items."""
    size = count or 1 + order_id % 3
    picked = [_CATALOGUE[(order_id + index) % len(_CATALOGUE)] for index in range(size)]
    if total is None:
        return [
            replace(line, quantity=1 + (order_id + index) % 2) for index, line in enumerate(picked)
        ]
    cents = int((total / _CENT).to_integral_value(ROUND_HALF_UP))
    return [
        replace(
            line,
            quantity=1,
            unit_price=Decimal(cents // size + (cents % size if index == size - 1 else 0)) * _CENT,
            option_price=Decimal(0),
        )
        for index, line in enumerate(picked)
    ]


def new_order(
    order_id: int,
    invoice_number: int,
    status: str,
    created: datetime,
    modified: datetime,
    *,
    email: str | None,
    lines: int | None,
    total: Decimal | None,
) -> SimulatedOrder:
    """A checkout's order: a coupon on every fourth, free shipping when ``total`` is given."""
    order = SimulatedOrder(
        id=order_id,
        invoice_number=invoice_number,
        status=status,
        created=created,
        modified=modified,
        lines=order_lines(order_id, lines, total),
        email=email or _CUSTOMERS[order_id % len(_CUSTOMERS)].email,
        customer_id=0 if order_id % 5 == 0 else 1000 + order_id % len(_CUSTOMERS),
    )
    if total is not None:
        order.shipping = Decimal(0)
    elif order_id % 4 == 0:
        order.coupon = _COUPON
        order.discount = (order.subtotal / 10).quantize(_CENT, ROUND_HALF_UP)
    if status == SHIPPED:
        order.shipped = modified
    return order


def build_order(order: SimulatedOrder, *, zone: tzinfo, invoice_prefix: str = "") -> dict[str, Any]:
    """The order as the API writes it, for a store whose wall clock is in ``zone``."""

    def local(moment: datetime | None) -> str:
        # DateTime.MinValue where a date was never set.
        if moment is None:
            return "0001-01-01T00:00:00"
        return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")

    buyer = order.customer
    completed = order.status != NOT_COMPLETED
    paid = order.status in _PAID
    return {
        "InvoiceNumberPrefix": invoice_prefix,
        "InvoiceNumber": order.invoice_number,
        "OrderID": order.id,
        "CustomerID": order.customer_id,
        "OrderDate": local(order.created),
        "OrderStatusID": int(order.status),
        "LastUpdate": local(order.modified),
        "UserID": "",
        "SalesPerson": "",
        "ContinueURL": "",
        "AlternateOrderID": "",
        "OrderType": "",
        "PaymentTokenID": 0,
        "BillingFirstName": buyer.first_name,
        "BillingLastName": buyer.last_name,
        "BillingCompany": "",
        "BillingAddress": buyer.address,
        "BillingAddress2": buyer.address2,
        "BillingCity": buyer.city,
        "BillingState": buyer.state,
        "BillingZipCode": buyer.zip,
        "BillingCountry": "US",
        "BillingPhoneNumber": buyer.phone,
        "BillingEmail": order.email,
        "BillingPaymentMethod": "Online Credit Card" if completed else "",
        "BillingOnLinePayment": completed,
        "BillingPaymentMethodID": "1" if completed else "",
        "ShipmentList": [_shipment(order, local)],
        "OrderItemList": [
            _item(order, index, line, local) for index, line in enumerate(order.lines)
        ],
        "PromotionList": [
            {
                "PromotionID": 7,
                "PromotionName": "Welcome offer: 10% off",
                "Coupon": order.coupon,
                "DiscountAmount": float(order.discount),
            }
        ]
        if order.coupon
        else [],
        "OrderDiscount": float(order.discount),
        "OrderDiscountCoupon": float(order.discount),
        "OrderDiscountPromotion": 0.0,
        "SalesTax": 0.0,
        "SalesTax2": 0.0,
        "SalesTax3": 0.0,
        "OrderAmount": float(order.total),
        "AffiliateCommission": 0.0,
        "TransactionList": [_transaction(order, local)] if paid else [],
        "CardType": "Visa" if completed else "",
        "CardNumber": "************1111" if completed else "",
        "CardName": f"{buyer.first_name} {buyer.last_name}" if completed else "",
        "CardExpirationMonth": "08" if completed else "",
        "CardExpirationYear": "2029" if completed else "",
        "CardIssueNumber": "",
        "CardStartMonth": "",
        "CardStartYear": "",
        "CardAddress": buyer.address if completed else "",
        "CardVerification": "",
        "RewardPoints": "0",
        "QuestionList": [],
        "Referer": "https://www.google.com/",
        "IP": f"203.0.113.{order.id % 250 + 1}",
        "CustomerComments": "",
        "InternalComments": "",
        "ExternalComments": "",
    }


def _shipment(order: SimulatedOrder, local: _Local) -> dict[str, Any]:
    buyer = order.customer
    return {
        "ShipmentID": order.id * 10 + 1,
        "ShipmentLastUpdate": local(order.modified),
        "ShipmentBoxes": 1,
        "ShipmentInternalComment": "",
        "ShipmentOrderStatus": int(order.status),
        "ShipmentAddress": buyer.address,
        "ShipmentAddress2": buyer.address2,
        "ShipmentAlias": "",
        "ShipmentCity": buyer.city,
        "ShipmentCompany": "",
        "ShipmentCost": float(order.shipping),
        "ShipmentCountry": "US",
        "ShipmentEmail": order.email,
        "ShipmentFirstName": buyer.first_name,
        "ShipmentLastName": buyer.last_name,
        "ShipmentMethodID": 2,
        "ShipmentMethodName": "Free Shipping" if not order.shipping else "USPS Priority Mail",
        "ShipmentShippedDate": local(order.shipped)[:10] if order.shipped else "",
        "ShipmentPhone": buyer.phone,
        "ShipmentState": buyer.state,
        "ShipmentZipCode": buyer.zip,
        "ShipmentTax": 0.0,
        "ShipmentWeight": float(sum((line.weight * line.quantity for line in order.lines), 0)),
        "ShipmentTrackingCode": f"9400111899223{order.id:09d}" if order.shipped else "",
        "ShipmentUserID": "",
        "ShipmentNumber": 1,
        "ShipmentAddressTypeID": 0,
    }


def _item(order: SimulatedOrder, index: int, line: Line, local: _Local) -> dict[str, Any]:
    return {
        "CatalogID": line.catalog_id,
        "ItemIndexID": order.id * 100 + index + 1,
        "ItemID": line.sku,
        "ItemShipmentID": order.id * 10 + 1,
        "ItemQuantity": float(line.quantity),
        "ItemWarehouseID": 0,
        "ItemDescription": line.description,
        "ItemUnitPrice": float(line.unit_price),
        "ItemWeight": float(line.weight),
        "ItemOptionPrice": float(line.option_price),
        "ItemAdditionalField1": "",
        "ItemAdditionalField2": "",
        "ItemAdditionalField3": "",
        "ItemPageAdded": f"product.asp?itemid={line.catalog_id}",
        "ItemDateAdded": local(order.created),
        "ItemUnitCost": float((line.unit_price * Decimal("0.45")).quantize(_CENT)),
        "ItemUnitStock": 40 + line.catalog_id % 17,
        "ItemOptions": "",
        "ItemCatalogIDOptions": "",
        "ItemSerial": "",
        "ItemImage1": line.image,
        "ItemImage2": "",
        "ItemImage3": "",
        "ItemImage4": "",
        "ItemWarehouseLocation": "",
        "ItemWarehouseBin": "",
        "ItemWarehouseAisle": "",
        "ItemWarehouseCustom": "",
        "RecurringOrderFrequency": "",
    }


def _transaction(order: SimulatedOrder, local: _Local) -> dict[str, Any]:
    return {
        "TransactionIndexID": order.id * 10 + 1,
        "OrderID": order.id,
        "TransactionID": f"{60000000000 + order.id}",
        "TransactionDateTime": local(order.created),
        "TransactionType": "Authorize & Capture",
        "TransactionMethod": "Credit Card",
        "TransactionAmount": float(order.total),
        "TransactionApproval": f"{order.id:06d}"[-6:],
        "TransactionReference": "",
        "TransactionGatewayID": 1,
        "TransactionCVV2": "M",
        "TransactionAVS": "Y",
        "TransactionResponseText": "APPROVED",
        "TransactionResponseCode": "1",
        "TransactionCaptured": 1,
    }
