"""WooCommerce orders as a store keeps them, and as ``GET /wp-json/wc/v3/orders/{id}`` writes them.

The written order has the API's keys in the API's order, money as decimal strings, a line's
``price`` as PHP's float (total / quantity), and each date twice: in the site's timezone without
an offset (``date_created``) and in GMT (``date_created_gmt``). The products are synthetic: a
tee bought once on even lines, a hoodie variation bought twice on odd ones, sharing the total.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any

__all__ = [
    "CORE_STATUSES",
    "PAID_STATUSES",
    "WC_VERSION",
    "WP_VERSION",
    "Refund",
    "SimulatedOrder",
    "build_order",
    "placed_order",
]

WC_VERSION = "9.8.5"
WP_VERSION = "6.8.1"
# wc_get_order_statuses() without the "wc-" prefix, plus what the REST API accepts besides.
CORE_STATUSES = (
    "pending",  # created, awaiting payment
    "processing",  # paid, awaiting fulfilment (virtual-only orders may skip to completed)
    "on-hold",  # awaiting an offline payment (bank transfer, cheque)
    "completed",  # fulfilled
    "cancelled",  # cancelled by the shop or the customer, or unpaid in time
    "refunded",  # refunded in full
    "failed",  # the payment failed or was declined
    "checkout-draft",  # a block checkout not submitted yet
)
# wc_get_is_paid_statuses(): these get a date_paid when an order enters them.
PAID_STATUSES = ("processing", "completed")
# An order placed in one of these was paid at checkout (a refunded order was paid first).
_PAID_AT_CHECKOUT = (*PAID_STATUSES, "refunded")
_BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund of an order (WooCommerce keeps it as a child order of its own)."""

    id: int
    amount: Decimal
    reason: str
    created: datetime
    refunded_payment: bool = False


@dataclass(slots=True)
class SimulatedOrder:
    """One order of the simulated store; times are aware and kept to the second."""

    id: int
    status: str
    created: datetime
    modified: datetime
    email: str = "buyer@example.com"
    lines: int = 2
    total: str = "59.90"
    paid: datetime | None = None
    completed: datetime | None = None
    refunds: list[Refund] = field(default_factory=list)  # newest first, as the API lists them
    payment_method: str = "bacs"
    payment_method_title: str = "Direct bank transfer"
    customer_note: str = ""
    created_via: str = "checkout"  # "rest-api" for orders created through the API

    def refunded(self) -> Decimal:
        """The amount refunded so far."""
        return sum((refund.amount for refund in self.refunds), Decimal(0))


def placed_order(
    order_id: int,
    status: str,
    created: datetime,
    modified: datetime,
    *,
    email: str,
    lines: int,
    total: str,
) -> SimulatedOrder:
    """An order placed at ``created`` and in ``status`` since ``modified``, with the dates that
    status implies: paid at checkout, completed when it last changed."""
    order = SimulatedOrder(order_id, status, created, modified, email, lines, total)
    if status in _PAID_AT_CHECKOUT:
        order.paid = created
    if status == "completed":
        order.completed = modified
    return order


def build_order(
    order: SimulatedOrder,
    *,
    site_url: str = "https://shop.example.com",
    site_timezone: tzinfo = UTC,
) -> dict[str, Any]:
    """The order as the REST API returns it, for a site at ``site_url`` in ``site_timezone``."""
    home = site_url.rstrip("/") + "/"
    order_id = order.id

    def local(moment: datetime | None) -> str | None:
        # The site's wall clock without an offset: wc_rest_prepare_date_response( $d, false ).
        return None if moment is None else _format(moment.astimezone(site_timezone))

    def gmt(moment: datetime | None) -> str | None:
        return None if moment is None else _format(moment.astimezone(UTC))

    order_key = "wc_order_" + hashlib.sha256(str(order_id).encode()).hexdigest()[:13]
    address = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "",
        "address_1": "969 Market Street",
        "address_2": "Suite 4",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
    }
    return {
        "id": order_id,
        "parent_id": 0,
        "status": order.status,
        "currency": "USD",
        "version": WC_VERSION,
        "prices_include_tax": False,
        "date_created": local(order.created),
        "date_modified": local(order.modified),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": order.total,
        "total_tax": "0.00",
        "customer_id": 0,
        "order_key": order_key,
        "billing": address | {"email": order.email, "phone": "(555) 555-0199"},
        "shipping": address | {"phone": ""},
        "payment_method": order.payment_method,
        "payment_method_title": order.payment_method_title,
        "transaction_id": "",
        "customer_ip_address": "203.0.113.7",
        "customer_user_agent": _BROWSER,
        "created_via": order.created_via,
        "customer_note": order.customer_note,
        "date_completed": local(order.completed),
        "date_paid": local(order.paid),
        "cart_hash": hashlib.md5(order_key.encode(), usedforsecurity=False).hexdigest(),
        "number": str(order_id),
        "meta_data": [{"id": order_id * 10, "key": "is_vat_exempt", "value": "no"}],
        "line_items": _line_items(order_id, order.lines, Decimal(order.total), home),
        "tax_lines": [],
        "shipping_lines": [
            {
                "id": order_id * 100 + 99,
                "method_title": "Free shipping",
                "method_id": "free_shipping",
                "instance_id": "2",
                "total": "0.00",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [
            {"id": refund.id, "reason": refund.reason, "total": f"-{refund.amount:.2f}"}
            for refund in order.refunds
        ],
        "payment_url": f"{home}checkout/order-pay/{order_id}/?pay_for_order=true&key={order_key}",
        "is_editable": order.status in ("pending", "on-hold", "checkout-draft"),
        "needs_payment": order.status in ("pending", "failed"),
        "needs_processing": True,
        "date_created_gmt": gmt(order.created),
        "date_modified_gmt": gmt(order.modified),
        "date_completed_gmt": gmt(order.completed),
        "date_paid_gmt": gmt(order.paid),
        "currency_symbol": "$",
        "_links": {
            "self": [
                {
                    "href": f"{home}wp-json/wc/v3/orders/{order_id}",
                    "targetHints": {"allow": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                }
            ],
            "collection": [{"href": f"{home}wp-json/wc/v3/orders"}],
        },
    }


def _format(moment: datetime) -> str:
    # As strftime("%Y-%m-%dT%H:%M:%S"), several times faster: a page has hundreds of dates.
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def _line_items(order_id: int, count: int, total: Decimal, home: str) -> list[dict[str, Any]]:
    cents = int(total * 100)
    items = []
    for index in range(count):
        share = cents // count + (cents % count if index == count - 1 else 0)
        line_total = f"{Decimal(share) / 100:.2f}"
        variation = index % 2 == 1
        quantity = 2 if variation else 1
        product_id = 100 + index
        items.append(
            {
                "id": order_id * 100 + index + 1,
                "name": "Hoodie - Blue, M" if variation else f"Organic Cotton Tee {index + 1}",
                "product_id": product_id,
                "variation_id": product_id + 1000 if variation else 0,
                "quantity": quantity,
                "tax_class": "",
                "subtotal": line_total,
                "subtotal_tax": "0.00",
                "total": line_total,
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": _variation_meta(order_id * 100 + index) if variation else [],
                "sku": f"HOODIE-{product_id}-BLUE-M" if variation else f"TEE-{product_id}",
                # PHP: $item->get_total() / $item->get_quantity(), a float.
                "price": float(line_total) / quantity,
                "image": {"id": 500 + index, "src": f"{home}wp-content/uploads/p{product_id}.jpg"},
                "parent_name": "Hoodie" if variation else None,
            }
        )
    return items


def _variation_meta(first_id: int) -> list[dict[str, Any]]:
    return [
        {
            "id": first_id * 10 + 1,
            "key": "pa_color",
            "value": "blue",
            "display_key": "Color",
            "display_value": "Blue",
        },
        {
            "id": first_id * 10 + 2,
            "key": "pa_size",
            "value": "m",
            "display_key": "Size",
            "display_value": "M",
        },
    ]
