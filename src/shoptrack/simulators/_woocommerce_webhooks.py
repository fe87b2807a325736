"""WooCommerce webhooks: subscriptions, and deliveries as ``WC_Webhook::deliver()`` makes them.

A delivery is a ``POST`` of the JSON body with ``X-WC-Webhook-*`` headers, signed
base64(HMAC-SHA256(secret, body)). Its ``X-WC-Webhook-Delivery-ID`` is
``wp_hash(webhook_id . time())``: two deliveries of one webhook within the same second carry the
same id. A response from 200 to 302 is a success; anything else (or no response) counts one
failure, and a webhook that fails again after 5 counted failures is disabled: no retries.
Creating a webhook sends an unsigned ping, ``webhook_id=N`` as a form body, expecting a 200.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from shoptrack.simulators import _kit as kit
from shoptrack.simulators._woocommerce_orders import WC_VERSION, WP_VERSION

__all__ = [
    "MAX_FAILURES",
    "STATUSES",
    "USER_AGENT",
    "Delivery",
    "Outgoing",
    "Webhook",
    "delivery_headers",
    "delivery_id",
    "is_valid_topic",
    "ping_request",
]

USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"
STATUSES = ("active", "paused", "disabled")
MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures
_TOPIC_HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": [
        "woocommerce_update_order",
        "woocommerce_order_refunded",
        "woocommerce_delete_order_refund",
    ],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
}
_RESOURCES = ("coupon", "customer", "order", "product")
_EVENTS = ("created", "updated", "deleted", "restored")


def is_valid_topic(topic: str) -> bool:
    """``wc_is_webhook_valid_topic()``: resource.event, or a custom ``action.*`` topic."""
    if topic.startswith("action.") and len(topic) > len("action."):
        return True
    resource, _, event = topic.partition(".")
    return resource in _RESOURCES and event in _EVENTS


@dataclass(slots=True)
class Webhook:
    """One subscription; ``failure_count`` counts consecutive failed deliveries."""

    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str
    status: str
    created: datetime
    modified: datetime
    failure_count: int = 0

    def record(self, success: bool) -> None:
        """``WC_Webhook::log_delivery()`` / ``failed_delivery()``: count, then disable."""
        if success:
            self.failure_count = 0
        elif self.failure_count > MAX_FAILURES:
            self.status = "disabled"
        else:
            self.failure_count += 1

    def as_json(self, home: str, site_timezone: tzinfo) -> dict[str, Any]:
        """The webhook as ``/wp-json/wc/v3/webhooks/{id}`` returns it (the secret is write-only)."""
        resource, _, event = self.topic.partition(".")
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "topic": self.topic,
            "resource": resource,
            "event": event,
            "hooks": _TOPIC_HOOKS.get(self.topic, []),
            "delivery_url": self.delivery_url,
            "date_created": _format(self.created.astimezone(site_timezone)),
            "date_created_gmt": _format(self.created.astimezone(UTC)),
            "date_modified": _format(self.modified.astimezone(site_timezone)),
            "date_modified_gmt": _format(self.modified.astimezone(UTC)),
            "_links": {
                "self": [{"href": f"{home}wp-json/wc/v3/webhooks/{self.id}"}],
                "collection": [{"href": f"{home}wp-json/wc/v3/webhooks"}],
            },
        }


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request the store is about to send to a webhook's URL."""

    webhook_id: int
    url: str
    headers: dict[str, str]
    body: bytes
    topic: str | None  # None for the ping
    order_id: int | None = None
    delivery_id: str | None = None

    def described(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "ping": self.topic is None,
            "topic": self.topic,
            "order_id": self.order_id,
            "delivery_id": self.delivery_id,
        }


@dataclass(frozen=True, slots=True)
class Delivery(kit.Delivery[Outgoing]):
    """One request the store sent to a webhook's URL, and how it went."""

    @property
    def succeeded(self) -> bool:
        """What WooCommerce counts as delivered: a response from 200 to 302."""
        return self.status is not None and 200 <= self.status < 303


def delivery_headers(
    webhook: Webhook, body: bytes, *, source: str, delivery_id: str
) -> dict[str, str]:
    """The headers of one delivery of ``body``."""
    resource, _, event = webhook.topic.partition(".")
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "x-wc-webhook-source": source,
        "x-wc-webhook-topic": webhook.topic,
        "x-wc-webhook-resource": resource,
        "x-wc-webhook-event": event,
        "x-wc-webhook-signature": kit.hmac_signature(webhook.secret, body),
        "x-wc-webhook-id": str(webhook.id),
        "x-wc-webhook-delivery-id": delivery_id,
    }


def delivery_id(salt: bytes, webhook_id: int, now: datetime) -> str:
    """``wp_hash($webhook_id . time())``: an HMAC-MD5 of the id and the Unix second."""
    message = f"{webhook_id}{int(now.timestamp())}".encode()
    return hmac.new(salt, message, hashlib.md5).hexdigest()


def ping_request(webhook: Webhook) -> Outgoing:
    """``WC_Webhook::deliver_ping()``: no signature, no ``X-WC-Webhook-*`` headers."""
    return Outgoing(
        webhook_id=webhook.id,
        url=webhook.delivery_url,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": USER_AGENT,
        },
        body=f"webhook_id={webhook.id}".encode(),
        topic=None,
    )


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")
