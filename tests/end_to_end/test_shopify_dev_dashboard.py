"""A Shopify store connected as a merchant connects one today: a Dev Dashboard app's client id
and secret, entered through shoptrack's integration API. A simulated shop on a real socket
issues 24-hour tokens by the test's clock; its webhooks, signed with the app's client secret,
and shoptrack's syncs record Placed Order; the token is renewed without a failed sync, and never
shown."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.shopify import ShopifySimulator
from shoptrack.store.schema import integrations, sync_runs
from shoptrack.testing import make_shop
from tests.helpers import AppClient, event_counts
from tests.stores import serving

pytestmark = pytest.mark.slow


@dataclass
class World:
    services: Services
    clock: FrozenClock
    client: AppClient
    store: ShopifySimulator
    store_url: str
    account_id: str
    key: str
    integration_id: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Klaviyo-API-Key {self.key}"}

    def post_integration(self, credentials: dict[str, Any]) -> httpx.Response:
        return self.client.post(
            "/api/integrations",
            headers=self.auth,
            json={
                "data": {
                    "type": "integration",
                    "attributes": {
                        "platform": "shopify",
                        "name": "My Shopify store",
                        "credentials": credentials,
                    },
                }
            },
        )

    def connect(self) -> dict[str, Any]:
        response = self.post_integration(self.store.credentials(self.store_url, dev_dashboard=True))
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        self.integration_id = document["data"]["id"]
        return document

    def deliver(self) -> None:
        self.client.call(self.store.deliver_pending)
        Processor(self.services.database, self.services.clock).run_until_idle()

    def sync(self) -> Any:
        run_id = Syncer(self.services).run(self.account_id, self.integration_id)
        Processor(self.services.database, self.services.clock).run_until_idle()
        with self.services.database.read() as connection:
            return connection.execute(select(sync_runs).where(sync_runs.c.id == run_id)).one()

    def sealed_token(self) -> str | None:
        with self.services.database.read() as connection:
            return connection.execute(
                select(integrations.c.issued_token).where(integrations.c.id == self.integration_id)
            ).scalar()

    def placed(self) -> int:
        return event_counts(self.services, self.account_id).get("Placed Order", 0)


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> Iterator[World]:
    shop = make_shop(services)
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    store = ShopifySimulator(
        clock=clock.now,
        webhook_delivery="manual",
        webhook_transport=httpx.ASGITransport(app=app),
    )
    try:
        with serving(store.app) as store_url:
            yield World(
                services, clock, client, store, store_url, shop.account_id, shop.private_key
            )
    finally:
        client.close()


def test_client_id_and_secret_connect_the_store_end_to_end(world: World) -> None:
    document = world.connect()
    attributes = document["data"]["attributes"]
    assert attributes["health"] == "ok"
    assert "warnings" not in document.get("meta", {})
    # One token served the check and the webhook registration, and was kept.
    assert world.store.issued_tokens == 1
    assert world.sealed_token() is not None
    topics = {
        hook.topic for hook in world.store.webhooks if hook.address == attributes["webhook_url"]
    }
    assert {"orders/create", "orders/updated"} <= topics

    # A webhook signed with the app's client secret records Placed Order...
    world.store.add_orders(1, statuses=["paid"])
    world.deliver()
    assert world.placed() == 1

    # ...and so does a sync, with the same token.
    world.store.add_orders(1, statuses=["paid"])
    run = world.sync()
    assert run.state == "succeeded", run.error_detail
    assert world.placed() == 2
    assert world.store.issued_tokens == 1


def test_an_expired_token_is_renewed_without_a_failed_sync(world: World) -> None:
    world.connect()
    assert world.sync().state == "succeeded"
    first = world.sealed_token()

    world.clock.advance(timedelta(hours=25))  # the token expired an hour ago
    world.store.add_orders(1, statuses=["paid"])
    run = world.sync()

    assert run.state == "succeeded", run.error_detail
    assert world.store.issued_tokens == 2
    assert world.sealed_token() not in (None, first)
    assert world.placed() == 1
    with world.services.database.read() as connection:
        states = connection.execute(select(sync_runs.c.state)).scalars().all()
    assert set(states) == {"succeeded"}


def test_a_token_revoked_early_is_renewed_once_on_the_401(world: World) -> None:
    world.connect()
    world.store.revoke_issued_tokens()
    world.store.add_orders(1, statuses=["paid"])

    run = world.sync()

    assert run.state == "succeeded", run.error_detail
    assert world.store.issued_tokens == 2  # one renewal, then every page with it
    assert world.placed() == 1


def test_a_wrong_client_secret_is_refused_with_shopifys_answer(world: World) -> None:
    credentials = world.store.credentials(world.store_url, dev_dashboard=True)
    response = world.post_integration(credentials | {"client_secret": "shpss_wrong"})

    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "credentials_rejected"
    assert "invalid_client" in error["detail"]
    assert '"error":"invalid_client"' in error["meta"]["store_answer"]
    listed = world.client.get("/api/integrations", headers=world.auth).json()
    # Nothing was stored: the account keeps only the store make_shop connected.
    assert [item["attributes"]["platform"] for item in listed["data"]] == ["woocommerce"]


def test_the_token_is_never_shown_nor_stored_in_clear(world: World) -> None:
    world.connect()
    assert world.sync().state == "succeeded"
    (token,) = [value for value, kept in world.store._tokens.items() if kept.expires_at]

    shown = [
        world.client.get(f"/api/integrations/{world.integration_id}", headers=world.auth),
        world.client.get("/api/integrations", headers=world.auth),
        world.client.get(f"/api/integrations/{world.integration_id}/sync-runs", headers=world.auth),
    ]
    for response in shown:
        assert response.status_code == 200, response.text
        assert token not in response.text
        assert world.store.client_secret not in response.text
    fields = shown[0].json()["data"]["attributes"]["credential_fields"]
    assert fields == ["api_base_url", "client_id", "client_secret", "shop_domain"]
    sealed = world.sealed_token()
    assert sealed is not None
    assert token not in sealed


def test_an_admin_created_apps_token_keeps_working(world: World) -> None:
    response = world.post_integration(world.store.credentials(world.store_url))
    assert response.status_code == 201, response.text
    world.integration_id = response.json()["data"]["id"]
    world.store.add_orders(1, statuses=["paid"])
    world.deliver()
    assert world.sync().state == "succeeded"
    assert world.placed() == 1
    assert world.store.issued_tokens == 0
    assert world.sealed_token() is None


def test_an_order_delivered_by_webhook_then_polled_records_each_event_once(world: World) -> None:
    world.connect()
    (order_id,) = world.store.add_orders(1, statuses=["paid"], lines=2)
    world.deliver()  # the REST-shaped webhook
    assert world.placed() == 1

    run = world.sync()  # the same order, read through GraphQL

    assert run.state == "succeeded", run.error_detail
    counts = event_counts(world.services, world.account_id)
    assert counts.get("Placed Order") == 1
    assert counts.get("Ordered Product") == 2

    # A refund seen by the poll first, then by its webhook: one Refunded Order.
    world.clock.advance(timedelta(minutes=5))
    world.store.set_status(order_id, "refunded")
    assert world.sync().state == "succeeded"
    world.deliver()
    counts = event_counts(world.services, world.account_id)
    assert (counts.get("Placed Order"), counts.get("Refunded Order")) == (1, 1)
