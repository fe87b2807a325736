"""Platform harnesses for the connector conformance suite (``test_connectors.py``).

The suite checks every connector the same way against its platform's simulator. It knows a
platform only through a ``PlatformHarness``: the connector, how to serve the simulator with a
clock, and a few declarations about the platform. The running simulator is a ``SimulatedStore``,
driven the way the platform's shop admin and checkout would drive a real store.

Adding a platform is one entry in ``HARNESSES``: a ``PlatformHarness`` whose ``serve`` runs that
platform's simulator as a ``SimulatedStore`` (a small adapter, like ``_WooCommerceStore``). The
suite fails while a connector known to shoptrack has no harness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx

from shoptrack.clock import Clock
from shoptrack.connectors import Connector, connector_for
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from tests.stores import serving

__all__ = [
    "HARNESSES",
    "PlatformHarness",
    "SimulatedStore",
    "WebhookRequest",
    "WindowEdges",
]


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One request a store sent to a webhook URL: header names in lower case, the raw body."""

    headers: dict[str, str]
    body: bytes


class SimulatedStore(Protocol):
    """A platform's simulator serving on a real socket, as the conformance suite drives it.

    Faults use the vocabulary every simulator shares: ``{"rate_limit": {"burst": N,
    "retry_after": S}}``, ``{"server_error": N}``, ``{"slow_ms": M}``, ``{"firewall_user_agent":
    "shoptrack"}``, ``{"custom_statuses": [...]}``, ``{"site_timezone": "America/New_York"}``.
    """

    def credentials(self) -> dict[str, Any]:
        """Working credentials for this store, as a merchant enters them."""
        ...

    def add_orders(
        self,
        count: int,
        *,
        statuses: Sequence[str],
        at: datetime | None = None,
        interval: timedelta = timedelta(0),
        total: Decimal | None = None,
    ) -> list[str]:
        """Creates ``count`` orders as checkouts would (``statuses`` cycle), the first placed and
        last modified at ``at`` (by default the store's clock, less the intervals), each next one
        ``interval`` later; returns their platform ids in that order."""
        ...

    def set_status(self, order_id: str, status: str) -> None:
        """Changes an order's status as the shop admin would, at the store's clock."""
        ...

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        """Switches misbehaviour on (see the class's docstring)."""
        ...

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        """Makes the store send its order webhooks, signed with ``secret``, from now on; returns
        what it sent while subscribing (its pings, where the platform pings)."""
        ...

    def deliver(self) -> list[WebhookRequest]:
        """Sends the webhook deliveries waiting; returns them in the order they were sent."""
        ...


@dataclass(frozen=True, slots=True)
class WindowEdges:
    """Whether the platform's API lists an order updated exactly at a window's bound."""

    since: bool
    until: bool


@dataclass(frozen=True, slots=True)
class PlatformHarness:
    """What the conformance suite needs to know about one platform.

    Attributes:
        connector: The connector under test, as shoptrack's registry hands it out.
        serve: Serves a fresh simulator whose clock is ``clock`` until the block ends.
        statuses: Every status the platform's orders can have out of the box, raw (tests
            move orders between the first three).
        custom_status: A status a merchant (or a plugin) can add, raw; None where there is none.
        secret_field: The credential field the store checks as the secret.
        window_edges: How the platform's API compares updated times with the window's bounds.
        webhooks: Whether the platform sends order webhooks at all.
        pings: Whether subscribing to webhooks makes the store ping the URL first.
    """

    connector: Connector
    serve: Callable[[Clock], AbstractContextManager[SimulatedStore]]
    statuses: tuple[str, ...]
    custom_status: str | None
    secret_field: str
    window_edges: WindowEdges
    webhooks: bool = True
    pings: bool = False

    @property
    def platform(self) -> str:
        return self.connector.platform


# -- WooCommerce -----------------------------------------------------------------------------

# Where the simulator "sends" webhooks: a transport keeps them, so no server needs to listen.
_RECEIVER = "https://shoptrack.test/webhooks/woocommerce"


class _WooCommerceStore:
    """``WooCommerceSimulator`` as a ``SimulatedStore``."""

    def __init__(
        self, simulator: WooCommerceSimulator, url: str, sent: list[WebhookRequest]
    ) -> None:
        self.simulator = simulator
        self.url = url
        self._sent = sent
        self._subscriptions = 0

    def credentials(self) -> dict[str, Any]:
        return self.simulator.credentials(self.url)

    def add_orders(
        self,
        count: int,
        *,
        statuses: Sequence[str],
        at: datetime | None = None,
        interval: timedelta = timedelta(0),
        total: Decimal | None = None,
    ) -> list[str]:
        ids = self.simulator.add_orders(
            count,
            statuses=statuses,
            created=at,
            modified=at,
            interval=interval,
            total=None if total is None else str(total),
        )
        return [str(order_id) for order_id in ids]

    def set_status(self, order_id: str, status: str) -> None:
        self.simulator.set_status(int(order_id), status)

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        self.simulator.set_faults(faults)

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        # As shoptrack subscribes in production: the connector creates the webhooks through the
        # REST API, which is also what makes WooCommerce ping them. A URL per subscription,
        # since the connector leaves a topic alone once it points at a URL.
        self._subscriptions += 1
        connector = connector_for("woocommerce")
        credentials = connector.credentials_model.model_validate(
            self.credentials() | {"webhook_secret": secret}
        )
        with connector.client(credentials) as client:
            connector.register_webhooks(client, f"{_RECEIVER}/{self._subscriptions}", credentials)
        return self._take()

    def deliver(self) -> list[WebhookRequest]:
        # The simulator delivers from its own event loop, as WooCommerce's cron would.
        asyncio.run(self.simulator.deliver_pending())
        return self._take()

    def _take(self) -> list[WebhookRequest]:
        taken = list(self._sent)
        del self._sent[: len(taken)]
        return taken


@contextmanager
def _serve_woocommerce(clock: Clock) -> Iterator[SimulatedStore]:
    sent: list[WebhookRequest] = []

    def receive(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        sent.append(WebhookRequest(headers, request.content))
        return httpx.Response(200)

    simulator = WooCommerceSimulator(
        clock=clock.now,
        # Deliveries wait for deliver(), so a test sees exactly the ones its changes caused.
        webhook_delivery="manual",
        webhook_transport=httpx.MockTransport(receive),
    )
    with serving(simulator.app) as url:
        yield _WooCommerceStore(simulator, url, sent)


WOOCOMMERCE = PlatformHarness(
    connector=connector_for("woocommerce"),
    serve=_serve_woocommerce,
    # wc_get_order_statuses(), plus the block checkout's draft.
    statuses=(
        "pending",
        "processing",
        "on-hold",
        "completed",
        "cancelled",
        "refunded",
        "failed",
        "checkout-draft",
    ),
    custom_status="awaiting-shipment",
    secret_field="consumer_secret",
    # modified_after / modified_before become WP_Date_Query bounds, which are exclusive.
    window_edges=WindowEdges(since=False, until=False),
    pings=True,  # WC_Webhook::deliver_ping() when a webhook is created through the API
)

HARNESSES: tuple[PlatformHarness, ...] = (WOOCOMMERCE,)
