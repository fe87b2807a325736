"""Shopify's webhooks: the topics shoptrack subscribes (through GraphQL) and reads, the check of
a delivery's signature, and Started Checkout made from a checkout's payload."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from shoptrack.connectors import fields
from shoptrack.connectors._shopify_graphql import (
    WEBHOOK_SUBSCRIPTION_CREATE,
    WEBHOOK_SUBSCRIPTIONS_QUERY,
    object_at,
    run_query,
)
from shoptrack.connectors._shopify_orders import (
    allocated_discount,
    discount_codes,
    optional_utc,
    utc,
)
from shoptrack.connectors.base import (
    WebhookCheck,
    WebhookRequest,
    WebhookVerdict,
    hmac_refusal,
)
from shoptrack.connectors.errors import StoreError
from shoptrack.connectors.http import StoreClient
from shoptrack.domain.events import EventDraft, Metric, Person, item_properties
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.domain.order import LineItem

__all__ = [
    "CHECKOUT_TOPICS",
    "ORDER_TOPICS",
    "REGISTERED_TOPICS",
    "check_delivery",
    "started_checkout",
    "subscribe_webhooks",
]

# Every change to an order (payment, fulfilment, cancellation, refund, edit) also fires
# orders/updated, so the two order topics are enough; the narrower ones (orders/paid,
# refunds/create...) are still read when a merchant subscribes them. Checkouts have topics of
# their own, which Started Checkout needs.
# app/uninstalled says the token is gone, so the integration is disabled rather than failing.
REGISTERED_TOPICS = (
    "orders/create",
    "orders/updated",
    "checkouts/create",
    "checkouts/update",
    "app/uninstalled",
)
# Topics whose payload is the whole order.
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/edited",
    }
)
CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})


def subscribe_webhooks(client: StoreClient, delivery_url: str) -> None:
    """Subscribes the ``REGISTERED_TOPICS`` that do not point at ``delivery_url`` yet
    (``webhookSubscriptions`` filtered by ``uri`` and topic, then ``webhookSubscriptionCreate``
    for each one missing)."""
    wanted = {_topic_enum(topic): topic for topic in REGISTERED_TOPICS}
    data = run_query(
        client, WEBHOOK_SUBSCRIPTIONS_QUERY, {"uri": delivery_url, "topics": list(wanted)}
    )
    present = {
        hook.get("topic")
        for hook in object_at(data, "webhookSubscriptions").get("nodes") or []
        if isinstance(hook, Mapping) and hook.get("uri") == delivery_url
    }
    for topic in (enum for enum in wanted if enum not in present):
        answer = run_query(
            client, WEBHOOK_SUBSCRIPTION_CREATE, {"topic": topic, "uri": delivery_url}
        )
        errors = object_at(answer, "webhookSubscriptionCreate").get("userErrors") or []
        messages = "; ".join(str(e.get("message")) for e in errors if isinstance(e, Mapping))
        # Subscribed meanwhile (another process connecting the same store): as wanted.
        if messages and "already been taken" not in messages:
            raise StoreError(
                f"Shopify refused the {wanted[topic]} webhook subscription: {messages}",
                store_answer=str(answer),
            )


def check_delivery(request: WebhookRequest) -> WebhookCheck:
    """Verifies a delivery against every current secret."""
    headers = request.headers
    signature = _header(headers, "hmac-sha256")
    reason = hmac_refusal(request.secrets, request.body, signature, "X-Shopify-Hmac-Sha256")
    if reason is not None:
        return WebhookCheck(WebhookVerdict.REJECTED, reason=reason)
    return WebhookCheck(
        WebhookVerdict.ACCEPTED,
        topic=_header(headers, "topic"),
        # The event id is shared by every delivery of one event (retries, several
        # subscriptions); older deliveries carry only the webhook id.
        delivery_id=_header(headers, "event-id") or _header(headers, "webhook-id") or None,
    )


def _topic_enum(topic: str) -> str:
    # GraphQL's WebhookSubscriptionTopic spells REST's orders/create as ORDERS_CREATE.
    return topic.replace("/", "_").upper()


def _header(headers: Mapping[str, str], name: str) -> str:
    # Event-style deliveries drop the X-Shopify- prefix (`shopify-hmac-sha256`).
    value = headers.get(f"x-shopify-{name}") or headers.get(f"shopify-{name}") or ""
    return value.strip()


def started_checkout(raw: Mapping[str, Any]) -> EventDraft | None:
    """Started Checkout for one abandoned-checkout payload, or None when there is no one to
    record it for or nothing left to recover."""
    if raw.get("completed_at") is not None:
        # The checkout became an order, which Placed Order records; a Started Checkout now would
        # start an abandoned-checkout flow for a buyer who has just bought.
        return None
    customer = fields.mapping(raw, "customer")
    billing = fields.mapping(raw, "billing_address")
    person = Person(
        email=_identifier(normalize_email, fields.first_text((raw, "email"), (customer, "email"))),
        phone_number=_identifier(
            normalize_phone,
            fields.first_text((raw, "phone"), (raw, "sms_marketing_phone"), (customer, "phone")),
        ),
        first_name=fields.first_text((customer, "first_name"), (billing, "first_name")),
        last_name=fields.first_text((customer, "last_name"), (billing, "last_name")),
    )
    if not person.identified:
        # Checkouts exist from the first step, before the buyer has typed an email or phone
        # (Klaviyo's Shopify integration too waits for the contact): no profile to name yet.
        return None
    items = fields.object_list(raw, "line_items")
    lines = [_checkout_line(item, f"line_items[{index}].") for index, item in enumerate(items)]
    token = fields.text(raw, "token")
    return EventDraft(
        metric=Metric.STARTED_CHECKOUT,
        person=person,
        time=optional_utc(raw, "updated_at") or utc(raw, "created_at"),
        # Klaviyo's guide makes Started Checkout's $event_id the cart id plus a time, so that it
        # can fire again for the same cart. Shopify sends checkouts/update at every step of one
        # checkout (contact, address, shipping rate...), where a time would start the abandoned
        # checkout flow once per step; the cart's contents instead keep one event per cart the
        # buyer built: repeated and step-only deliveries dedupe, a changed cart records anew.
        unique_id=f"{token}-{_cart_digest(items)}",
        properties={
            "CheckoutURL": fields.optional_text(raw, "abandoned_checkout_url"),
            "ItemNames": [line.name for line in lines],
            # Checkout lines carry neither product types nor collections.
            "Categories": [],
            "Brands": list(dict.fromkeys(line.brand for line in lines if line.brand)),
            "DiscountCode": ", ".join(discount_codes(raw)) or None,
            "DiscountValue": float(fields.money(raw, "total_discounts", default=Decimal(0))),
            # Spelt as Placed Order's; checkout lines carry no product URL, image or category.
            "Items": [item_properties(line) for line in lines],
        },
        value=fields.money(raw, "total_price"),
        value_currency=fields.optional_text(raw, "currency"),
    )


def _checkout_line(item: Mapping[str, Any], path: str) -> LineItem:
    price = fields.money(item, "price", path)
    quantity = fields.integer(item, "quantity", path)
    discount = allocated_discount(item, path) or Decimal(0)
    title = fields.text(item, "title", path)
    variant = fields.optional_text(item, "variant_title")
    return LineItem(
        line_id=fields.optional_text(item, "key") or str(fields.present(item, "variant_id", path)),
        # As an order line's `name` writes it: "IPod Nano - 8GB - Red".
        name=f"{title} - {variant}" if variant else title,
        quantity=quantity,
        item_price=price,
        row_total=price * quantity - discount,
        # The 2025-01 checkout writes its ids as strings, webhooks of older versions as numbers.
        product_id=fields.optional_text(item, "product_id"),
        sku=fields.optional_text(item, "sku"),
        brand=fields.optional_text(item, "vendor"),
    )


def _cart_digest(items: Sequence[Mapping[str, Any]]) -> str:
    """A short fingerprint of what is in a cart: its variants, quantities and prices."""
    parts = sorted(
        "/".join(str(item.get(key)) for key in ("variant_id", "product_id", "sku", "title"))
        + f"*{item.get('quantity')}@{item.get('price')}"
        for item in items
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _identifier(normalize: Callable[[str | None], str | None], value: str | None) -> str | None:
    # Checkout forms accept what identifies no one (a phone without its country code).
    try:
        return normalize(value)
    except InvalidIdentifierError:
        return None
