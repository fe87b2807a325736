"""Each platform's order statuses with the names its admin shows, for the status-rule editor.

The raw values are what the connectors read (DESIGN.md, "Order lifecycle"): WooCommerce and
Magento 2 slugs, BigCommerce ``status_id``, PrestaShop ``current_state``, Shift4Shop
``OrderStatusID``, Shopify ``financial_status``. The editor also offers every status seen on the
integration's orders, so custom statuses appear as soon as one order has them.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PLATFORM_NAMES", "status_rows"]

PLATFORM_NAMES = {
    "shopify": "Shopify",
    "bigcommerce": "BigCommerce",
    "magento2": "Magento 2",
    "woocommerce": "WooCommerce",
    "prestashop": "PrestaShop",
    "shift4shop": "Shift4Shop",
    "api": "API",
}

_CATALOGUE: dict[str, dict[str, str]] = {
    "woocommerce": {
        "pending": "Pending payment",
        "processing": "Processing",
        "on-hold": "On hold",
        "completed": "Completed",
        "cancelled": "Cancelled",
        "refunded": "Refunded",
        "failed": "Failed",
        "checkout-draft": "Draft",
    },
    "shopify": {
        "pending": "Pending",
        "authorized": "Authorized",
        "partially_paid": "Partially paid",
        "paid": "Paid",
        "partially_refunded": "Partially refunded",
        "refunded": "Refunded",
        "voided": "Voided",
        "expired": "Expired",
    },
    "bigcommerce": {
        "0": "Incomplete",
        "1": "Pending",
        "2": "Shipped",
        "3": "Partially Shipped",
        "4": "Refunded",
        "5": "Cancelled",
        "6": "Declined",
        "7": "Awaiting Payment",
        "8": "Awaiting Pickup",
        "9": "Awaiting Shipment",
        "10": "Completed",
        "11": "Awaiting Fulfillment",
        "12": "Manual Verification Required",
        "13": "Disputed",
        "14": "Partially Refunded",
    },
    "magento2": {
        "pending": "Pending",
        "pending_payment": "Pending Payment",
        "payment_review": "Payment Review",
        "processing": "Processing",
        "holded": "On Hold",
        "complete": "Complete",
        "closed": "Closed",
        "canceled": "Canceled",
        "fraud": "Suspected Fraud",
    },
    "prestashop": {
        "1": "Awaiting check payment",
        "2": "Payment accepted",
        "3": "Processing in progress",
        "4": "Shipped",
        "5": "Delivered",
        "6": "Canceled",
        "7": "Refunded",
        "8": "Payment error",
        "9": "On backorder (paid)",
        "10": "Awaiting bank wire payment",
        "11": "Remote payment accepted",
        "12": "On backorder (not paid)",
        "13": "Awaiting Cash On Delivery validation",
    },
    "shift4shop": {
        "1": "New",
        "2": "Processing",
        "3": "Partial",
        "4": "Shipped",
        "5": "Cancel",
        "6": "Hold",
        "7": "Not Completed",
    },
}


def status_rows(
    platform: str, seen: Iterable[str], named: Iterable[str]
) -> list[tuple[str, str, bool]]:
    """Every status the editor offers as ``(raw value, name, custom)``: the platform's own in
    their admin's order, then custom ones (seen on orders or named by a rule) by value."""
    catalogue = _CATALOGUE.get(platform, {})
    rows = [(raw, name, False) for raw, name in catalogue.items()]
    custom = sorted({*seen, *named} - set(catalogue))
    return rows + [(raw, raw, True) for raw in custom]
