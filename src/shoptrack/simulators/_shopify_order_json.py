"""Shopify's resources as the REST Admin API ``2025-01`` writes them: orders, refunds, checkouts
and the shop, from what the shop keeps (``_shopify_orders``).

The written order has every key of Shopify's documented ``2025-01`` example order (the
``orders.json`` example of ``Shopify/shopify-app-js``), in its order: money as decimal strings with
``*_set`` twins in shop and presentment money, times in the shop's time zone with its offset
(``2026-11-27T07:00:00-05:00``), ids as integers. The written checkout follows the documented
``2025-01`` abandoned checkout, whose ids are strings.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from shoptrack.simulators._shopify_orders import (
    Buyer,
    Fulfillment,
    Line,
    Product,
    Refund,
    Shop,
    SimulatedCheckout,
    SimulatedOrder,
    money,
)

__all__ = ["build_checkout", "build_order", "build_refund", "build_shop"]


# "Online Store", the sales channel app that storefront checkouts come through.
_ONLINE_STORE_APP_ID = 580111


_BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Safari/605.1.15"
)


def _money_set(amount: Decimal, shop: Shop) -> dict[str, Any]:
    value = {"amount": money(amount), "currency_code": shop.currency}
    return {"shop_money": value, "presentment_money": dict(value)}


def _time(moment: datetime | None, shop: Shop) -> str | None:
    # Shopify writes every time in the shop's zone with its offset: "2008-01-10T11:00:00-05:00".
    return None if moment is None else moment.astimezone(shop.zone).isoformat(timespec="seconds")


def _hex(*parts: object, length: int = 32) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:length]


def _address(buyer: Buyer) -> dict[str, Any]:
    street, city, province, code, zip_code, latitude, longitude = buyer.address
    return {
        "first_name": buyer.first_name,
        "address1": street,
        "phone": buyer.phone,
        "city": city,
        "zip": zip_code,
        "province": province,
        "country": "United States",
        "last_name": buyer.last_name,
        "address2": "",
        "company": None,
        "latitude": latitude,
        "longitude": longitude,
        "name": f"{buyer.first_name} {buyer.last_name}",
        "country_code": "US",
        "province_code": code,
    }


def _customer(buyer: Buyer, shop: Shop, *, ids_as_strings: bool = False) -> dict[str, Any] | None:
    if buyer.customer_id is None:
        return None
    street, city, province, code, zip_code, _, _ = buyer.address
    customer_id: int | str = str(buyer.customer_id) if ids_as_strings else buyer.customer_id
    since = _time(buyer.since, shop)
    consent = "subscribed" if buyer.accepts_marketing else "not_subscribed"
    return {
        "id": customer_id,
        "email": buyer.email,
        "created_at": since,
        "updated_at": since,
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "state": "disabled",  # a customer without an account, as checkouts create them
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": buyer.phone,
        "email_marketing_consent": {
            "state": consent,
            "opt_in_level": "single_opt_in" if buyer.accepts_marketing else None,
            "consent_updated_at": since if buyer.accepts_marketing else None,
        },
        "sms_marketing_consent": {
            "state": "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
            "consent_collected_from": "OTHER",
        },
        "tags": "",
        "currency": shop.currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{buyer.customer_id}",
        "default_address": {
            "id": customer_id,
            "customer_id": customer_id,
            "first_name": buyer.first_name,
            "last_name": buyer.last_name,
            "company": None,
            "address1": street,
            "address2": "",
            "city": city,
            "province": province,
            "country": "United States",
            "zip": zip_code,
            "phone": buyer.phone,
            "name": f"{buyer.first_name} {buyer.last_name}",
            "province_code": code,
            "country_code": "US",
            "country_name": "United States",
            "default": True,
        },
    }


def _line_item(line: Line, order: SimulatedOrder, shop: Shop) -> dict[str, Any]:
    product = line.product
    shipped = order.fulfillment_status == "fulfilled"
    open_quantity = 0 if shipped or order.cancelled_at is not None else line.quantity
    zero = Decimal(0)
    return {
        "id": line.id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line.id}",
        "attributed_staffs": [],
        "current_quantity": line.quantity,
        "fulfillable_quantity": open_quantity,
        "fulfillment_service": "manual",
        "fulfillment_status": "fulfilled" if shipped else None,
        "gift_card": False,
        "grams": product.grams,
        "name": _line_name(product),
        "price": money(line.price),
        "price_set": _money_set(line.price, shop),
        "product_exists": True,
        "product_id": product.product_id,
        "properties": [],
        "quantity": line.quantity,
        "requires_shipping": True,
        "sku": product.sku,
        "taxable": True,
        "title": product.title,
        "total_discount": money(zero),
        "total_discount_set": _money_set(zero, shop),
        "variant_id": product.variant_id,
        "variant_inventory_management": "shopify",
        "variant_title": product.variant_title,
        "vendor": product.vendor,
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def _line_name(product: Product) -> str:
    # The title with the variant's, as shown at checkout: "Organic Cotton Tee - L / White".
    return f"{product.title} - {product.variant_title}" if product.variant_title else product.title


def build_refund(order: SimulatedOrder, refund: Refund, shop: Shop) -> dict[str, Any]:
    """A refund as ``orders/{id}/refunds/{id}.json`` and the ``refunds/create`` webhook write it."""
    zero = Decimal(0)
    at = _time(refund.created, shop)
    return {
        "id": refund.id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund.id}",
        "created_at": at,
        "note": refund.note or None,
        "order_id": order.id,
        "processed_at": at,
        "restock": False,
        "total_additional_fees_set": _money_set(zero, shop),
        "total_duties_set": _money_set(zero, shop),
        "user_id": None,
        "order_adjustments": [],
        "transactions": [
            {
                "id": refund.transaction_id,
                "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{refund.transaction_id}",
                "amount": money(refund.amount),
                "authorization": None,
                "created_at": at,
                "currency": shop.currency,
                "device_id": None,
                "error_code": None,
                "gateway": order.gateway,
                "kind": "refund",
                "location_id": None,
                "message": None,
                "order_id": order.id,
                "parent_id": order.id + 1,  # the sale transaction, made with the order
                "payment_id": f"c{order.checkout_id}.{order.refunds.index(refund) + 2}",
                "processed_at": at,
                "receipt": {},
                "source_name": "web",
                "status": "success",
                "test": order.test,
                "user_id": None,
            }
        ],
        "refund_line_items": [],
        "duties": [],
        "additional_fees": [],
    }


def _fulfillment(order: SimulatedOrder, shipment: Fulfillment, shop: Shop) -> dict[str, Any]:
    url = f"https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={shipment.tracking_number}"
    return {
        "id": shipment.id,
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{shipment.id}",
        "created_at": _time(shipment.created, shop),
        "location_id": shop.location_id,
        "name": f"#{order.number}.{order.fulfillments.index(shipment) + 1}",
        "order_id": order.id,
        "origin_address": {},
        "receipt": {
            "testcase": order.test,
            "authorization": _hex("authorization", order.id, length=6),
        },
        "service": "manual",
        "shipment_status": None,
        "status": "success",
        "tracking_company": "UPS",
        "tracking_number": shipment.tracking_number,
        "tracking_numbers": [shipment.tracking_number],
        "tracking_url": url,
        "tracking_urls": [url],
        "updated_at": _time(shipment.created, shop),
        "line_items": [_line_item(line, order, shop) for line in order.lines],
    }


def build_order(order: SimulatedOrder, shop: Shop) -> dict[str, Any]:
    """The order as ``GET /admin/api/2025-01/orders/{id}.json`` writes it (and order webhooks)."""
    total, zero = order.total, Decimal(0)
    refunded = order.refunded()
    outstanding = {"pending": total, "authorized": total, "partially_paid": total / 2}
    token = _hex("order", order.id)
    buyer = order.buyer
    shipping = _money_set(zero, shop)
    return {
        "id": order.id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order.id}",
        "app_id": _ONLINE_STORE_APP_ID,
        "browser_ip": "203.0.113.7",
        "buyer_accepts_marketing": buyer.accepts_marketing,
        "cancel_reason": order.cancel_reason,
        "cancelled_at": _time(order.cancelled_at, shop),
        "cart_token": _hex("cart", order.checkout_id),
        "checkout_id": order.checkout_id,
        "checkout_token": _hex("checkout", order.checkout_id),
        "client_details": {
            "accept_language": "en-US,en;q=0.9",
            "browser_height": None,
            "browser_ip": "203.0.113.7",
            "browser_width": None,
            "session_hash": None,
            "user_agent": _BROWSER,
        },
        "closed_at": _time(order.closed_at, shop),
        "confirmation_number": _hex("confirmation", order.id, length=9).upper(),
        "confirmed": True,
        "contact_email": buyer.email,
        "created_at": _time(order.created, shop),
        "currency": shop.currency,
        "current_subtotal_price": money(total - refunded),
        "current_subtotal_price_set": _money_set(total - refunded, shop),
        "current_total_additional_fees_set": None,
        "current_total_discounts": money(zero),
        "current_total_discounts_set": _money_set(zero, shop),
        "current_total_duties_set": None,
        "current_total_price": money(total - refunded),
        "current_total_price_set": _money_set(total - refunded, shop),
        "current_total_tax": money(zero),
        "current_total_tax_set": _money_set(zero, shop),
        "customer_locale": "en",
        "device_id": None,
        "discount_codes": [],
        "duties_included": False,
        "email": buyer.email or "",
        "estimated_taxes": False,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "landing_site": f"/products/{_handle(order.lines[0].product) if order.lines else ''}",
        "landing_site_ref": None,
        "location_id": None,
        "merchant_business_entity_id": base64.b64encode(str(shop.id).encode()).decode(),
        "merchant_of_record_app_id": None,
        "name": f"#{order.number}",
        "note": None,
        "note_attributes": [],
        "number": order.number - 1000,
        "order_number": order.number,
        "order_status_url": (
            f"https://{shop.domain}/{shop.id}/orders/{token}/authenticate?key={_hex('key', token)}"
        ),
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": [order.gateway],
        "phone": None,
        "po_number": None,
        "presentment_currency": shop.currency,
        "processed_at": _time(order.created, shop),
        "reference": None,
        "referring_site": "https://www.google.com/",
        "source_identifier": None,
        "source_name": "web",
        "source_url": None,
        "subtotal_price": money(total),
        "subtotal_price_set": _money_set(total, shop),
        "tags": "",
        "tax_exempt": False,
        "tax_lines": [],
        "taxes_included": False,
        "test": order.test,
        "token": token,
        "total_cash_rounding_payment_adjustment_set": _money_set(zero, shop),
        "total_cash_rounding_refund_adjustment_set": _money_set(zero, shop),
        "total_discounts": money(zero),
        "total_discounts_set": _money_set(zero, shop),
        "total_line_items_price": money(total),
        "total_line_items_price_set": _money_set(total, shop),
        "total_outstanding": money(outstanding.get(order.financial_status, zero)),
        "total_price": money(total),
        "total_price_set": _money_set(total, shop),
        "total_shipping_price_set": shipping,
        "total_tax": money(zero),
        "total_tax_set": _money_set(zero, shop),
        "total_tip_received": money(zero),
        "total_weight": sum(line.product.grams * line.quantity for line in order.lines),
        "updated_at": _time(order.updated, shop),
        "user_id": None,
        "billing_address": _address(buyer),
        "customer": _customer(buyer, shop),
        "discount_applications": [],
        "fulfillments": [_fulfillment(order, shipment, shop) for shipment in order.fulfillments],
        "line_items": [_line_item(line, order, shop) for line in order.lines],
        "payment_terms": None,
        "refunds": [build_refund(order, refund, shop) for refund in order.refunds],
        "shipping_address": _address(buyer),
        "shipping_lines": [
            {
                "id": order.id + 2,
                "carrier_identifier": None,
                "code": "Standard",
                "discounted_price": money(zero),
                "discounted_price_set": _money_set(zero, shop),
                "is_removed": False,
                "phone": None,
                "price": money(zero),
                "price_set": _money_set(zero, shop),
                "requested_fulfillment_service_id": None,
                "source": "shopify",
                "title": "Standard",
                "tax_lines": [],
                "discount_allocations": [],
            }
        ],
    }


def _handle(product: Product) -> str:
    return product.title.lower().replace(" ", "-")


def build_checkout(checkout: SimulatedCheckout, shop: Shop) -> dict[str, Any]:
    """The checkout as ``GET /admin/api/2025-01/checkouts.json`` and checkout webhooks write it."""
    buyer, total, zero = checkout.buyer, checkout.total, Decimal(0)
    address = _address(buyer) if buyer is not None else None
    return {
        "id": str(checkout.id),
        "token": checkout.token,
        "cart_token": _hex("cart", checkout.id),
        "email": buyer.email if buyer is not None else None,
        "gateway": None,
        "buyer_accepts_marketing": buyer.accepts_marketing if buyer is not None else False,
        "created_at": _time(checkout.created, shop),
        "updated_at": _time(checkout.updated, shop),
        "landing_site": None,
        "note": None,
        "note_attributes": [],
        "referring_site": None,
        "shipping_lines": [],
        "taxes_included": False,
        "total_weight": sum(line.product.grams * line.quantity for line in checkout.lines),
        "currency": shop.currency,
        "completed_at": _time(checkout.completed, shop),
        "closed_at": None,
        "user_id": None,
        "location_id": None,
        "source_identifier": None,
        "source_url": None,
        "device_id": None,
        "phone": buyer.phone if buyer is not None and buyer.email is None else None,
        "customer_locale": "en",
        "line_items": [_checkout_line(line) for line in checkout.lines],
        "name": f"#{checkout.id}",
        "source": None,
        "abandoned_checkout_url": (
            f"https://{shop.domain}/{shop.id}/checkouts/{checkout.token}/recover"
            f"?key={_hex('recover', checkout.token, length=24)}"
        ),
        "discount_codes": [],
        "tax_lines": [],
        "source_name": "web",
        "presentment_currency": shop.currency,
        "buyer_accepts_sms_marketing": False,
        "sms_marketing_phone": None,
        "total_discounts": money(zero),
        "total_line_items_price": money(total),
        "total_price": money(total),
        "total_tax": money(zero),
        "subtotal_price": money(total),
        "total_duties": None,
        "reservation_token": _hex("reservation", checkout.token, length=30),
        "billing_address": address,
        "shipping_address": dict(address) if address is not None else None,
        "customer": _checkout_customer(buyer, shop),
    }


def _checkout_customer(buyer: Buyer | None, shop: Shop) -> dict[str, Any] | None:
    # A checkout's customer is written without the consents and tags, its ids as strings.
    customer = None if buyer is None else _customer(buyer, shop, ids_as_strings=True)
    if customer is None:
        return None
    keys = (
        "id", "email", "created_at", "updated_at", "first_name", "last_name", "state", "note",
        "verified_email", "multipass_identifier", "tax_exempt", "currency", "phone",
        "tax_exemptions", "admin_graphql_api_id", "default_address",
    )  # fmt: skip
    return {key: customer[key] for key in keys}


def _checkout_line(line: Line) -> dict[str, Any]:
    product = line.product
    return {
        "applied_discounts": [],
        "discount_allocations": [],
        "key": _hex("line", line.id, length=16),
        "destination_location_id": None,
        "fulfillment_service": "manual",
        "gift_card": False,
        "grams": product.grams,
        "origin_location_id": None,
        "presentment_title": product.title,
        "presentment_variant_title": product.variant_title,
        "product_id": str(product.product_id),
        "properties": None,
        "quantity": line.quantity,
        "requires_shipping": True,
        "sku": product.sku,
        "tax_lines": [],
        "taxable": True,
        "title": product.title,
        "variant_id": str(product.variant_id),
        "variant_title": product.variant_title,
        "variant_price": None,
        "vendor": product.vendor,
        "user_id": None,
        "unit_price_measurement": None,
        "rank": None,
        "compare_at_price": None,
        "line_price": money(line.total),
        "price": money(line.price),
    }


_SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def build_shop(shop: Shop, now: datetime, opened: datetime) -> dict[str, Any]:
    """The shop as ``GET /admin/api/2025-01/shop.json`` writes it."""
    offset = now.astimezone(shop.zone).strftime("%z")
    symbol = _SYMBOLS.get(shop.currency, "")
    amount = f"{symbol}{{{{amount}}}}" if symbol else "{{amount}}"
    return {
        "id": shop.id,
        "name": shop.name,
        "email": f"owner@{shop.domain.removesuffix('.myshopify.com')}.example",
        "domain": shop.domain,
        "province": "Oregon",
        "country": "US",
        "address1": "742 Evergreen Terrace",
        "zip": "97477",
        "city": "Springfield",
        "source": None,
        "phone": "+14155550100",
        "latitude": 44.0462,
        "longitude": -123.022,
        "primary_locale": "en",
        "address2": "",
        "created_at": _time(opened, shop),
        "updated_at": _time(opened, shop),
        "country_code": "US",
        "country_name": "United States",
        "currency": shop.currency,
        "customer_email": f"help@{shop.domain.removesuffix('.myshopify.com')}.example",
        # Shopify writes a Rails zone name here ("Eastern Time (US & Canada)"); the IANA name
        # beside it is what clients should read.
        "timezone": f"(GMT{offset[:3]}:{offset[3:]}) {shop.zone_name}",
        "iana_timezone": shop.zone_name,
        "shop_owner": "Robin Fischer",
        "money_format": amount,
        "money_with_currency_format": f"{amount} {shop.currency}",
        "weight_unit": "lb",
        "province_code": "OR",
        "taxes_included": None,
        "auto_configure_tax_inclusivity": None,
        "tax_shipping": None,
        "county_taxes": True,
        "plan_display_name": "Basic",
        "plan_name": "basic",
        "has_discounts": False,
        "has_gift_cards": False,
        "myshopify_domain": shop.domain,
        "google_apps_domain": None,
        "google_apps_login_enabled": None,
        "money_in_emails_format": amount,
        "money_with_currency_in_emails_format": f"{amount} {shop.currency}",
        "eligible_for_payments": True,
        "requires_extra_payments_agreement": False,
        "password_enabled": False,
        "has_storefront": True,
        "finances": True,
        "primary_location_id": shop.location_id,
        "checkout_api_supported": True,
        "multi_location_enabled": True,
        "setup_required": False,
        "pre_launch_enabled": False,
        "enabled_presentment_currencies": [shop.currency],
        "marketing_sms_consent_enabled_at_checkout": False,
        "transactional_sms_disabled": False,
    }
