"""What every connector declares: its platform, its default status rules, how its webhooks are
verified and read, and how its orders map to the platform-neutral ``Order``.

A connector holds no state: one instance serves every integration of its platform, and what is
particular to an integration (its secrets, its settings) is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from shoptrack.domain.order import Order
from shoptrack.domain.status import StatusRules, default_rules

__all__ = ["Connector", "WebhookCheck", "WebhookVerdict", "hmac_sha256_base64", "signature_matches"]


class WebhookVerdict(StrEnum):
    """What intake does with a webhook request."""

    ACCEPTED = "accepted"  # signed by a current secret: stored and processed
    PING = "ping"  # the platform checking the URL: answered 200, nothing stored
    REJECTED = "rejected"  # bad or missing signature: 401, stored as rejected for the doctor
    CLOCK_SKEW = "clock_skew"  # signed, but its timestamp is outside the tolerance: 401


@dataclass(frozen=True, slots=True)
class WebhookCheck:
    """The verdict on one webhook request, with what intake stores about it."""

    verdict: WebhookVerdict
    topic: str = ""
    delivery_id: str | None = None
    reason: str | None = None


def hmac_sha256_base64(secret: str, body: bytes) -> str:
    """Base64 of HMAC-SHA256 over the body: WooCommerce's and Shopify's webhook signature."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(expected: Sequence[str], given: str) -> bool:
    """Constant-time comparison against every currently valid signature (secret rotation)."""
    given_bytes = given.strip().encode()
    return any(hmac.compare_digest(candidate.encode(), given_bytes) for candidate in expected)


class Connector(ABC):
    """The code for one platform."""

    platform: ClassVar[str]

    @property
    def default_rules(self) -> StatusRules:
        return default_rules(self.platform)

    def webhook_secrets(self, credentials: Mapping[str, Any]) -> list[str]:
        """Every webhook secret valid now: the current one, then those kept during a rotation."""
        current = credentials.get("webhook_secret")
        previous = credentials.get("previous_webhook_secrets") or []
        return [s for s in [current, *previous] if isinstance(s, str) and s]

    @abstractmethod
    def check_webhook(
        self, secrets: Sequence[str], headers: Mapping[str, str], body: bytes
    ) -> WebhookCheck:
        """Verifies a webhook request. ``headers`` have lower-case names; ``secrets`` are every
        webhook secret valid now."""

    @abstractmethod
    def orders_from_webhook(self, topic: str, payload: Any) -> list[Order]:
        """The orders a verified webhook body (already JSON-decoded) carries, mapped."""

    @abstractmethod
    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one order as the platform's API returns it. ``ValueError`` names a field that
        cannot be read."""
