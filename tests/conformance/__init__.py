"""Platform harnesses for the connector conformance suite (``test_connectors.py``).

The suite checks every connector the same way against its platform's simulator. It knows a
platform only through a ``PlatformHarness``: the connector, how to serve the simulator with a
clock, and a few declarations about the platform. The running simulator is a ``ServedStore``: the
platform's ``SimulatedShop`` on a real socket, driven the way the platform's shop admin and
checkout would drive a real store, in the suite's vocabulary (raw statuses and order ids as
text).

Adding a platform is one entry in ``HARNESSES``: a ``PlatformHarness`` whose ``serve`` runs that
platform's simulator as a ``ServedStore`` (``_serve`` with what sets the platform apart). The
suite fails while a connector known to shoptrack has no harness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from shoptrack.clock import Clock
from shoptrack.connectors import Connector, connector_for
from shoptrack.simulators import SimulatedShop
from shoptrack.simulators.bigcommerce import BigCommerceSimulator
from shoptrack.simulators.magento2 import Magento2Simulator
from shoptrack.simulators.prestashop import PS_VERSION, PS_VERSION_1_7, PrestaShopSimulator
from shoptrack.simulators.shift4shop import Shift4ShopSimulator
from shoptrack.simulators.shopify import ShopifySimulator
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.testing import SIMULATOR_GUARD
from tests.stores import serving

__all__ = [
    "HARNESSES",
    "PlatformHarness",
    "ServedStore",
    "WebhookRequest",
    "WindowEdges",
]


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One request a store sent to a webhook URL: header names in lower case, the raw body."""

    headers: dict[str, str]
    body: bytes


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
    serve: Callable[[Clock], AbstractContextManager[ServedStore]]
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


# -- the simulators as ServedStores ------------------------------------------------------------

# Where simulators "send" webhooks: a transport keeps them, so no server needs to listen.
_RECEIVER = "https://shoptrack.test/webhooks"


@dataclass
class ServedStore:
    """A platform's simulated shop serving on a real socket, as the conformance suite drives it.

    What differs between platforms is said here: how a raw status is written to the simulator,
    how totals and credentials are given, and how webhooks are subscribed. Faults are the
    ``SimulatedShop``'s.
    """

    simulator: SimulatedShop
    url: str
    platform: str
    # The deliveries the simulator sent and nobody took yet; None where it sends none.
    sent: list[WebhookRequest] | None
    status: Callable[[str], Any] = str
    credential_options: Mapping[str, Any] = field(default_factory=dict)
    # The simulator's attribute holding the app secret that signs every delivery (Shopify,
    # BigCommerce); None where shoptrack hands the store a secret per webhook (WooCommerce).
    signing_secret: str | None = None
    secret_field: str = "webhook_secret"
    # Whether each subscription gets an address of its own (the connector leaves a topic alone
    # once it points at an address); BigCommerce's hooks are found again at the same address.
    new_address_each_time: bool = True
    _subscriptions: int = 0

    def credentials(self) -> dict[str, Any]:
        """Working credentials for this store, as a merchant enters them."""
        return dict(self.simulator.credentials(self.url, **self.credential_options))

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
        ids = self.simulator.add_orders(
            count,
            statuses=[self.status(status) for status in statuses],
            created=at,
            modified=at,
            interval=interval,
            total=total,
        )
        return [str(order_id) for order_id in ids]

    def set_status(self, order_id: str, status: str) -> None:
        """Changes an order's status as the shop admin would, at the store's clock."""
        self.simulator.set_status(int(order_id), self.status(status))

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        """Switches misbehaviour on (see ``SimulatedShop``)."""
        self.simulator.set_faults(faults)

    def subscribe(self, secret: str) -> list[WebhookRequest]:
        """Makes the store send its order webhooks, signed with ``secret``, from now on; returns
        what it sent while subscribing (its pings, where the platform pings)."""
        # As shoptrack subscribes in production: the connector registers through the API.
        if self.signing_secret is not None:
            setattr(self.simulator, self.signing_secret, secret)
        self._subscriptions += 1
        address = f"{_RECEIVER}/{self.platform}"
        if self.new_address_each_time:
            address += f"/{self._subscriptions}"
        connector = connector_for(self.platform)
        credentials = connector.credentials_model.model_validate(
            self.credentials() | {self.secret_field: secret}
        )
        with connector.client(credentials, guard=SIMULATOR_GUARD) as client:
            connector.register_webhooks(client, address, credentials)
        return self._take()

    def deliver(self) -> list[WebhookRequest]:
        """Sends the webhook deliveries waiting; returns them in the order they were sent."""
        # The simulator delivers from its own event loop, as the platform's queue would.
        asyncio.run(self.simulator.deliver_pending())
        return self._take()

    def _take(self) -> list[WebhookRequest]:
        if self.sent is None:
            raise NotImplementedError(f"{self.platform} sends no webhooks")
        taken = list(self.sent)
        del self.sent[: len(taken)]
        return taken


Build = Callable[[Clock, httpx.MockTransport], SimulatedShop]


def _serve(
    platform: str, build: Build, *, webhooks: bool = True, **options: Any
) -> Callable[[Clock], AbstractContextManager[ServedStore]]:
    """Serves a fresh simulator from ``build`` (its clock, the transport its deliveries go to)
    as a ``ServedStore`` with ``options``."""

    @contextmanager
    def serve(clock: Clock) -> Iterator[ServedStore]:
        sent: list[WebhookRequest] = []

        def receive(request: httpx.Request) -> httpx.Response:
            headers = {name.lower(): value for name, value in request.headers.items()}
            sent.append(WebhookRequest(headers, request.content))
            return httpx.Response(200)

        simulator = build(clock, httpx.MockTransport(receive))
        with serving(simulator.app) as url:
            yield ServedStore(simulator, url, platform, sent if webhooks else None, **options)

    return serve


# -- the platforms ----------------------------------------------------------------------------

# Deliveries wait for deliver(), so a test sees exactly the ones its changes caused.
WOOCOMMERCE = PlatformHarness(
    connector=connector_for("woocommerce"),
    serve=_serve(
        "woocommerce",
        lambda clock, transport: WooCommerceSimulator(
            clock=clock.now, webhook_delivery="manual", webhook_transport=transport
        ),
    ),
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

BIGCOMMERCE = PlatformHarness(
    connector=connector_for("bigcommerce"),
    serve=_serve(
        "bigcommerce",
        lambda clock, transport: BigCommerceSimulator(
            clock=clock.now, webhook_delivery="manual", webhook_transport=transport
        ),
        status=int,  # raw statuses are status ids as text
        # Signed with the app's client secret; a second subscription finds its hooks in
        # /v3/hooks and adds none. BigCommerce does not ping a new hook.
        signing_secret="client_secret",
        secret_field="client_secret",
        new_address_each_time=False,
    ),
    # The system status ids; the first three are Awaiting Fulfillment, Shipped, Cancelled.
    statuses=("11", "2", "5", "0", "1", "3", "4", "6", "7", "8", "9", "10", "12", "13", "14"),
    # Merchants relabel statuses (custom_status) but cannot add any: the raw value stays an id.
    custom_status=None,
    secret_field="access_token",
    # min_date_modified / max_date_modified: taken as inclusive (undocumented; see the simulator).
    window_edges=WindowEdges(since=True, until=True),
    webhook_secret_field="client_secret",
)

# Shift4Shop's webhooks are unsigned, so shoptrack polls it only.
SHIFT4SHOP = PlatformHarness(
    connector=connector_for("shift4shop"),
    serve=_serve(
        "shift4shop", lambda clock, _: Shift4ShopSimulator(clock=clock.now), webhooks=False
    ),
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


def _magento2(*, bearer: bool) -> PlatformHarness:
    """Magento 2 connected either way a merchant can: its four keys (OAuth 1.0a, HMAC-SHA256,
    which every 2.4 store takes), or its access token alone (Bearer, where the admin allowed it;
    the OAuth store refuses it, as 2.4.4+ does). Past the end, the last page again."""
    return PlatformHarness(
        connector=connector_for("magento2"),
        serve=_serve(
            "magento2",
            lambda clock, _: Magento2Simulator(clock=clock.now, bearer_tokens=bearer),
            webhooks=False,
            credential_options={"bearer": bearer},
        ),
        # InstallOrderStatusesAndInitialSalesConfig's statuses; custom ones are assigned to the
        # processing state.
        statuses=(
            "pending",
            "processing",
            "complete",
            "holded",
            "canceled",
            "closed",
            "fraud",
            "payment_review",
            "pending_payment",
        ),
        custom_status="awaiting_shipment",
        secret_field="access_token" if bearer else "consumer_secret",
        # updated_at `gt` the start, `lteq` the end.
        window_edges=WindowEdges(since=False, until=True),
        webhooks=False,
        variant="bearer" if bearer else "oauth",
    )


MAGENTO2_OAUTH = _magento2(bearer=False)
MAGENTO2_BEARER = _magento2(bearer=True)


def _prestashop(version: str, variant: str) -> PlatformHarness:
    """PrestaShop as each version writes JSON: 1.7 every value a string and an empty list
    ``[]``, 8.x integers as integers and an empty list ``{"orders":[]}``."""
    return PlatformHarness(
        connector=connector_for("prestashop"),
        serve=_serve(
            "prestashop",
            lambda clock, _: PrestaShopSimulator(clock=clock.now, version=version),
            webhooks=False,
        ),
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


def _shopify(variant: str, **credential_options: Any) -> PlatformHarness:
    return PlatformHarness(
        connector=connector_for("shopify"),
        serve=_serve(
            "shopify",
            lambda clock, transport: ShopifySimulator(
                clock=clock.now, webhook_delivery="manual", webhook_transport=transport
            ),
            # Every delivery is signed with the app's client secret. Shopify does not ping a
            # new subscription.
            signing_secret="client_secret",
            credential_options=credential_options,
        ),
        # The REST financial statuses (DESIGN: Shopify's raw status), the lifecycle's three
        # first. Cancellation and fulfilment are markers beside it, which the suite does not
        # move.
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
        # An admin-created app's token; a Dev Dashboard app's secret, refused by the token
        # endpoint before any Admin API call.
        secret_field="client_secret" if credential_options else "access_token",
        # updated_at_min / updated_at_max: "at or after", "at or before" (the Order resource
        # docs).
        window_edges=WindowEdges(since=True, until=True),
        variant=variant,
    )


# An app created in the Shopify admin (its access token), and a Dev Dashboard app (its client
# id and secret: the client credentials grant's tokens).
SHOPIFY = _shopify("")
SHOPIFY_DEV_DASHBOARD = _shopify("dev-dashboard", dev_dashboard=True)

HARNESSES: tuple[PlatformHarness, ...] = (
    WOOCOMMERCE,
    BIGCOMMERCE,
    SHIFT4SHOP,
    MAGENTO2_OAUTH,
    MAGENTO2_BEARER,
    PRESTASHOP_1_7,
    PRESTASHOP_8,
    SHOPIFY,
    SHOPIFY_DEV_DASHBOARD,
)
