"""Flows end to end: simulated WooCommerce stores on real sockets, their webhooks into
shoptrack's intake, the flow engine delivering to a real SMTP server, and ``shoptrack flows``
as a user runs it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.flows.engine import FlowEngine
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.testing import make_shop
from tests.flow_support import Mailbox, SmtpServer, create_flow, flow_engine, process, smtp
from tests.helpers import AppClient
from tests.processes import environment, run_cli
from tests.stores import serving

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.slow


@dataclass
class Store:
    simulator: WooCommerceSimulator
    url: str
    integration_id: str = ""


@dataclass
class World:
    services: Services
    clock: FrozenClock
    client: AppClient
    engine: FlowEngine
    mailbox: Mailbox
    account_id: str
    key: str
    stores: list[Store]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Klaviyo-API-Key {self.key}"}

    def connect(self, store: Store, name: str, **settings: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/integrations",
            headers=self.headers(),
            json={
                "data": {
                    "type": "integration",
                    "attributes": {
                        "platform": "woocommerce",
                        "name": name,
                        "credentials": store.simulator.credentials(store.url),
                        "settings": settings,
                    },
                }
            },
        )
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        store.integration_id = document["data"]["id"]
        return document

    def placed_order_metric(self, store: Store) -> str:
        listed = self.client.get("/api/metrics", headers=self.headers()).json()["data"]
        return str(
            next(
                m["id"]
                for m in listed
                if m["attributes"]["name"] == "Placed Order"
                and m["attributes"]["integration"]["id"] == store.integration_id
            )
        )

    def deliver(self, store: Store) -> None:
        """The store's pending webhooks into intake, processed, and the flows' due steps."""
        self.client.call(store.simulator.deliver_pending)
        process(self.services)
        self.engine.run_until_idle()


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: OAuth signatures carry the machine's time, and the store refuses
    one more than 15 minutes away from its own clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def world(services: Services, clock: FrozenClock, smtp: SmtpServer) -> Iterator[World]:
    shop = make_shop(services)  # an account with a key (its own test integration unused)
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    simulators = [
        WooCommerceSimulator(
            clock=clock.now,
            webhook_delivery="manual",
            webhook_transport=httpx.ASGITransport(app=app),
        )
        for _ in range(2)
    ]
    engine = flow_engine(services, smtp)
    try:
        with serving(simulators[0].app) as old_url, serving(simulators[1].app) as new_url:
            yield World(
                services,
                clock,
                client,
                engine,
                smtp.mailbox,
                shop.account_id,
                shop.private_key,
                [Store(simulators[0], old_url), Store(simulators[1], new_url)],
            )
    finally:
        engine.close()
        client.close()


def test_a_placed_order_sends_the_thank_you_with_the_ordered_items(world: World) -> None:
    old = world.stores[0]
    world.connect(old, "Old shop")
    flow = create_flow(world.client, world, "post-purchase", world.placed_order_metric(old))
    (order_id,) = old.simulator.add_orders(
        statuses=["processing"], email="Ada@Example.com", lines=2
    )
    world.deliver(old)
    (sent,) = world.mailbox.messages
    order = old.simulator.order(order_id)
    assert sent["To"] == "ada@example.com"
    assert sent["Subject"] == f"Thank you for your first order, {order['number']}!"
    text = Mailbox.text(sent)
    for line in order["line_items"]:
        assert f"{line['quantity']} x {line['name']}" in text
    assert f"Total: {order['total']}" in text
    html = Mailbox.html(sent)
    assert order["line_items"][0]["name"] in html
    assert sent["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/unsubscribe/")
    # The same order's later webhooks (completed) and a repeated delivery send nothing more.
    old.simulator.set_status(order_id, "completed")
    world.clock.advance(timedelta(minutes=1))
    world.deliver(old)
    assert len(world.mailbox.messages) == 1
    assert flow["data"]["attributes"]["status"] == "live"


def test_backfilled_orders_send_nothing(world: World) -> None:
    old = world.stores[0]
    old.simulator.add_orders(
        3,
        statuses=["processing"],
        created=world.clock.now() - timedelta(days=5),
        interval=timedelta(hours=1),
    )
    document = world.connect(old, "Old shop", backfill_days=30)
    create_flow(world.client, world, "post-purchase", world.placed_order_metric(old))
    Syncer(world.services).run(world.account_id, document["data"]["id"])
    process(world.services)
    assert world.engine.run_until_idle().claimed == 0
    assert world.mailbox.messages == []


def test_after_a_platform_switch_and_retarget_the_new_store_triggers_the_flow(
    world: World, tmp_path: Path
) -> None:
    old, new = world.stores
    world.connect(old, "Old shop")
    old_metric = world.placed_order_metric(old)
    flow = create_flow(world.client, world, "post-purchase", old_metric)
    old.simulator.add_orders(statuses=["processing"], email="before@example.com")
    world.deliver(old)
    assert [m["To"] for m in world.mailbox.messages] == ["before@example.com"]

    world.connect(new, "New shop")
    new_metric = world.placed_order_metric(new)
    new.simulator.add_orders(statuses=["processing"], email="lost@example.com")
    world.deliver(new)
    assert len(world.mailbox.messages) == 1  # the flow still listens to the old store

    # The doctor's advice, through the CLI as a merchant runs it.
    env = environment(world.services.settings.resolved_database_url(), tmp_path / "data")
    result = run_cli(
        env, "flows", "retarget", "--from-metric", old_metric, "--to-metric", new_metric, "--json"
    )
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["data"]["attributes"]["flow_ids"] == [flow["data"]["id"]]

    new.simulator.add_orders(statuses=["processing"], email="after@example.com")
    world.clock.advance(timedelta(minutes=1))
    world.deliver(new)
    old.simulator.add_orders(statuses=["processing"], email="oldstore@example.com")
    world.deliver(old)
    assert [m["To"] for m in world.mailbox.messages] == ["before@example.com", "after@example.com"]


def test_the_quiet_warning_names_the_new_integrations_placed_order(world: World) -> None:
    old, new = world.stores
    world.connect(old, "Old shop")
    old.simulator.add_orders(statuses=["processing"])
    world.deliver(old)
    busy = create_flow(
        world.client, world, "post-purchase", world.placed_order_metric(old), "draft"
    )
    assert busy["meta"]["warnings"] == []
    world.connect(new, "New shop")
    quiet = create_flow(
        world.client, world, "post-purchase", world.placed_order_metric(new), "draft"
    )
    (warning,) = quiet["meta"]["warnings"]
    assert warning["detail"].startswith("We haven't received Placed Order events recently")
    assert "New shop" in warning["detail"]
    assert warning["links"]["diagnostics"].endswith("/api/diagnostics")


def test_the_flows_command(services: Services, tmp_path: Path) -> None:
    make_shop(services)
    env = environment(services.settings.resolved_database_url(), tmp_path / "data")
    created = run_cli(env, "flows", "create", "post-purchase", "--status", "live", "--json")
    assert created.returncode == 0, created.stderr
    document = orjson.loads(created.stdout)
    flow_id = document["data"]["id"]
    assert document["data"]["attributes"]["trigger_metric_id"]
    assert (
        "We haven't received Placed Order events recently"
        in document["meta"]["warnings"][0]["detail"]
    )
    shown = orjson.loads(run_cli(env, "flows", "show", flow_id, "--json").stdout)
    assert shown["data"]["attributes"]["definition"]["entry"] == "first-order"
    assert shown["included"][0]["attributes"]["entered"] == 0
    paused = run_cli(env, "flows", "set-status", flow_id, "manual")
    assert paused.returncode == 0, paused.stderr
    header, row = run_cli(env, "flows", "list").stdout.splitlines()
    metric = document["data"]["attributes"]["trigger_metric_id"]
    assert header.split() == ["ID", "Name", "Status", "Template", "Trigger", "Changed"]
    assert row.startswith(f"{flow_id}  Post-purchase thank you  manual  post-purchase")
    # The trigger by its name and source, beside its id.
    assert row[header.index("Trigger") :].startswith("Placed Order (")
    assert f"{metric}  " in row
    wrong = run_cli(env, "flows", "set-status", flow_id, "paused")
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("error: status must be one of draft, manual, live")
    unknown = run_cli(env, "flows", "create", "thank-you-forever")
    assert unknown.returncode == 1
    assert "the library has post-purchase" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    sender = run_cli(env, "flows", "sender", "Shop <hi@shop.example.com>", "--json")
    assert orjson.loads(sender.stdout)["email_from"] == "Shop <hi@shop.example.com>"


def test_serve_sends_the_thank_you_to_its_outbox_and_the_sdk_reads_flows(
    services: Services, tmp_path: Path
) -> None:
    """A real ``serve`` with its workers and no SMTP: the email lands in the outbox folder; the
    official ``klaviyo-api`` SDK lists the flow."""
    import email
    import email.policy

    from klaviyo_api import KlaviyoAPI

    from shoptrack.flows.service import FlowRequest, Safeguards
    from shoptrack.flows.service import create_flow as create_stored_flow
    from shoptrack.store.metrics import ensure_metric
    from tests.processes import Server, wait_until

    shop = make_shop(services)
    now = datetime.now(UTC)
    with services.database.write() as connection:
        metric = ensure_metric(connection, shop.account_id, "Placed Order", now)
        request = FlowRequest(
            shop.account_id, template="post-purchase", trigger_metric_id=metric, status="live"
        )
        flow = create_stored_flow(
            connection, request, now, diagnostics_url="", safeguards=Safeguards.of(services)
        ).flow
    data_dir = tmp_path / "data"
    server = Server(environment(services.settings.resolved_database_url(), data_dir))
    try:
        sdk = KlaviyoAPI(shop.private_key, test_host=server.url, max_retries=0)
        listed = sdk.Flows.get_flows()
        listed = listed if isinstance(listed, dict) else listed.to_dict()
        assert [item["id"] for item in listed["data"]] == [flow.id]
        assert listed["data"][0]["attributes"]["trigger_type"] == "Metric"
        sdk.Events.create_event(
            {
                "data": {
                    "type": "event",
                    "attributes": {
                        "properties": {
                            "OrderNumber": "42",
                            "Items": [{"ProductName": "Blue mug", "Quantity": 1, "RowTotal": 9}],
                        },
                        "value": 9,
                        "unique_id": "42",
                        "metric": {
                            "data": {"type": "metric", "attributes": {"name": "Placed Order"}}
                        },
                        "profile": {
                            "data": {"type": "profile", "attributes": {"email": "pat@example.com"}}
                        },
                    },
                }
            }
        )
        outbox = data_dir / "outbox"
        wait_until(lambda: outbox.exists() and any(outbox.glob("*.eml")), timeout=30)
    finally:
        output = server.stop()
    (saved,) = outbox.glob("*.eml")
    message = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert message["To"] == "pat@example.com", output
    assert message["Subject"] == "Thank you for your first order, 42!"
    assert "1 x Blue mug: 9.00" in Mailbox.text(message)  # type: ignore[arg-type]
