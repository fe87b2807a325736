"""Platform payloads for tests, built the way each platform writes them.

WooCommerce: ``woo_order`` is an order as ``GET /wp-json/wc/v3/orders/{id}`` returns it (keys in
the API's order, money as decimal strings, line ``price`` as PHP's float, ``_gmt`` dates beside
site-local ones), and ``woo_webhook`` / ``woo_ping`` are deliveries as ``WC_Webhook::deliver()``
and ``deliver_ping()`` send them. Signatures are computed here independently of shoptrack's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

__all__ = [
    "WOO_SITE_TIMEZONE",
    "WOO_SITE_URL",
    "WOO_WEBHOOK_ID",
    "woo_order",
    "woo_ping",
    "woo_webhook",
]

WOO_SITE_URL = "https://shop.example.com/"
# A site west of UTC, as in the REST docs' example (16:28 local, 19:28 GMT), so that a mapping
# reading the local dates is visibly wrong.
WOO_SITE_TIMEZONE = timezone(timedelta(hours=-3))
WOO_WEBHOOK_ID = 12
_WC_VERSION = "9.8.5"
_WP_VERSION = "6.8.1"
_USER_AGENT = f"WooCommerce/{_WC_VERSION} Hookshot (WordPress/{_WP_VERSION})"
_PAID_STATUSES = ("processing", "completed", "refunded")
_BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def woo_order(
    order_id: int,
    status: str,
    modified: datetime,
    *,
    created: datetime | None = None,
    email: str = "buyer@example.com",
    lines: int = 2,
    total: str = "59.90",
    **overrides: Any,
) -> dict[str, Any]:
    """A guest order paid by bank transfer with free shipping, split into ``lines`` lines.

    Odd-numbered lines (the 2nd, 4th...) are variations of a variable product bought twice;
    the others are simple products bought once. ``overrides`` replace top-level fields.
    """
    created = created or modified
    paid = created if status in _PAID_STATUSES else None
    completed = modified if status == "completed" else None
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
    order: dict[str, Any] = {
        "id": order_id,
        "parent_id": 0,
        "status": status,
        "currency": "USD",
        "version": _WC_VERSION,
        "prices_include_tax": False,
        "date_created": _local(created),
        "date_modified": _local(modified),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": total,
        "total_tax": "0.00",
        "customer_id": 0,
        "order_key": order_key,
        "billing": address | {"email": email, "phone": "(555) 555-0199"},
        "shipping": address | {"phone": ""},
        "payment_method": "bacs",
        "payment_method_title": "Direct bank transfer",
        "transaction_id": "",
        "customer_ip_address": "203.0.113.7",
        "customer_user_agent": _BROWSER,
        "created_via": "checkout",
        "customer_note": "",
        "date_completed": _local(completed),
        "date_paid": _local(paid),
        "cart_hash": hashlib.md5(order_key.encode(), usedforsecurity=False).hexdigest(),
        "number": str(order_id),
        "meta_data": [{"id": order_id * 10, "key": "is_vat_exempt", "value": "no"}],
        "line_items": _line_items(order_id, lines, Decimal(total)),
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
        "refunds": [],
        "payment_url": (
            f"{WOO_SITE_URL}checkout/order-pay/{order_id}/?pay_for_order=true&key={order_key}"
        ),
        "is_editable": status in ("pending", "on-hold", "checkout-draft"),
        "needs_payment": status in ("pending", "failed"),
        "needs_processing": True,
        "date_created_gmt": _gmt(created),
        "date_modified_gmt": _gmt(modified),
        "date_completed_gmt": _gmt(completed),
        "date_paid_gmt": _gmt(paid),
        "currency_symbol": "$",
        "_links": {
            "self": [
                {
                    "href": f"{WOO_SITE_URL}wp-json/wc/v3/orders/{order_id}",
                    "targetHints": {"allow": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                }
            ],
            "collection": [{"href": f"{WOO_SITE_URL}wp-json/wc/v3/orders"}],
        },
    }
    order.update(overrides)
    return order


def woo_webhook(
    order: dict[str, Any], *, secret: str, topic: str = "order.updated", delivery_id: str = "1"
) -> tuple[dict[str, str], bytes]:
    """A signed delivery of ``order`` (or of ``{"id": N}`` for ``order.deleted``)."""
    body = _php_json(order)
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    resource, event = topic.split(".", 1)
    headers = {
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "x-wc-webhook-source": WOO_SITE_URL,
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": resource,
        "x-wc-webhook-event": event,
        "x-wc-webhook-signature": signature.decode(),
        "x-wc-webhook-id": str(WOO_WEBHOOK_ID),
        "x-wc-webhook-delivery-id": delivery_id,
    }
    return headers, body


def woo_ping(webhook_id: int = WOO_WEBHOOK_ID) -> tuple[dict[str, str], bytes]:
    """The unsigned ping WooCommerce posts to a new webhook's URL, expecting a 200."""
    headers = {"content-type": "application/x-www-form-urlencoded", "user-agent": _USER_AGENT}
    return headers, f"webhook_id={webhook_id}".encode()


def _line_items(order_id: int, count: int, total: Decimal) -> list[dict[str, Any]]:
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
                "image": {
                    "id": 500 + index,
                    "src": f"{WOO_SITE_URL}wp-content/uploads/p{product_id}.jpg",
                },
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


def _gmt(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _local(moment: datetime | None) -> str | None:
    # The site's wall clock, written without an offset: wc_rest_prepare_date_response( $d, false ).
    return (
        None
        if moment is None
        else moment.astimezone(WOO_SITE_TIMEZONE).strftime("%Y-%m-%dT%H:%M:%S")
    )


def _php_json(value: Any) -> bytes:
    # wp_json_encode() with PHP's default flags: no spaces, \uXXXX for non-ASCII, and "/" escaped.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
