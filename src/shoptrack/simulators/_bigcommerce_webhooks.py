"""BigCommerce webhooks: subscriptions (``/v3/hooks``) and Standard Webhooks deliveries.

A delivery is a ``POST`` of a light JSON payload naming what changed (``{"scope":
"store/order/updated", "store_id": "1025646", "data": {"type": "order", "id": 250}, "hash": ...,
"created_at": 1561479335, "producer": "stores/{store_hash}"}``), with the subscription's custom
headers and the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``) keyed with the app's
client secret (BigCommerce's docs have the ``standardwebhooks`` library verify with
base64(client_secret), which it decodes back to the secret's own bytes).

Any 2xx acknowledges. Otherwise BigCommerce retries after 60, 180, 300, 600, 900, 1800, 3600,
7200, 21600, 50400 and 86400 seconds, then deactivates the hook (``is_active: false``). A retry
keeps its ``webhook-id`` (Standard Webhooks: the id of the message, not of the attempt) and is
signed again with a new timestamp. ``hash`` is the SHA-1 of the JSON-encoded ``data``, so it is
the same for every event with the same data (the docs suggest it to dedupe repeats; two real
updates of one order share it too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shoptrack.simulators import _kit as kit

__all__ = [
    "ORDER_SCOPES",
    "RETRY_DELAYS",
    "Delivery",
    "Event",
    "Hook",
    "Outgoing",
    "signed_headers",
]

# The order scopes the simulator raises (a subscription may also name `store/order/*`).
ORDER_SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/statusUpdated",
    "store/order/refund/created",
)
RETRY_DELAYS = tuple(
    timedelta(seconds=s) for s in (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
)
# BigCommerce does not document its callbacks' User-Agent; this one says what sent them.
_USER_AGENT = "BigCommerce-Webhooks (shoptrack simulator)"


@dataclass(slots=True)
class Hook:
    """One subscription of the store's API account to a scope."""

    id: int
    client_id: str
    store_hash: str
    scope: str
    destination: str
    is_active: bool
    headers: dict[str, str] | None
    created_at: datetime
    updated_at: datetime

    def wants(self, scope: str) -> bool:
        """Whether an event of ``scope`` goes to this hook (``store/order/*`` takes them all)."""
        if self.scope.endswith("/*"):
            return scope.startswith(self.scope[:-1])
        return scope == self.scope

    def as_json(self) -> dict[str, Any]:
        """The hook as ``/v3/hooks/{id}`` returns it (inside ``data``)."""
        return {
            "id": self.id,
            "client_id": self.client_id,
            "store_hash": self.store_hash,
            "scope": self.scope,
            "destination": self.destination,
            "headers": self.headers,
            "is_active": self.is_active,
            "created_at": int(self.created_at.timestamp()),
            "updated_at": int(self.updated_at.timestamp()),
        }


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to an order, as a webhook will tell it."""

    scope: str
    data: Mapping[str, Any]
    at: datetime

    @property
    def order_id(self) -> int | None:
        value = self.data.get("id")
        return value if isinstance(value, int) else None

    def body(self, *, store_id: str, store_hash: str) -> bytes:
        """The JSON payload, as compact as BigCommerce sends it."""
        data = json.dumps(self.data, separators=(",", ":"))
        payload = {
            "scope": self.scope,
            "store_id": store_id,
            "data": self.data,
            "hash": hashlib.sha1(data.encode(), usedforsecurity=False).hexdigest(),
            "created_at": int(self.at.timestamp()),
            "producer": f"stores/{store_hash}",
        }
        return json.dumps(payload, separators=(",", ":")).encode()


def signed_headers(
    secret: str,
    message_id: str,
    sent: datetime,
    body: bytes,
    custom: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of one delivery attempt: the hook's own, then Standard Webhooks'."""
    timestamp = str(int(sent.astimezone(UTC).timestamp()))
    message = f"{message_id}.{timestamp}.".encode() + body
    return {
        **{name.lower(): value for name, value in (custom or {}).items()},
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{kit.hmac_signature(secret, message)}",
    }


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request the store is about to send to a hook's destination."""

    hook_id: int
    url: str
    headers: dict[str, str]
    body: bytes
    scope: str
    order_id: int | None
    message_id: str
    attempt: int  # 0 for the first try, then 1..11 for the retries

    def described(self) -> dict[str, Any]:
        return {
            "hook_id": self.hook_id,
            "scope": self.scope,
            "order_id": self.order_id,
            "webhook_id": self.message_id,
            "attempt": self.attempt,
        }


@dataclass(frozen=True, slots=True)
class Delivery(kit.Delivery[Outgoing]):
    """One request the store sent to a destination, and how it went (any 2xx acknowledges a
    BigCommerce callback)."""
