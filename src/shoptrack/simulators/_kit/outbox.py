"""A store's webhook outbox: its subscriptions, the deliveries waiting until sent, each one
logged, and the delivery faults (sent twice, sent newest first) on the way out.

``WebhookSimulator`` is the simulator of a platform that sends webhooks. What differs between
platforms is said by three hooks: which waiting deliveries are due (``_take_due``), the request
each one becomes (``_prepare``), and what a sent one changes (``_sent``: a failure counted, a
retry scheduled). ``Delivery`` is the log entry every platform writes, ``GET
/_sim/webhooks/deliveries`` lists and ``POST /_sim/webhooks/deliver`` answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

import httpx

from shoptrack.simulators._kit.edge import EdgeFaults
from shoptrack.simulators._kit.store import Clock, Simulator

__all__ = [
    "Delivery",
    "Sendable",
    "WebhookDelivery",
    "WebhookSettings",
    "WebhookSimulator",
    "hmac_signature",
    "post",
]

WebhookDelivery = Literal["immediate", "manual"]


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """How a simulated store sends its webhooks (its constructor's ``webhook_*`` arguments).

    Args:
        delivery: ``immediate``: what an HTTP route causes is delivered before it answers;
            ``manual``: everything waits for ``deliver_pending``.
        transport: How deliveries reach their URLs (e.g. ``httpx.MockTransport``).
        timeout: Seconds to wait for a receiver's answer.
    """

    delivery: WebhookDelivery
    transport: httpx.AsyncBaseTransport | None
    timeout: float


def hmac_signature(secret: str, message: bytes) -> str:
    """Base64 of HMAC-SHA256 over ``message`` keyed with ``secret``: how Shopify and WooCommerce
    sign a delivery's body, and BigCommerce its Standard Webhooks message."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class Sendable(Protocol):
    """A request a store is about to send to a webhook's URL."""

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...

    @property
    def body(self) -> bytes: ...

    def described(self) -> dict[str, Any]:
        """What the log entry says of it beside its URL, headers and body."""
        ...


SentT = TypeVar("SentT", bound=Sendable)
WaitingT = TypeVar("WaitingT")
SubscriptionT = TypeVar("SubscriptionT")
DeliveryT = TypeVar("DeliveryT", bound="Delivery[Any]")


@dataclass(frozen=True, slots=True)
class Delivery(Generic[SentT]):
    """One request the store sent to a webhook's URL, and how it went."""

    outgoing: SentT
    at: datetime
    status: int | None  # the HTTP status answered; None when no response came back
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the receiver acknowledged it: any 2xx."""
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        """The log entry ``GET /_sim/webhooks/deliveries`` lists."""
        sent = self.outgoing
        return {
            **sent.described(),
            "url": sent.url,
            "at": self.at.isoformat(),
            "status": self.status,
            "error": self.error,
            "headers": sent.headers,
            "body": sent.body.decode(),
        }


async def post(client: httpx.AsyncClient, outgoing: Sendable) -> tuple[int | None, str | None]:
    """Sends one request: the status answered, or None and the network failure."""
    try:
        response = await client.post(outgoing.url, content=outgoing.body, headers=outgoing.headers)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"
    return response.status_code, None


class WebhookSimulator(Simulator, Generic[WaitingT, SentT, DeliveryT, SubscriptionT]):
    """A simulated store that sends webhooks, through its outbox.

    Args:
        clock: Returns the current time (aware); defaults to the machine's clock.
        webhooks: How its webhooks are sent.
        edge: The edge in front of the store's API, as built.
    """

    def __init__(
        self, clock: Clock | None, webhooks: WebhookSettings, *, edge: EdgeFaults | None = None
    ) -> None:
        super().__init__(clock, edge=edge)
        self.webhook_delivery = webhooks.delivery
        self._transport = webhooks.transport
        self._timeout = webhooks.timeout
        self._subscriptions: dict[int, SubscriptionT] = {}  # by id
        self._waiting: list[WaitingT] = []
        self._log: deque[DeliveryT] = deque(maxlen=10_000)
        self.duplicate_webhooks = False
        self.reorder_webhooks = False

    @property
    def webhooks(self) -> list[SubscriptionT]:
        """The webhook subscriptions, oldest first."""
        with self._lock:
            return list(self._subscriptions.values())

    @property
    def deliveries(self) -> list[DeliveryT]:
        """Every request sent to a webhook URL, oldest first."""
        with self._lock:
            return list(self._log)

    async def deliver_pending(self) -> list[DeliveryT]:
        """Sends the deliveries due (newest first under the reorder fault, each twice under the
        duplicate fault); returns them in the order they were sent."""
        with self._lock:
            due = self._take_due()
            if self.reorder_webhooks:
                due.reverse()
            ready = [(item, sent) for item in due if (sent := self._prepare(item)) is not None]
            copies = 2 if self.duplicate_webhooks else 1
        made: list[DeliveryT] = []
        if not ready:
            return made  # every API request asks; a client (TLS set up) is for deliveries only
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            for item, sent in ready:
                tries = [
                    self._delivery(sent, *await post(client, sent), item) for _ in range(copies)
                ]
                with self._lock:
                    self._log.extend(tries)
                    self._sent(item, tries)
                made.extend(tries)
        return made

    async def _deliver_if_immediate(self) -> None:
        # Held under the reorder fault until deliver_pending() is called.
        if self.webhook_delivery == "immediate" and not self.reorder_webhooks and self._waiting:
            await self.deliver_pending()

    async def _send_now(self, sent: SentT) -> DeliveryT:
        """Sends one request outside the outbox (a ping, a compliance webhook), and logs it."""
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            made = self._delivery(sent, *await post(client, sent), None)
        with self._lock:
            self._log.append(made)
        return made

    # -- the platform's part, always under the lock ----------------------------------------

    def _take_due(self) -> list[WaitingT]:
        """Takes the deliveries due out of the waiting list: all of them, by default."""
        due, self._waiting = self._waiting, []
        return due

    def _prepare(self, item: WaitingT) -> SentT | None:
        """The request ``item`` becomes; None when it is no longer to be sent."""
        raise NotImplementedError

    def _delivery(
        self, sent: SentT, status: int | None, error: str | None, item: WaitingT | None
    ) -> DeliveryT:
        """The log entry of one try at sending ``sent``, for ``item`` of the outbox (None for
        a request sent outside it); called outside the lock."""
        raise NotImplementedError

    def _sent(self, item: WaitingT, tries: Sequence[DeliveryT]) -> None:
        """What sending ``item`` changes: nothing, by default."""
