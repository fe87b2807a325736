"""Magento 2 orders as a store keeps them, and as ``GET /rest/V1/orders/{id}`` writes them.

The written order follows ``sales-data-order-interface`` (the admin schema of
``AdobeDocs/commerce-webapi``) and the sample in its order tutorial: money and quantities as JSON
floats (PHP 7.1+ ``json_encode`` of the declared ``float``: ``165.0``, ``19.99``), ids as
integers, times in UTC as ``Y-m-d H:i:s``, the billing address on the order and the shipping
address in ``extension_attributes.shipping_assignments``. Products come from a small catalogue in
the spirit of Magento's Luma sample data: simple products, configurable ones (a priced parent
line and a zero-priced child line naming the variant) and a bundle (a parent line and one
priced line per part).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "CORE_STATUSES",
    "MAGENTO_VERSION",
    "STATE_OF",
    "STORES",
    "HistoryEntry",
    "SimulatedOrder",
    "Store",
    "build_order",
    "customer_email",
    "magento_time",
]

MAGENTO_VERSION = "2.4.8"
# InstallOrderStatusesAndInitialSalesConfig: each core status and the state it belongs to (a
# status may serve several states: `fraud` is under processing and payment_review).
STATE_OF = {
    "pending": "new",  # placed, awaiting an offline payment or the merchant's review
    "pending_payment": "pending_payment",  # sent to a payment gateway, not back yet
    "processing": "processing",  # paid (invoiced), awaiting shipment
    "holded": "holded",  # put on hold by the merchant
    "complete": "complete",  # invoiced and shipped
    "closed": "closed",  # refunded in full (a credit memo for everything)
    "canceled": "canceled",  # cancelled before it was paid or shipped
    "fraud": "payment_review",  # the gateway suspects fraud
    "payment_review": "payment_review",  # the gateway is reviewing the payment
}
CORE_STATUSES = tuple(STATE_OF)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Store:
    """A store view: its id, code, name (as ``store_name`` writes it) and display currency."""

    id: int
    code: str
    name: str
    currency: str
    rate: Decimal  # base (USD) to this currency


STORES = (
    Store(1, "default", "Main Website\nMain Website Store\nDefault Store View", "USD", Decimal(1)),
    Store(2, "eu", "Main Website\nMain Website Store\nEuro Store View", "EUR", Decimal("0.92")),
)
BASE_CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class _Customer:
    first: str
    last: str
    street: tuple[str, ...]
    city: str
    region: str | None
    region_code: str | None
    region_id: int | None
    postcode: str
    country: str
    telephone: str

    @property
    def email(self) -> str:
        # "Mateo García" shops as mateo.garcia@example.com: accents and apostrophes dropped.
        name = unicodedata.normalize("NFKD", f"{self.first}.{self.last}".lower())
        return (
            "".join(c for c in name if c.isascii() and (c.isalnum() or c == ".")) + "@example.com"
        )


_CUSTOMERS = (
    _Customer(
        "Veronica",
        "Costello",
        ("6146 Honey Bluff Parkway",),
        "Calder",
        "Michigan",
        "MI",
        33,
        "49628-7978",
        "US",
        "(555) 229-3326",
    ),
    _Customer(
        "Jane",
        "Doe",
        ("123 Oak Ave", "Apt 4B"),
        "Purchase",
        "New York",
        "NY",
        43,
        "10577",
        "US",
        "512-555-1111",
    ),
    _Customer(
        "Emma",
        "Schmidt",
        ("Hauptstraße 12",),
        "Berlin",
        "Berlin",
        "BER",
        82,
        "10115",
        "DE",
        "+49 30 1234567",
    ),
    _Customer(
        "Liam",
        "O'Connor",
        ("14 Grafton Street",),
        "Dublin",
        None,
        None,
        None,
        "D02 XY45",
        "IE",
        "+353 1 555 0142",
    ),
    _Customer(
        "Sofia",
        "Rossi",
        ("Via Roma 45",),
        "Milano",
        "Milano",
        "MI",
        None,
        "20121",
        "IT",
        "+39 02 5550 1234",
    ),
    _Customer(
        "Mateo",
        "García",
        ("Calle de Alcalá 50", "3º Izq."),
        "Madrid",
        "Madrid",
        "M",
        161,
        "28014",
        "ES",
        "+34 915 55 01 23",
    ),
)
# (method code, title as additional_information[0] writes it)
_PAYMENTS = (
    ("checkmo", "Check / Money order"),
    ("braintree", "Credit Card (Braintree)"),
    ("banktransfer", "Bank Transfer Payment"),
)


@dataclass(frozen=True, slots=True)
class _Part:
    sku: str
    name: str
    product_id: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class _Product:
    """A catalogue product: ``simple``, ``configurable`` (parts are its variants) or
    ``bundle`` (parts are its components, which share its price)."""

    type: str
    sku: str
    name: str
    product_id: int
    price: Decimal
    parts: tuple[_Part, ...] = ()


def _configurable(
    sku: str, name: str, product_id: int, price: Decimal, *variants: tuple[str, int]
) -> _Product:
    """A configurable product and its variants, each given as its options and product id:
    Magento names a variant after its parent and options (``MH01-M-Gray``, ``Chaz Kangeroo
    Hoodie-M-Gray``), and charges the parent's price for it."""
    parts = tuple(
        _Part(f"{sku}-{options}", f"{name}-{options}", part_id, Decimal(0))
        for options, part_id in variants
    )
    return _Product("configurable", sku, name, product_id, price, parts)


_CATALOGUE = (
    _Product("simple", "24-MB01", "Joust Duffle Bag", 1, Decimal(34)),
    _configurable("MH01", "Chaz Kangeroo Hoodie", 67, Decimal(52), ("M-Gray", 56), ("L-Black", 60)),
    _Product("simple", "24-UG06", "Affirm Water Bottle", 19, Decimal(7)),
    _Product(
        "bundle",
        "24-WG080",
        "Sprite Yoga Companion Kit",
        51,
        Decimal(22),
        (
            _Part("24-WG084", "Sprite Foam Yoga Brick", 21, Decimal(5)),
            _Part("24-WG086", "Sprite Yoga Strap 8 foot", 34, Decimal(17)),
        ),
    ),
    _configurable("WS12", "Radiant Tee", 1562, Decimal(22), ("M-Orange", 1553), ("S-Blue", 1548)),
    _Product("simple", "24-MB02", "Fusion Backpack", 6, Decimal(59)),
)
_FLAT_RATE = Decimal(5)  # Magento's default flat rate: $5.00 per item
_COUPON = ("WELCOME10", Decimal("0.10"))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One ``status_histories`` entry: a status change recorded on the order."""

    id: int
    status: str
    created: datetime
    comment: str | None = None


@dataclass(slots=True)
class SimulatedOrder:
    """One order of the simulated store; times are aware and kept to the second.

    ``total`` is the grand total in the order's currency (the store view's); ``lines`` how many
    products were bought (a configurable product or a bundle writes more than one item).
    """

    entity_id: int
    increment_id: str
    status: str
    state: str
    created: datetime
    updated: datetime
    email: str
    customer: int  # index into the customer list
    guest: bool
    lines: int
    total: Decimal | None  # None: priced from the catalogue, with shipping and a coupon
    store: Store = STORES[0]
    histories: list[HistoryEntry] = field(default_factory=list)  # newest first


@dataclass(frozen=True, slots=True)
class _Item:
    product: _Product | _Part
    kind: str
    quantity: int
    price: Decimal
    parent: int | None  # index of the parent item in the order's list


def customer_email(customer: int) -> str:
    """The email of a customer of the sample list (``customer`` wraps around it)."""
    return _CUSTOMERS[customer % len(_CUSTOMERS)].email


def magento_time(moment: datetime) -> str:
    """A time as the REST API writes it: UTC, ``Y-m-d H:i:s``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _money(amount: Decimal) -> float:
    # The service layer casts each decimal(20,4) column to the interface's `float`.
    return float(amount)


def _items(order: SimulatedOrder, subtotal: Decimal | None) -> list[_Item]:
    """The order's items, parents before their children: priced from the catalogue (a simple
    product bought twice on every other line), or so that the lines share ``subtotal`` to the
    cent."""
    chosen = [
        _CATALOGUE[(order.entity_id + index) % len(_CATALOGUE)] for index in range(order.lines)
    ]
    if subtotal is None:
        quantities = [
            1 + index % 2 if product.type == "simple" else 1 for index, product in enumerate(chosen)
        ]
        shares = [product.price * qty for product, qty in zip(chosen, quantities, strict=True)]
    else:
        cents, count = int(subtotal / _CENT), len(chosen)
        quantities = [1] * count
        shares = [
            Decimal(cents // count + (cents % count if index == count - 1 else 0)) * _CENT
            for index in range(count)
        ]
    items: list[_Item] = []
    for product, share, quantity in zip(chosen, shares, quantities, strict=True):
        parent = len(items)
        items.append(_Item(product, product.type, quantity, share / quantity, None))
        if product.type == "configurable":
            variant = product.parts[order.entity_id % len(product.parts)]
            items.append(_Item(variant, "simple", quantity, Decimal(0), parent))
        elif product.type == "bundle":
            listed = sum((part.price for part in product.parts), Decimal(0))
            left = share
            for number, part in enumerate(product.parts):
                last = number == len(product.parts) - 1
                price = (
                    left if last else (share * part.price / listed).quantize(_CENT, ROUND_HALF_UP)
                )
                left -= price
                items.append(_Item(part, "simple", quantity, price, parent))
    return items


def build_order(order: SimulatedOrder) -> dict[str, Any]:
    """The order as ``GET /rest/V1/orders/{id}`` returns it."""
    store = order.store
    customer = _CUSTOMERS[order.customer % len(_CUSTOMERS)]
    if order.total is None:
        # Catalogue prices in the store view's currency, $5 shipping per item, every fourth
        # order with a 10% coupon.
        items = [
            replace(item, price=(item.price * store.rate).quantize(_CENT, ROUND_HALF_UP))
            for item in _items(order, None)
        ]
        top = [item for item in items if item.parent is None]
        subtotal = sum((item.price * item.quantity for item in top), Decimal(0))
        shipping = (_FLAT_RATE * sum(i.quantity for i in top) * store.rate).quantize(
            _CENT, ROUND_HALF_UP
        )
        coupon = _COUPON[0] if order.entity_id % 4 == 0 else None
        discount = -(subtotal * _COUPON[1]).quantize(_CENT, ROUND_HALF_UP) if coupon else Decimal(0)
        grand_total = subtotal + shipping + discount
    else:
        # A total asked for: free shipping, no coupon, the lines sharing it.
        grand_total = order.total
        subtotal, shipping, discount = grand_total, Decimal(0), Decimal(0)
        coupon = None
        items = _items(order, subtotal)
    base_total = (grand_total / store.rate).quantize(_CENT, ROUND_HALF_UP)
    paid = order.state in ("processing", "complete", "closed")
    refunded = grand_total if order.state == "closed" else Decimal(0)
    canceled = grand_total if order.state == "canceled" else Decimal(0)
    method, title = _PAYMENTS[order.entity_id % len(_PAYMENTS)]
    created, updated = magento_time(order.created), magento_time(order.updated)
    rendered_items = _render_items(
        order, items, created=created, updated=updated, discount=discount, subtotal=subtotal
    )
    address = _address(order, customer, "billing", order.entity_id * 2)
    shipping_address = _address(order, customer, "shipping", order.entity_id * 2 - 1)
    shipping_method = "flatrate_flatrate" if shipping else "freeshipping_freeshipping"
    body: dict[str, Any] = {
        "applied_rule_ids": "2" if coupon else None,
        "base_currency_code": BASE_CURRENCY,
        "base_discount_amount": _money(discount / store.rate),
        "base_grand_total": _money(base_total),
        "base_shipping_amount": _money(shipping / store.rate),
        "base_subtotal": _money(subtotal / store.rate),
        "base_tax_amount": 0.0,
        "base_to_global_rate": 1.0,
        "base_to_order_rate": _money(store.rate),
        "base_total_due": _money(Decimal(0) if paid or canceled else base_total),
        "base_total_paid": _money(base_total) if paid else None,
        "base_total_refunded": _money(refunded / store.rate) if refunded else None,
        "billing_address_id": order.entity_id * 2,
        "coupon_code": coupon,
        "created_at": created,
        "customer_email": order.email,
        "customer_firstname": customer.first,
        "customer_group_id": 0 if order.guest else 1,
        "customer_id": None if order.guest else 100 + order.customer % len(_CUSTOMERS),
        "customer_is_guest": 1 if order.guest else 0,
        "customer_lastname": customer.last,
        "customer_note_notify": 1,
        "discount_amount": _money(discount),
        "discount_description": coupon,
        "email_sent": 1,
        "entity_id": order.entity_id,
        "global_currency_code": BASE_CURRENCY,
        "grand_total": _money(grand_total),
        "increment_id": order.increment_id,
        "is_virtual": 0,
        "order_currency_code": store.currency,
        "protect_code": f"{order.entity_id * 7919:06x}"[-6:],
        "quote_id": order.entity_id + 1000,
        "remote_ip": "203.0.113.7",
        "shipping_amount": _money(shipping),
        "shipping_description": "Flat Rate - Fixed" if shipping else "Free Shipping - Free",
        "shipping_incl_tax": _money(shipping),
        "shipping_tax_amount": 0.0,
        "state": order.state,
        "status": order.status,
        "store_currency_code": BASE_CURRENCY,
        "store_id": store.id,
        "store_name": store.name,
        "store_to_base_rate": 0.0,
        "store_to_order_rate": 0.0,
        "subtotal": _money(subtotal),
        "subtotal_incl_tax": _money(subtotal),
        "tax_amount": 0.0,
        "total_canceled": _money(canceled) if canceled else None,
        "total_due": _money(Decimal(0) if paid or canceled else grand_total),
        "total_invoiced": _money(grand_total) if paid else None,
        "total_item_count": len(items),
        "total_offline_refunded": _money(refunded) if refunded else None,
        "total_paid": _money(grand_total) if paid else None,
        "total_qty_ordered": float(sum(i.quantity for i in items if i.parent is None)),
        "total_refunded": _money(refunded) if refunded else None,
        "updated_at": updated,
        "weight": float(sum(i.quantity for i in items if i.parent is None)),
        "items": rendered_items,
        "billing_address": address,
        "payment": {
            "account_status": None,
            "additional_information": [title, ""],
            "amount_ordered": _money(grand_total),
            "amount_paid": _money(grand_total) if paid else None,
            "base_amount_ordered": _money(base_total),
            "base_shipping_amount": _money(shipping / store.rate),
            "cc_last4": "1111" if method == "braintree" else None,
            "entity_id": order.entity_id,
            "method": method,
            "parent_id": order.entity_id,
            "shipping_amount": _money(shipping),
        },
        "status_histories": [
            {
                "comment": entry.comment,
                "created_at": magento_time(entry.created),
                "entity_id": entry.id,
                "entity_name": "order",
                "is_customer_notified": 0,
                "is_visible_on_front": 0,
                "parent_id": order.entity_id,
                "status": entry.status,
            }
            for entry in order.histories
        ],
        "extension_attributes": {
            "shipping_assignments": [
                {
                    "shipping": {
                        "address": shipping_address,
                        "method": shipping_method,
                        "total": {
                            "base_shipping_amount": _money(shipping / store.rate),
                            "base_shipping_incl_tax": _money(shipping / store.rate),
                            "shipping_amount": _money(shipping),
                            "shipping_incl_tax": _money(shipping),
                            "shipping_tax_amount": 0.0,
                        },
                    },
                    "items": [item for item in rendered_items if "parent_item" not in item],
                }
            ],
            "payment_additional_info": [{"key": "method_title", "value": title}],
            "applied_taxes": [],
            "item_applied_taxes": [],
            "converting_from_quote": False,
        },
    }
    # The output processor leaves out what is null.
    return {key: value for key, value in body.items() if value is not None}


def _address(
    order: SimulatedOrder, customer: _Customer, kind: str, entity_id: int
) -> dict[str, Any]:
    address = {
        "address_type": kind,
        "city": customer.city,
        "country_id": customer.country,
        "customer_address_id": None if order.guest else 200 + order.customer % len(_CUSTOMERS),
        "email": order.email,
        "entity_id": entity_id,
        "firstname": customer.first,
        "lastname": customer.last,
        "parent_id": order.entity_id,
        "postcode": customer.postcode,
        "region": customer.region,
        "region_code": customer.region_code,
        "region_id": customer.region_id,
        "street": list(customer.street),
        "telephone": customer.telephone,
    }
    return {key: value for key, value in address.items() if value is not None}


def _render_items(
    order: SimulatedOrder,
    items: list[_Item],
    *,
    created: str,
    updated: str,
    discount: Decimal,
    subtotal: Decimal,
) -> list[dict[str, Any]]:
    shipped = order.state in ("complete", "closed")
    invoiced = order.state in ("processing", "complete", "closed")
    rate = order.store.rate
    rendered: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        row_total = item.price * item.quantity
        # The coupon's discount, spread over the priced top-level lines.
        line_discount = Decimal(0)
        if discount and item.parent is None and subtotal:
            line_discount = (-discount * row_total / subtotal).quantize(_CENT, ROUND_HALF_UP)
        quantity = float(item.quantity)
        entry: dict[str, Any] = {
            "amount_refunded": _money(row_total) if order.state == "closed" else 0.0,
            "base_discount_amount": _money(line_discount / rate),
            "base_original_price": _money(item.price / rate),
            "base_price": _money(item.price / rate),
            "base_price_incl_tax": _money(item.price / rate),
            "base_row_total": _money(row_total / rate),
            "base_row_total_incl_tax": _money(row_total / rate),
            "base_tax_amount": 0.0,
            "created_at": created,
            "discount_amount": _money(line_discount),
            "discount_percent": 10.0 if line_discount else 0.0,
            "free_shipping": 0,
            "is_qty_decimal": 0,
            "is_virtual": 0,
            "item_id": order.entity_id * 100 + index + 1,
            "name": item.product.name,
            "no_discount": 0,
            "order_id": order.entity_id,
            "original_price": _money(item.price),
            "price": _money(item.price),
            "price_incl_tax": _money(item.price),
            "product_id": item.product.product_id,
            "product_type": item.kind,
            "qty_canceled": quantity if order.state == "canceled" else 0.0,
            "qty_invoiced": quantity if invoiced else 0.0,
            "qty_ordered": quantity,
            "qty_refunded": quantity if order.state == "closed" else 0.0,
            "qty_shipped": quantity if shipped else 0.0,
            "quote_item_id": order.entity_id * 100 + index + 500,
            "row_total": _money(row_total),
            "row_total_incl_tax": _money(row_total),
            # A configurable parent carries its chosen variant's SKU.
            "sku": _sku(items, index),
            "store_id": order.store.id,
            "tax_amount": 0.0,
            "tax_percent": 0.0,
            "updated_at": updated,
            "weight": 1.0,
        }
        if item.parent is not None:
            entry["parent_item_id"] = order.entity_id * 100 + item.parent + 1
            entry["parent_item"] = {
                k: v for k, v in rendered[item.parent].items() if k != "parent_item"
            }
        rendered.append(entry)
    return rendered


def _sku(items: list[_Item], index: int) -> str:
    item = items[index]
    if item.kind == "configurable" and index + 1 < len(items):
        return items[index + 1].product.sku
    return item.product.sku
