"""BigCommerce's order resources as the Orders v2 API writes them, from what the store keeps
(``_bigcommerce_orders``).

``build_order`` writes ``GET /v2/orders/{id}`` (``order_Resp`` of BigCommerce's
``orders.v2.oas2.yml``): money as strings with four decimals (``"24.9500"``), dates in RFC 2822
and always in UTC (the spec: "This date time is always in UTC in the api response"), the order's
``id`` doubling as the number the shopper sees, and its line items, coupons and shipping
addresses as links to sub-resources, which ``build_products``, ``build_coupons`` and
``build_shipping_addresses`` write. Prices carry no tax: the store has none set up.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from email.utils import format_datetime
from typing import Any

from shoptrack.simulators._bigcommerce_orders import STATUSES, Line, Shopper, SimulatedOrder

__all__ = [
    "build_coupons",
    "build_order",
    "build_products",
    "build_shipping_addresses",
    "money",
    "rfc2822",
    "status_entry",
]


# The control panel's order of the statuses (`sort_order` in the OAS example of /orders/count).
_SORT_ORDER = (0, 1, 7, 11, 9, 8, 3, 10, 2, 5, 6, 4, 13, 12, 14)


# `payment_status` an order in each status shows; a guess from the statuses' meanings, since
# the spec lists the values but not which status goes with which.
_PAYMENT_STATUS = {
    0: "",
    1: "pending",
    7: "pending",
    4: "refunded",
    5: "void",
    6: "declined",
    12: "held for review",
    14: "partially refunded",
}


def money(amount: Decimal) -> str:
    """An amount as the API writes it: a string with four decimals."""
    return f"{amount.quantize(Decimal('0.0001'), rounding=ROUND_DOWN):.4f}"


def rfc2822(moment: datetime | None) -> str:
    """A time as the API writes it ("Wed, 10 Jan 2018 21:05:30 +0000"); unset is ``""``."""
    return "" if moment is None else format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def status_entry(status_id: int, labels: dict[int, str]) -> dict[str, Any]:
    """One status as ``GET /v2/order_statuses`` lists it, with the merchant's label if any."""
    name, description = STATUSES[status_id]
    return {
        "id": status_id,
        "name": name,
        "system_label": name,
        "custom_label": labels.get(status_id, name),
        "system_description": description,
        "sort_order": _SORT_ORDER.index(status_id),
    }


def _cost(name: str, amount: Decimal, *, tax_class: int) -> dict[str, Any]:
    """A cost as v2 writes it: its base amount, without and with tax (the same: the store
    charges none), the tax, and the tax class it falls in."""
    return {
        f"base_{name}": money(amount),
        f"{name}_ex_tax": money(amount),
        f"{name}_inc_tax": money(amount),
        f"{name}_tax": money(Decimal(0)),
        f"{name}_tax_class_id": tax_class,
    }


def _link(api_root: str, resource: str) -> dict[str, str]:
    return {"url": f"{api_root}/v2{resource}", "resource": resource}


def build_order(order: SimulatedOrder, *, api_root: str, labels: dict[int, str]) -> dict[str, Any]:
    """The order as ``GET /stores/{hash}/v2/orders/{id}`` returns it.

    Args:
        order: The stored order.
        api_root: ``https://api.bigcommerce.com/stores/{hash}`` as the request reached it.
        labels: The merchant's custom status labels, by status id.
    """
    shopper, status_id = order.shopper, order.status_id
    subtotal, total = order.subtotal(), order.total()
    shipped_items = order.items() if order.shipped else 0
    resource = f"/orders/{order.id}"
    return {
        "id": order.id,
        "customer_id": shopper.customer_id,
        "date_created": rfc2822(order.created),
        "date_modified": rfc2822(order.modified),
        "date_shipped": rfc2822(order.shipped),
        "status_id": status_id,
        "status": STATUSES[status_id][0],
        "subtotal_ex_tax": money(subtotal),
        "subtotal_inc_tax": money(subtotal),
        "subtotal_tax": money(Decimal(0)),
        **_cost("shipping_cost", order.shipping_cost, tax_class=2),
        **_cost("handling_cost", Decimal(0), tax_class=2),
        **_cost("wrapping_cost", Decimal(0), tax_class=3),
        "total_ex_tax": money(total),
        "total_inc_tax": money(total),
        "total_tax": money(Decimal(0)),
        "is_tax_inclusive_pricing": False,
        "items_total": order.items(),
        "items_shipped": shipped_items,
        "payment_method": order.payment_method,
        "payment_provider_id": "" if status_id in (0, 1) else f"ch_{order.id:08d}",
        "payment_status": _PAYMENT_STATUS.get(status_id, "captured"),
        "refunded_amount": money(order.refunded),
        "order_is_digital": False,
        "store_credit_amount": money(Decimal(0)),
        "gift_certificate_amount": money(Decimal(0)),
        "ip_address": f"203.0.113.{order.id % 250 + 1}",
        "ip_address_v6": "",
        "geoip_country": shopper.country,
        "geoip_country_iso2": shopper.country_iso2,
        "currency_id": 1,
        "currency_code": "USD",
        "currency_exchange_rate": "1.0000000000",
        "default_currency_id": 1,
        "default_currency_code": "USD",
        "staff_notes": order.staff_notes,
        "customer_message": order.customer_message,
        "discount_amount": money(Decimal(0)),
        "coupon_discount": money(order.coupon_discount()),
        "shipping_address_count": 1,
        "is_deleted": order.is_deleted,
        "ebay_order_id": "0",
        "cart_id": order.cart_id or str(uuid.UUID(bytes=_digest(f"cart{order.id}")[:16])),
        "billing_address": {
            **_addressee(shopper),
            "state": shopper.state,
            "zip": shopper.zip,
            "country": shopper.country,
            "country_iso2": shopper.country_iso2,
            "phone": shopper.phone,
            "email": order.email,
            "form_fields": [],
        },
        "is_email_opt_in": order.is_email_opt_in,
        "credit_card_type": None,
        "order_source": order.order_source,
        "channel_id": 1,
        "external_source": None,
        "products": _link(api_root, f"{resource}/products"),
        # The links write `shippingaddresses`; the documented path has an underscore. Both work.
        "shipping_addresses": _link(api_root, f"{resource}/shippingaddresses"),
        "coupons": _link(api_root, f"{resource}/coupons"),
        "external_id": None,
        "external_merchant_id": None,
        "tax_provider_id": "BasicTaxProvider",
        "customer_locale": "en",
        "external_order_id": "",
        "store_default_currency_code": "USD",
        "store_default_to_transactional_exchange_rate": "1.0000000000",
        "custom_status": labels.get(status_id, STATUSES[status_id][0]),
    }


def build_products(order: SimulatedOrder) -> list[dict[str, Any]]:
    """``GET /v2/orders/{id}/products``: the order's lines (``orderProducts``)."""
    products = []
    shipped = order.shipped is not None
    for line in order.lines:
        total = line.price * line.quantity
        options = []
        if line.option:
            name, value = line.option
            options.append(
                {
                    "id": line.id * 10 + 1,
                    "option_id": 18,
                    "order_product_id": line.id,
                    "product_option_id": 120 + line.product_id % 7,
                    "display_name": name,
                    "display_name_customer": name,
                    "display_name_merchant": name,
                    "display_value": value,
                    "display_value_customer": value,
                    "display_value_merchant": value,
                    "value": str(60 + line.product_id % 40),
                    "type": "Multiple choice",
                    "name": f"{name} {line.product_id}",
                    "display_style": "Rectangle",
                }
            )
        products.append(
            {
                "id": line.id,
                "order_id": order.id,
                "product_id": line.product_id,
                "variant_id": line.product_id + 1000 if line.product_id else 0,
                "order_pickup_method_id": 0,
                "order_address_id": _address_id(order),
                "name": line.name,
                "name_customer": line.name,
                "name_merchant": line.name,
                "sku": line.sku,
                "upc": "",
                "type": "physical",
                "base_price": money(line.price),
                "price_ex_tax": money(line.price),
                "price_inc_tax": money(line.price),
                "price_tax": money(Decimal(0)),
                "base_total": money(total),
                "total_ex_tax": money(total),
                "total_inc_tax": money(total),
                "total_tax": money(Decimal(0)),
                "weight": "1.0000",
                "width": "0.0000",
                "height": "0.0000",
                "depth": "0.0000",
                "quantity": line.quantity,
                "base_cost_price": money(line.price / 2),
                "cost_price_inc_tax": money(line.price / 2),
                "cost_price_ex_tax": money(line.price / 2),
                "cost_price_tax": money(Decimal(0)),
                "is_refunded": order.status_id == 4,
                "quantity_refunded": line.quantity if order.status_id == 4 else 0,
                "refund_amount": money(Decimal(0)),
                "return_id": 0,
                "wrapping_id": 0,
                "wrapping_name": "",
                "base_wrapping_cost": money(Decimal(0)),
                "wrapping_cost_ex_tax": money(Decimal(0)),
                "wrapping_cost_inc_tax": money(Decimal(0)),
                "wrapping_cost_tax": money(Decimal(0)),
                "wrapping_message": "",
                "quantity_shipped": line.quantity if shipped else 0,
                "event_name": None,
                "event_date": None,
                "fixed_shipping_cost": money(Decimal(0)),
                "ebay_item_id": "",
                "ebay_transaction_id": "",
                "option_set_id": 19 if line.option else None,
                "parent_order_product_id": None,
                "is_bundled_product": False,
                "bin_picking_number": "",
                "external_id": None,
                "brand": line.brand,
                "applied_discounts": _applied_discounts(order, line),
                "product_options": options,
                "configurable_fields": [],
                "gift_certificate_id": None,
                "discounted_total_inc_tax": money(total - _line_discount(order, line)),
            }
        )
    return products


def build_coupons(order: SimulatedOrder) -> list[dict[str, Any]]:
    """``GET /v2/orders/{id}/coupons`` (``orderCoupons_Base``); empty, the API answers 204."""
    if order.coupon is None:
        return []
    coupon = order.coupon
    return [
        {
            "id": coupon.id,
            "coupon_id": coupon.coupon_id,
            "order_id": order.id,
            "code": coupon.code,
            "amount": money(coupon.amount),
            "type": 2,  # per_total_discount: a fixed amount off the order
            "discount": float(coupon.amount),
        }
    ]


def build_shipping_addresses(order: SimulatedOrder, *, api_root: str) -> list[dict[str, Any]]:
    """``GET /v2/orders/{id}/shipping_addresses`` (``orderShippingAddress``)."""
    shopper = order.shopper
    address_id = _address_id(order)
    quotes = f"/orders/{order.id}/shippingaddresses/{address_id}/shippingquotes"
    return [
        {
            "id": address_id,
            "order_id": order.id,
            **_addressee(shopper),
            "zip": shopper.zip,
            "country": shopper.country,
            "country_iso2": shopper.country_iso2,
            "state": shopper.state,
            "email": order.email,
            "phone": shopper.phone,
            "items_total": order.items(),
            "items_shipped": order.items() if order.shipped else 0,
            "shipping_method": "Free Shipping" if not order.shipping_cost else "Flat Rate",
            **_cost("cost", order.shipping_cost, tax_class=2),
            **_cost("handling_cost", Decimal(0), tax_class=2),
            "shipping_zone_id": 1,
            "shipping_zone_name": shopper.country,
            "shipping_quotes": {"url": f"{api_root}/v2{quotes}", "resource": quotes},
            "form_fields": [],
        }
    ]


def _addressee(shopper: Shopper) -> dict[str, Any]:
    """Who an address is for and its street, up to the city: how the order's billing address
    and its shipping addresses both start."""
    return {
        "first_name": shopper.first_name,
        "last_name": shopper.last_name,
        "company": "",
        "street_1": shopper.street,
        "street_2": "",
        "city": shopper.city,
    }


def _address_id(order: SimulatedOrder) -> int:
    return order.id + 31


def _line_discount(order: SimulatedOrder, line: Line) -> Decimal:
    # The coupon spread over the lines in proportion to their totals (the spec's manual-discount
    # rule), the last line taking what rounding leaves.
    if order.coupon is None or not order.subtotal():
        return Decimal(0)
    share = (order.coupon.amount * line.price * line.quantity / order.subtotal()).quantize(
        Decimal("0.0001"), rounding=ROUND_DOWN
    )
    if line is order.lines[-1]:
        others = sum((_line_discount(order, other) for other in order.lines[:-1]), Decimal(0))
        return order.coupon.amount - others
    return share


def _applied_discounts(order: SimulatedOrder, line: Line) -> list[dict[str, Any]]:
    if order.coupon is None:
        return []
    return [
        {
            "id": "coupon",
            "amount": money(_line_discount(order, line)),
            "name": order.coupon.code,
            "code": order.coupon.code,
            "target": "order",
        }
    ]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
