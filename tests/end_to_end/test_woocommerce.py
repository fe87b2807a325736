"""WooCommerce end to end: a simulated store on a real socket, connected through shoptrack's
integration API, its webhooks delivered to shoptrack's intake and its orders polled by sync."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.store.schema import events, integrations, metrics
from shoptrack.testing import make_shop
from tests.helpers import AppClient, event_counts, inbox_states
from tests.stores import serving

pytestmark = pytest.mark.slow


@dataclass
class World:
    services: Services
    clock: FrozenClock
    client: AppClient
    store: WooCommerceSimulator
    store_url: str
    account_id: str
    key: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Klaviyo-API-Key {self.key}"}

    def post_integration(
        self, credentials: dict[str, str], name: str = "My Woo shop", **settings: Any
    ) -> httpx.Response:
        return self.client.post(
            "/api/integrations",
            headers=self.headers(),
            json={
                "data": {
                    "type": "integration",
                    "attributes": {
                        "platform": "woocommerce",
                        "name": name,
                        "credentials": credentials,
                        "settings": settings,
                    },
                }
            },
        )

    def connect(self, **settings: Any) -> dict[str, Any]:
        response = self.post_integration(self.store.credentials(self.store_url), **settings)
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        return document

    def deliver(self) -> None:
        self.client.call(self.store.deliver_pending)
        self.process()

    def process(self) -> None:
        Processor(self.services.database, self.services.clock).run_until_idle()

    def counts(self) -> dict[str, int]:
        return event_counts(self.services, self.account_id)


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: OAuth signatures carry the machine's time, and the store refuses
    one more than 15 minutes away from its own clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> Iterator[World]:
    shop = make_shop(
        services
    )  # an account with a key (its own WooCommerce test integration unused)
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    store = WooCommerceSimulator(
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


def test_connecting_checks_keys_registers_webhooks_and_creates_metrics(world: World) -> None:
    document = world.connect()
    attributes = document["data"]["attributes"]
    assert attributes["health"] == "ok"
    assert attributes["webhook_url"].endswith(f"/webhooks/woocommerce/{document['data']['id']}")
    assert "consumer_secret" in attributes["credential_fields"]
    assert "consumer_secret" not in str(document["data"]["attributes"]["settings"])
    assert world.store.consumer_secret not in str(document)
    topics = sorted(hook.topic for hook in world.store.webhooks)
    assert topics == ["order.created", "order.updated"]
    # The store pinged each new webhook and shoptrack answered 200.
    assert [d.status for d in world.store.deliveries] == [200, 200]
    listed = world.client.get("/api/metrics", headers=world.headers()).json()["data"]
    ours = [m for m in listed if m["attributes"]["integration"]["id"] == document["data"]["id"]]
    assert {m["attributes"]["name"] for m in ours} >= {
        "Placed Order",
        "Ordered Product",
        "Fulfilled Order",
        "Cancelled Order",
        "Refunded Order",
    }
    assert {m["attributes"]["integration"]["name"] for m in ours} == {"My Woo shop"}


def test_wrong_secret_is_422_with_the_stores_answer(world: World) -> None:
    credentials = world.store.credentials(world.store_url) | {"consumer_secret": "cs_wrong"}
    response = world.post_integration(credentials, name="x")
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["code"] == "credentials_rejected"
    assert "woocommerce_rest" in error["meta"]["store_answer"]


def test_padded_keys_are_trimmed_and_said(world: World) -> None:
    credentials = world.store.credentials(world.store_url)
    credentials["consumer_key"] = f"  {credentials['consumer_key']} "
    response = world.post_integration(credentials, name="x")
    assert response.status_code == 201
    assert response.json()["meta"]["trimmed_fields"] == ["consumer_key"]


def test_a_firewall_still_connects_with_health_error(world: World) -> None:
    world.store.set_faults({"firewall_user_agent": "shoptrack"})
    document = world.connect()
    assert document["data"]["attributes"]["health"] == "error"
    assert document["data"]["attributes"]["health_detail"]["code"] == "firewall_blocked"
    assert any("firewall" in warning for warning in document["meta"]["warnings"])


def test_placed_order_at_processing_then_fulfilled_through_webhooks(world: World) -> None:
    world.connect()
    (order_id,) = world.store.add_orders(statuses=["pending"], email="Ada@Example.com")
    world.deliver()
    assert world.counts() == {}
    world.store.set_status(order_id, "processing")
    world.clock.advance(timedelta(minutes=1))
    world.deliver()
    placed = world.counts()
    assert placed["Placed Order"] == 1
    world.store.set_status(order_id, "completed")
    world.clock.advance(timedelta(minutes=1))
    world.deliver()
    assert world.counts()["Fulfilled Order"] == 1
    assert world.counts()["Placed Order"] == 1


def test_virtual_order_straight_to_completed_records_placed_and_fulfilled(world: World) -> None:
    world.connect()
    world.store.add_orders(statuses=["completed"])
    world.deliver()
    counts = world.counts()
    assert counts["Placed Order"] == 1
    assert counts["Fulfilled Order"] == 1


def test_custom_status_is_kept_and_recorded_after_the_rule_change(world: World) -> None:
    world.store.set_faults({"custom_statuses": ["awaiting-shipment"]})
    document = world.connect()
    world.store.add_orders(statuses=["awaiting-shipment"])
    world.deliver()
    assert world.counts() == {}
    response = world.client.request(
        "PATCH",
        f"/api/integrations/{document['data']['id']}",
        headers=world.headers(),
        json={
            "data": {
                "type": "integration",
                "attributes": {
                    "settings": {
                        "placed_statuses": {"include": ["processing", "awaiting-shipment"]}
                    }
                },
            }
        },
    )
    assert response.status_code == 200, response.text
    assert world.counts()["Placed Order"] == 1
    with world.services.database.read() as connection:
        flags = connection.execute(
            select(events.c.backfill)
            .join(metrics, metrics.c.id == events.c.metric_id)
            .where(metrics.c.name == "Placed Order")
        ).scalars()
        assert set(flags) == {True}


def test_webhooks_and_polls_duplicated_and_reordered_give_each_event_once(world: World) -> None:
    document = world.connect(backfill_days=1)
    integration_id = document["data"]["id"]
    world.store.set_faults({"duplicate_webhooks": True, "reorder_webhooks": True})
    ids = world.store.add_orders(3, statuses=["pending"])
    for order_id in ids:
        world.store.set_status(order_id, "processing")
        world.store.set_status(order_id, "completed")
    world.clock.advance(timedelta(minutes=5))
    world.deliver()
    Syncer(world.services).run(world.account_id, integration_id)
    world.process()
    Syncer(world.services).run(world.account_id, integration_id)  # the same window again
    world.process()
    counts = world.counts()
    assert counts["Placed Order"] == 3
    assert counts["Fulfilled Order"] == 3
    assert counts["Ordered Product"] == sum(len(world.store.order(i)["line_items"]) for i in ids)


def test_forged_webhook_is_401_and_listed_as_rejected(world: World) -> None:
    document = world.connect()
    integration_id = document["data"]["id"]
    body = b'{"id": 1, "status": "processing"}'
    response = world.client.post(
        f"/webhooks/woocommerce/{integration_id}",
        content=body,
        headers={"x-wc-webhook-signature": "Zm9yZ2Vk", "x-wc-webhook-topic": "order.updated"},
    )
    assert response.status_code == 401
    listed = world.client.get(
        f"/api/integrations/{integration_id}/deliveries?state=rejected", headers=world.headers()
    ).json()["data"]
    assert len(listed) == 1
    assert "signature" in listed[0]["attributes"]["reason"]


def test_first_sync_pages_through_history_then_only_changes(world: World) -> None:
    now = world.clock.now()
    world.store.add_orders(
        250,
        statuses=["processing", "completed", "pending"],
        created=now - timedelta(days=30),
        interval=timedelta(minutes=10),
    )
    document = world.connect(backfill_days=90)
    integration_id = document["data"]["id"]
    run_id = Syncer(world.services).run(world.account_id, integration_id)
    fetched = world.client.get(
        f"/api/integrations/{integration_id}/sync-runs/{run_id}", headers=world.headers()
    ).json()["data"]["attributes"]
    assert fetched["state"] == "succeeded"
    assert fetched["pending_rows"] == 250  # read and stored, none processed yet
    assert fetched["events_recorded"] == 0
    world.process()
    runs = world.client.get(
        f"/api/integrations/{integration_id}/sync-runs", headers=world.headers()
    ).json()["data"]
    first = runs[0]["attributes"]
    assert runs[0]["id"] == run_id
    assert first["state"] == "succeeded"
    assert first["backfill"] is True
    assert first["orders_seen"] == 250
    assert first["pages"] == 3
    assert first["events_recorded"] > 0
    assert first["pending_rows"] == 0
    placed_before = world.counts()["Placed Order"]
    assert placed_before == 167  # two in three are processing or completed
    with world.services.database.read() as connection:
        cursor = connection.execute(
            select(integrations.c.sync_cursor).where(integrations.c.id == integration_id)
        ).scalar_one()
    assert cursor["updated_at"] <= world.clock.now().isoformat()

    # Small steps: the store refuses OAuth timestamps 15 minutes away from its clock.
    world.clock.advance(timedelta(minutes=2))
    (new_order,) = world.store.add_orders(statuses=["processing"])
    world.clock.advance(timedelta(minutes=1))
    second_id = Syncer(world.services).run(world.account_id, integration_id)
    world.process()
    second = world.client.get(
        f"/api/integrations/{integration_id}/sync-runs/{second_id}", headers=world.headers()
    ).json()["data"]["attributes"]
    assert second["backfill"] is False
    assert second["rows_written"] == 1  # the overlap re-reads nothing it already has
    assert world.counts()["Placed Order"] == placed_before + 1
    assert world.store.order(new_order)["status"] == "processing"


def test_store_errors_fail_the_run_with_their_class(world: World) -> None:
    document = world.connect()
    integration_id = document["data"]["id"]
    world.store.set_faults({"firewall_user_agent": "shoptrack"})
    run_id = Syncer(world.services).run(world.account_id, integration_id)
    run = world.client.get(
        f"/api/integrations/{integration_id}/sync-runs/{run_id}", headers=world.headers()
    ).json()["data"]["attributes"]
    assert run["state"] == "failed"
    assert run["error"]["code"] == "firewall_blocked"
    assert run["error"]["kind"] == "config"
    assert "cloudflare" in run["error"]["store_answer"].lower()
    assert inbox_states(world.services) == {}


def test_money_is_exact(world: World) -> None:
    world.connect()
    world.store.add_orders(statuses=["processing"], total="0.30", lines=3)
    world.deliver()
    with world.services.database.read() as connection:
        values = connection.execute(select(events.c.value)).scalars().all()
    assert Decimal("0.3000") in values


def test_deliveries_are_replayed_by_range_and_record_nothing_twice(world: World) -> None:
    document = world.connect()
    integration_id = document["data"]["id"]
    world.store.add_orders(2, statuses=["processing"])
    world.deliver()
    placed = world.counts()["Placed Order"]
    since = (world.clock.now() - timedelta(minutes=1)).isoformat()

    def replay(attributes: dict[str, Any]) -> Any:
        return world.client.post(
            f"/api/integrations/{integration_id}/deliveries/replay",
            headers=world.headers(),
            json={"data": {"type": "delivery-replay", "attributes": attributes}},
        )

    answer = replay({"states": ["processed"], "since": since})
    assert answer.status_code == 202
    assert answer.json()["meta"]["queued"] == 2
    assert world.counts()["Placed Order"] == placed
    assert replay({"states": ["processed"], "since": "yesterday"}).status_code == 400
    assert replay({"states": ["rejected"]}).status_code == 400


def test_another_accounts_key_never_reaches_the_integration(world: World) -> None:
    from shoptrack.store.accounts import create_account

    integration_id = world.connect()["data"]["id"]
    with world.services.database.write() as connection:
        _account, key = create_account(connection, "Someone else", world.clock.now())
    theirs = {"Authorization": f"Klaviyo-API-Key {key.key}"}
    base = f"/api/integrations/{integration_id}"
    patch = {"data": {"type": "integration", "attributes": {"name": "mine now"}}}
    replay = {"data": {"type": "delivery-replay", "attributes": {"states": ["processed"]}}}
    answers = [
        world.client.get(base, headers=theirs),
        world.client.request("PATCH", base, headers=theirs, json=patch),
        world.client.post(f"{base}/sync", headers=theirs),
        world.client.get(f"{base}/sync-runs", headers=theirs),
        world.client.get(f"{base}/deliveries", headers=theirs),
        world.client.post(f"{base}/deliveries/replay", headers=theirs, json=replay),
        world.client.request("DELETE", base, headers=theirs),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert world.client.get("/api/integrations", headers=theirs).json()["data"] == []
    assert (
        world.client.get(base, headers=world.headers()).json()["data"]["attributes"]["name"]
        == "My Woo shop"
    )
