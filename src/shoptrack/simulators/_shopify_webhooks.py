"""Shopify webhooks: subscriptions made through ``webhooks.json``, and deliveries as Shopify sends
them.

A delivery is a ``POST`` of the resource's JSON as it was when the event happened, signed
``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(the app's client secret, raw body)), with the
headers of ``WEBHOOK_HEADER_NAMES`` in ``Shopify/shopify-app-js``. ``X-Shopify-Event-Id`` names
the event (the same for every delivery of it: retries, duplicates); ``X-Shopify-Webhook-Id``
names one subscription's delivery of it, kept by its retries. Any 2xx is a success. A failed
delivery is retried with its original payload (Shopify: 8 retries over 4 hours, since the
2024-09-10 changelog); after the last one fails, a subscription made through the API is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from shoptrack.simulators import _kit as kit
from shoptrack.simulators._shopify_orders import API_VERSION

__all__ = [
    "MAX_RETRIES",
    "ORDER_TOPICS",
    "TOPICS",
    "USER_AGENT",
    "Delivery",
    "Event",
    "Outgoing",
    "Subscription",
    "SubscriptionRefusedError",
    "delivery_headers",
    "subscription_node",
    "topic_enum",
    "topic_name",
]

USER_AGENT = "Shopify-Captain-Hook"
MAX_RETRIES = 8
# Topics whose subscriptions need the read_orders scope: those this simulator sends, and the
# other order topics a merchant may subscribe (accepted, never sent).
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/edited",
        "orders/delete",
        "refunds/create",
        "order_transactions/create",
        "checkouts/create",
        "checkouts/update",
        "checkouts/delete",
    }
)
# Every topic a subscription may name here; others are refused as Shopify refuses them.
TOPICS = ORDER_TOPICS | {"app/uninstalled", "shop/update"}
# GraphQL's WebhookSubscriptionTopic names them in capitals: ORDERS_CREATE is orders/create.
_BY_ENUM = {topic.replace("/", "_").upper(): topic for topic in TOPICS}


def topic_enum(topic: str) -> str:
    """The ``WebhookSubscriptionTopic`` value of a REST topic."""
    return topic.replace("/", "_").upper()


def topic_name(value: str) -> str:
    """The REST topic of a ``WebhookSubscriptionTopic`` value (itself, lower-cased, when the
    simulator sends no such topic)."""
    return _BY_ENUM.get(value, value.lower())


class SubscriptionRefusedError(ValueError):
    """A subscription Shopify refuses, with the input field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(slots=True)
class Subscription:
    """One webhook subscription of the app (all signed with the app's client secret)."""

    id: int
    address: str
    topic: str
    created: datetime
    updated: datetime
    format: str = "json"

    def as_json(self, zone: tzinfo) -> dict[str, Any]:
        """The subscription as ``GET /admin/api/2025-01/webhooks/{id}.json`` writes it."""
        return {
            "id": self.id,
            "address": self.address,
            "topic": self.topic,
            "created_at": self.created.astimezone(zone).isoformat(timespec="seconds"),
            "updated_at": self.updated.astimezone(zone).isoformat(timespec="seconds"),
            "format": self.format,
            "fields": [],
            "metafield_namespaces": [],
            "api_version": API_VERSION,
            "private_metafield_namespaces": [],
        }


def subscription_node(subscription: Subscription) -> dict[str, Any]:
    """A ``WebhookSubscription`` as the GraphQL Admin API writes it (the fields shoptrack
    reads)."""
    return {
        "id": f"gid://shopify/WebhookSubscription/{subscription.id}",
        "topic": topic_enum(subscription.topic),
        "uri": subscription.address,
    }


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a resource, with its payload as it was then."""

    id: str
    topic: str
    resource_id: int
    triggered: datetime
    body: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One subscription's delivery of one event, as it is sent (and sent again on retries)."""

    subscription_id: int
    url: str
    headers: dict[str, str]
    body: bytes
    topic: str
    resource_id: int
    event_id: str
    webhook_id: str

    def described(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "topic": self.topic,
            "resource_id": self.resource_id,
            "event_id": self.event_id,
            "webhook_id": self.webhook_id,
        }


@dataclass(frozen=True, slots=True)
class Delivery(kit.Delivery[Outgoing]):
    """One request the store sent, and how it went; ``attempt`` counts its event's tries."""

    attempt: int = 1

    def as_json(self) -> dict[str, Any]:
        return {**kit.Delivery.as_json(self), "attempt": self.attempt}


def delivery_headers(
    event: Event, *, secret: str, shop_domain: str, webhook_id: str
) -> dict[str, str]:
    """The headers of one delivery of ``event``, signed with the app's client secret."""
    triggered = event.triggered.astimezone(UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "x-shopify-topic": event.topic,
        "x-shopify-hmac-sha256": kit.hmac_signature(secret, event.body),
        "x-shopify-shop-domain": shop_domain,
        "x-shopify-api-version": API_VERSION,
        "x-shopify-webhook-id": webhook_id,
        "x-shopify-event-id": event.id,
        "x-shopify-triggered-at": triggered.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{triggered.microsecond // 1000:03d}Z",
    }
