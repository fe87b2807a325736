"""BigCommerce end to end: a simulated store on a real socket, connected through shoptrack's
integration API; its id-only webhooks become order fetches, and the fetched orders events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.pipeline.fetch import OrderFetcher
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.simulators.bigcommerce import BigCommerceSimulator
from shoptrack.store.order_fetches import COALESCE_DELAY
from shoptrack.store.schema import order_fetches, order_states
from shoptrack.testing import make_shop
from tests.helpers import AppClient, event_counts
from tests.stores import serving

pytestmark = pytest.mark.slow


@dataclass
class World:
    services: Services
    clock: FrozenClock
    client: AppClient
    store: BigCommerceSimulator
    store_url: str
    account_id: str
    key: str
    integration_id: str = ""

    def connect(self) -> dict[str, Any]:
        response = self.client.post(
            "/api/integrations",
            headers={"Authorization": f"Klaviyo-API-Key {self.key}"},
            json={
                "data": {
                    "type": "integration",
                    "attributes": {
                        "platform": "bigcommerce",
                        "name": "My BigCommerce store",
                        "credentials": self.store.credentials(self.store_url),
                    },
                }
            },
        )
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        self.integration_id = document["data"]["id"]
        return document

    def deliver(self) -> None:
        """The store's waiting webhooks reach intake; processing turns them into fetches,
        which run once due; what they fetched is processed."""
        self.client.call(self.store.deliver_pending)
        processor = Processor(self.services.database, self.services.clock)
        processor.run_until_idle()
        self.clock.advance(COALESCE_DELAY)
        OrderFetcher(self.services).run_due()
        processor.run_until_idle()

    def counts(self) -> dict[str, int]:
        return event_counts(self.services, self.account_id)

    def waiting_fetches(self) -> int:
        with self.services.database.read() as connection:
            query = select(func.count()).select_from(order_fetches)
            return int(connection.execute(query).scalar_one())


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: Standard Webhooks timestamps more than five minutes from the
    receiver's clock are refused as skew."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> Iterator[World]:
    shop = make_shop(services)
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    store = BigCommerceSimulator(
        clock=clock.now,
        webhook_delivery="manual",
        webhook_transport=httpx.ASGITransport(app=app),
        require_https_destinations=False,
    )
    try:
        with serving(store.app) as store_url:
            yield World(
                services, clock, client, store, store_url, shop.account_id, shop.private_key
            )
    finally:
        client.close()


def test_connecting_subscribes_to_the_order_scopes(world: World) -> None:
    document = world.connect()
    assert document["data"]["attributes"]["health"] == "ok"
    scopes = {hook.scope for hook in world.store.hooks if hook.is_active}
    assert scopes == {
        "store/order/created",
        "store/order/updated",
        "store/order/statusUpdated",
        "store/order/refund/created",
    }
    destinations = {hook.destination for hook in world.store.hooks}
    assert destinations == {document["data"]["attributes"]["webhook_url"]}


def test_unpaid_orders_record_nothing_until_they_await_fulfillment(world: World) -> None:
    world.connect()
    unpaid = world.store.add_orders(3, statuses=[0, 1, 7])  # Incomplete, Pending, Awaiting Payment
    world.deliver()
    assert world.counts() == {}
    assert world.waiting_fetches() == 0  # every named order was fetched, and kept
    with world.services.database.read() as connection:
        kept = dict(
            connection.execute(
                select(order_states.c.platform_order_id, order_states.c.raw_status)
            ).all()
        )
    assert kept == {str(order_id): status for order_id, status in zip(unpaid, "017", strict=True)}

    awaiting_payment = unpaid[2]

    world.store.set_status(awaiting_payment, 11)  # paid: Awaiting Fulfillment
    world.deliver()
    lines = len(world.store.products(awaiting_payment))
    assert world.counts() == {"Placed Order": 1, "Ordered Product": lines}

    # The same order seen again (a repeat of the webhook, the next poll) records nothing more.
    world.store.set_status(awaiting_payment, 11)
    world.deliver()
    assert world.counts() == {"Placed Order": 1, "Ordered Product": lines}


def test_an_order_first_seen_declined_records_nothing_and_is_kept_skipped(world: World) -> None:
    world.connect()
    (declined,) = world.store.add_orders(1, statuses=[6])
    world.deliver()
    assert world.counts() == {}
    with world.services.database.read() as connection:
        state = connection.execute(
            select(order_states.c.raw_status, order_states.c.skipped).where(
                order_states.c.platform_order_id == str(declined)
            )
        ).one()
    assert (state.raw_status, state.skipped) == ("6", True)


def test_a_placed_order_is_then_fulfilled_and_refunded(world: World) -> None:
    world.connect()
    (order_id,) = world.store.add_orders(1, statuses=[11], total="80.00")
    world.deliver()
    assert world.counts()["Placed Order"] == 1
    world.clock.advance(timedelta(minutes=3))
    world.store.set_status(order_id, 2)  # Shipped
    world.deliver()
    world.clock.advance(timedelta(minutes=3))
    world.store.refund(order_id, Decimal("80.00"))
    world.deliver()
    counts = world.counts()
    assert counts["Fulfilled Order"] == 1
    assert counts["Refunded Order"] == 1


def test_deliveries_about_one_order_make_one_fetch(world: World) -> None:
    world.connect()
    (order_id,) = world.store.add_orders(1, statuses=[7])
    world.store.set_status(order_id, 11)
    world.store.set_status(order_id, 9)  # Awaiting Shipment
    world.client.call(world.store.deliver_pending)
    Processor(world.services.database, world.services.clock).run_until_idle()
    assert world.waiting_fetches() == 1
    world.clock.advance(COALESCE_DELAY)
    assert OrderFetcher(world.services).run_due() == 1
    Processor(world.services.database, world.services.clock).run_until_idle()
    assert world.counts()["Placed Order"] == 1
