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
from shoptrack.simulators.bigcommerce import BigCommerceSimulator
from shoptrack.simulators.magento2 import Magento2Simulator
from shoptrack.simulators.prestashop import PS_VERSION, PS_VERSION_1_7, PrestaShopSimulator
from shoptrack.simulators.shift4shop import Shift4ShopSimulator
from shoptrack.simulators.shopify import ShopifySimulator
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
        webhook_secret_field: The credential field holding the secret webhooks are signed
            with (``previous_`` + it + ``s`` holds those kept during a rotation).
        wall_clock_times: Whether the API writes times as the store's wall clock without an
            offset (Shift4Shop): in the hour a daylight-saving fall-back repeats, nothing tells
            the two moments a time names apart, so the connector lists such an order in a
            window around either moment and reads its time as the earlier one.
        variant: Names one of several harnesses of a platform (its stores set up differently,
            e.g. Magento 2's two ways of authenticating); empty for a platform's only one.
    """

    connector: Connector
    serve: Callable[[Clock], AbstractContextManager[SimulatedStore]]
    statuses: tuple[str, ...]
    custom_status: str | None
    secret_field: str
    window_edges: WindowEdges
    webhooks: bool = True
    pings: bool = False
    webhook_secret_field: str = "webhook_secret"
    wall_clock_times: bool = False
    variant: str = ""

    @property
    def platform(self) -> str:
        return self.connector.platform

    @property
    def name(self) -> str:
        """The platform, with the variant when there is one (``magento2-oauth``): test ids."""
        return f"{self.platform}-{self.variant}" if self.variant else self.platform


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


# -- BigCommerce -----------------------------------------------------------------------------

_BIGCOMMERCE_RECEIVER = "https://shoptrack.test/webhooks/bigcommerce"


class _BigCommerceStore:
    """``BigCommerceSimulator`` as a ``SimulatedStore`` (raw statuses are status ids as text)."""

    def __init__(
        self, simulator: BigCommerceSimulator, url: str, sent: list[WebhookRequest]
    ) -> None:
        self.simulator = simulator
        self.url = url
        self._sent = sent

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
            statuses=[int(status) for status in statuses],
            created=at,
            modified=at,
            interval=interval,
            total=total,
        )
        return [str(order_id) for order_id in ids]

    def set_status(self, order_id: str, status: str) -> None:
        self.simulator.set_status(int(order_id), int(status))

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        self.simulator.set_faults(faults)

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        # BigCommerce signs with the app's client secret, not one per hook: the app's secret
        # becomes ``secret``, then the connector subscribes through /v3/hooks as in production
        # (a second subscription finds its hooks there and adds none).
        self.simulator.client_secret = secret
        connector = connector_for("bigcommerce")
        credentials = connector.credentials_model.model_validate(
            self.credentials() | {"client_secret": secret}
        )
        with connector.client(credentials) as client:
            connector.register_webhooks(client, _BIGCOMMERCE_RECEIVER, credentials)
        return self._take()  # BigCommerce does not ping a new hook

    def deliver(self) -> list[WebhookRequest]:
        asyncio.run(self.simulator.deliver_pending())
        return self._take()

    def _take(self) -> list[WebhookRequest]:
        taken = list(self._sent)
        del self._sent[: len(taken)]
        return taken


@contextmanager
def _serve_bigcommerce(clock: Clock) -> Iterator[SimulatedStore]:
    sent: list[WebhookRequest] = []

    def receive(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        sent.append(WebhookRequest(headers, request.content))
        return httpx.Response(200)

    simulator = BigCommerceSimulator(
        clock=clock.now,
        webhook_delivery="manual",
        webhook_transport=httpx.MockTransport(receive),
    )
    with serving(simulator.app) as url:
        yield _BigCommerceStore(simulator, url, sent)


BIGCOMMERCE = PlatformHarness(
    connector=connector_for("bigcommerce"),
    serve=_serve_bigcommerce,
    # The system status ids; the first three are Awaiting Fulfillment, Shipped, Cancelled.
    statuses=("11", "2", "5", "0", "1", "3", "4", "6", "7", "8", "9", "10", "12", "13", "14"),
    # Merchants relabel statuses (custom_status) but cannot add any: the raw value stays an id.
    custom_status=None,
    secret_field="access_token",
    # min_date_modified / max_date_modified: taken as inclusive (undocumented; see the simulator).
    window_edges=WindowEdges(since=True, until=True),
    webhook_secret_field="client_secret",
)


# -- Shift4Shop ------------------------------------------------------------------------------


class _Shift4ShopStore:
    """``Shift4ShopSimulator`` as a ``SimulatedStore`` (raw statuses are ``OrderStatusID``s as
    text). Shift4Shop's webhooks are unsigned, so shoptrack polls it only."""

    def __init__(self, simulator: Shift4ShopSimulator, url: str) -> None:
        self.simulator = simulator
        self.url = url

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
            count, statuses=statuses, created=at, modified=at, interval=interval, total=total
        )
        return [str(order_id) for order_id in ids]

    def set_status(self, order_id: str, status: str) -> None:
        self.simulator.set_status(int(order_id), status)

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        self.simulator.set_faults(faults)

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        raise NotImplementedError("shoptrack subscribes to no Shift4Shop webhooks")

    def deliver(self) -> list[WebhookRequest]:
        raise NotImplementedError("shoptrack subscribes to no Shift4Shop webhooks")


@contextmanager
def _serve_shift4shop(clock: Clock) -> Iterator[SimulatedStore]:
    simulator = Shift4ShopSimulator(clock=clock.now)
    with serving(simulator.app) as url:
        yield _Shift4ShopStore(simulator, url)


SHIFT4SHOP = PlatformHarness(
    connector=connector_for("shift4shop"),
    serve=_serve_shift4shop,
    # The order queues of a new store: New, Processing, Partial, Shipped, Cancel, Hold, Not
    # Completed (an abandoned checkout), Unpaid, Review.
    statuses=("1", "2", "3", "4", "5", "6", "7", "11", "12"),
    # A custom queue slot a merchant named.
    custom_status="8",
    secret_field="token",
    # The API filters by whole days; the connector keeps what lies within the window, both
    # bounds included.
    window_edges=WindowEdges(since=True, until=True),
    webhooks=False,
    wall_clock_times=True,
)


# -- Magento 2 -------------------------------------------------------------------------------


class _Magento2Store:
    """``Magento2Simulator`` as a ``SimulatedStore`` (raw statuses are Magento's ``status``
    codes; custom ones are assigned to the ``processing`` state). Magento sends no webhooks, so
    shoptrack polls it only."""

    def __init__(self, simulator: Magento2Simulator, url: str, *, bearer: bool) -> None:
        self.simulator = simulator
        self.url = url
        self._bearer = bearer

    def credentials(self) -> dict[str, Any]:
        return self.simulator.credentials(self.url, bearer=self._bearer)

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
            count, statuses=statuses, created=at, modified=at, interval=interval, total=total
        )
        return [str(order_id) for order_id in ids]

    def set_status(self, order_id: str, status: str) -> None:
        self.simulator.set_status(int(order_id), status)

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        self.simulator.set_faults(faults)

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        raise NotImplementedError("Magento 2 sends no webhooks")

    def deliver(self) -> list[WebhookRequest]:
        raise NotImplementedError("Magento 2 sends no webhooks")


def _serve_magento2(*, bearer: bool) -> Callable[[Clock], AbstractContextManager[SimulatedStore]]:
    @contextmanager
    def serve(clock: Clock) -> Iterator[SimulatedStore]:
        # As a 2.4.4+ store: the access token alone is accepted only where the admin allowed
        # it; the OAuth store refuses it. Past the end, the last page again (pre-2.4 paging).
        simulator = Magento2Simulator(clock=clock.now, bearer_tokens=bearer)
        with serving(simulator.app) as url:
            yield _Magento2Store(simulator, url, bearer=bearer)

    return serve


# Both ways a merchant can connect an integration: its four keys (OAuth 1.0a, HMAC-SHA256, which
# every 2.4 store takes), or its access token alone (Bearer, where the store allows it).
MAGENTO2_STATUSES = (
    "pending",
    "processing",
    "complete",
    "holded",
    "canceled",
    "closed",
    "fraud",
    "payment_review",
    "pending_payment",
)
MAGENTO2_OAUTH = PlatformHarness(
    connector=connector_for("magento2"),
    serve=_serve_magento2(bearer=False),
    # InstallOrderStatusesAndInitialSalesConfig's statuses.
    statuses=MAGENTO2_STATUSES,
    custom_status="awaiting_shipment",
    secret_field="consumer_secret",
    # updated_at `gt` the start, `lteq` the end.
    window_edges=WindowEdges(since=False, until=True),
    webhooks=False,
    variant="oauth",
)
MAGENTO2_BEARER = PlatformHarness(
    connector=connector_for("magento2"),
    serve=_serve_magento2(bearer=True),
    statuses=MAGENTO2_STATUSES,
    custom_status="awaiting_shipment",
    secret_field="access_token",
    window_edges=WindowEdges(since=False, until=True),
    webhooks=False,
    variant="bearer",
)

# -- PrestaShop ------------------------------------------------------------------------------


class _PrestaShopStore:
    """``PrestaShopSimulator`` as a ``SimulatedStore`` (raw statuses are ``current_state`` ids as
    text). PrestaShop sends no webhooks, so shoptrack polls it only."""

    def __init__(self, simulator: PrestaShopSimulator, url: str) -> None:
        self.simulator = simulator
        self.url = url

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
            count, statuses=statuses, created=at, updated=at, interval=interval, total=total
        )
        return [str(order_id) for order_id in ids]

    def set_status(self, order_id: str, status: str) -> None:
        self.simulator.set_status(int(order_id), status)

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        self.simulator.set_faults(faults)

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        raise NotImplementedError("PrestaShop sends no webhooks")

    def deliver(self) -> list[WebhookRequest]:
        raise NotImplementedError("PrestaShop sends no webhooks")


def _serve_prestashop(version: str) -> Callable[[Clock], AbstractContextManager[SimulatedStore]]:
    @contextmanager
    def serve(clock: Clock) -> Iterator[SimulatedStore]:
        # Each version as it writes JSON: 1.7 every value a string and an empty list `[]`, 8.x
        # integers as integers and an empty list `{"orders":[]}`.
        simulator = PrestaShopSimulator(clock=clock.now, version=version)
        with serving(simulator.app) as url:
            yield _PrestaShopStore(simulator, url)

    return serve


def _prestashop(version: str, variant: str) -> PlatformHarness:
    return PlatformHarness(
        connector=connector_for("prestashop"),
        serve=_serve_prestashop(version),
        # The order states of a fresh 1.7/8 install (PS_OS_*), the usual path first: Payment
        # accepted, Processing in progress, Shipped.
        statuses=("2", "3", "4", "5", "6", "7", "1", "8", "9", "10", "11", "12", "13"),
        # A state a payment module adds (ids after the install's 13).
        custom_status="14",
        secret_field="webservice_key",
        # filter[date_upd]=[from,to] is an inclusive BETWEEN.
        window_edges=WindowEdges(since=True, until=True),
        webhooks=False,
        wall_clock_times=True,  # the shop's PS_TIMEZONE, without an offset
        variant=variant,
    )


PRESTASHOP_1_7 = _prestashop(PS_VERSION_1_7, "1.7")
PRESTASHOP_8 = _prestashop(PS_VERSION, "8")

# -- Shopify ---------------------------------------------------------------------------------

_SHOPIFY_RECEIVER = "https://shoptrack.test/webhooks/shopify"


class _ShopifyStore:
    """``ShopifySimulator`` as a ``SimulatedStore`` (raw statuses are financial statuses)."""

    def __init__(self, simulator: ShopifySimulator, url: str, sent: list[WebhookRequest]) -> None:
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
            count, statuses=statuses, at=at, interval=interval, total=total
        )
        return [str(order_id) for order_id in ids]

    def set_status(self, order_id: str, status: str) -> None:
        self.simulator.set_status(int(order_id), status)

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        self.simulator.set_faults(faults)

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        # Shopify signs every delivery with the app's client secret: it becomes ``secret``, then
        # the connector subscribes through webhooks.json as in production, at an address per
        # subscription (the connector leaves a topic alone once it points at an address).
        self.simulator.client_secret = secret
        self._subscriptions += 1
        connector = connector_for("shopify")
        credentials = connector.credentials_model.model_validate(
            self.credentials() | {"webhook_secret": secret}
        )
        with connector.client(credentials) as client:
            connector.register_webhooks(
                client, f"{_SHOPIFY_RECEIVER}/{self._subscriptions}", credentials
            )
        return self._take()  # Shopify does not ping a new subscription

    def deliver(self) -> list[WebhookRequest]:
        asyncio.run(self.simulator.deliver_pending())
        return self._take()

    def _take(self) -> list[WebhookRequest]:
        taken = list(self._sent)
        del self._sent[: len(taken)]
        return taken


@contextmanager
def _serve_shopify(clock: Clock) -> Iterator[SimulatedStore]:
    sent: list[WebhookRequest] = []

    def receive(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        sent.append(WebhookRequest(headers, request.content))
        return httpx.Response(200)

    simulator = ShopifySimulator(
        clock=clock.now,
        webhook_delivery="manual",
        webhook_transport=httpx.MockTransport(receive),
    )
    with serving(simulator.app) as url:
        yield _ShopifyStore(simulator, url, sent)


SHOPIFY = PlatformHarness(
    connector=connector_for("shopify"),
    serve=_serve_shopify,
    # The REST financial statuses (DESIGN: Shopify's raw status), the lifecycle's three first.
    # Cancellation and fulfilment are markers beside it, which the suite does not move.
    statuses=(
        "pending",
        "paid",
        "refunded",
        "authorized",
        "partially_paid",
        "partially_refunded",
        "voided",
    ),
    custom_status=None,  # merchants cannot add financial statuses
    secret_field="access_token",
    # updated_at_min / updated_at_max: "at or after", "at or before" (the Order resource docs).
    window_edges=WindowEdges(since=True, until=True),
)

HARNESSES: tuple[PlatformHarness, ...] = (
    WOOCOMMERCE,
    BIGCOMMERCE,
    SHIFT4SHOP,
    MAGENTO2_OAUTH,
    MAGENTO2_BEARER,
    PRESTASHOP_1_7,
    PRESTASHOP_8,
    SHOPIFY,
)
