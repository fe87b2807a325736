"""``shoptrack test-order``: against every simulated store on a real socket, with shoptrack's
app receiving the stores' webhooks; then with faults injected, where it must stop at the right
step with the doctor's right finding, and still cancel the order. Most runs are in-process
(``run_order_probe``); the command itself runs as a merchant runs it, beside ``shoptrack serve``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from shoptrack.api.app import create_app
from shoptrack.clock import SystemClock
from shoptrack.integrations import connect
from shoptrack.order_probe import OrderProbeOptions, OrderProbeRun, StepState, run_order_probe
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.simulators.catalog import SimulatedShop, store_life
from shoptrack.simulators.serving import serving
from shoptrack.store.accounts import create_account
from shoptrack.store.database import Database
from shoptrack.store.secrets import CredentialCipher
from shoptrack.testing import SIMULATOR_NETWORKS
from tests.conftest import TEST_SECRET_KEY
from tests.processes import Listener, Server, environment, run_cli

pytestmark = pytest.mark.slow

# The platforms with an order-creation API shoptrack uses; PrestaShop's needs a cart first,
# so its test order is placed by hand.
API_PLATFORMS = ("woocommerce", "shopify", "bigcommerce", "magento2", "shift4shop")
CANCELLED = {
    "woocommerce": "cancelled",
    "shopify": "cancelled",
    "bigcommerce": 5,
    "magento2": "canceled",
    "shift4shop": "5",
}


def _store(platform: str) -> SimulatedShop:
    # Webhooks go out as soon as the store answers, as a live store sends them.
    return store_life(platform).build(None, False)


@dataclass
class Shoptrack:
    """shoptrack's app on a real socket that is also its public URL (so the stores' webhooks
    reach it), on the system clock, with an account; its workers are off: the run processes."""

    services: Services
    account_id: str

    def connect(self, platform: str, store: SimulatedShop, base_url: str, **settings: Any) -> str:
        result = connect(
            self.services,
            account_id=self.account_id,
            platform=platform,
            name=platform,
            credentials=store.credentials(base_url),
            settings=settings,
        )
        return result.integration.id

    def run(self, integration_id: str, **options: Any) -> OrderProbeRun:
        return run_order_probe(
            self.services, self.account_id, integration_id, OrderProbeOptions(**options)
        )


@pytest.fixture
def shoptrack(database_url: str, tmp_path: Path) -> Iterator[Shoptrack]:
    listener = Listener()  # bound now: its address is the public URL the app is built with
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        public_url=listener.url,
        private_store_networks=SIMULATOR_NETWORKS,
    )
    services = Services(
        settings=settings,
        database=Database(database_url),
        clock=SystemClock(),
        cipher=CredentialCipher([TEST_SECRET_KEY]),
    )
    with services.database.write() as connection:
        account, _ = create_account(connection, "Acme", services.clock.now())
    app = create_app(services, run_workers=False)
    app.runtime.start()  # the intake writer (the lifespan is off under `serving`)
    try:
        with serving(app, listener=listener.socket):
            yield Shoptrack(services, account.id)
    finally:
        app.runtime.stop()
        services.close()


@pytest.mark.parametrize("platform", API_PLATFORMS)
def test_a_test_order_goes_through_every_store_and_is_cancelled(
    shoptrack: Shoptrack, platform: str
) -> None:
    store = _store(platform)
    with serving(store.app) as base_url:
        integration_id = shoptrack.connect(platform, store, base_url)
        run = shoptrack.run(integration_id, timeout=30)
    assert run.succeeded, run.as_json()
    assert [step.state for step in run.steps] == [StepState.DONE] * 6
    assert not run.manual
    assert run.email.startswith("test-order+")
    assert run.email.endswith("@shoptrack.invalid")
    assert run.step("profile").evidence["email"] == run.email
    assert run.order_id is not None
    order_id = int(run.order_id)
    # The order was on the store, and is cancelled now.
    assert store.statuses()[order_id] == CANCELLED[platform]
    if platform in ("woocommerce", "shopify", "bigcommerce"):
        # The stores with webhooks told shoptrack at once: no sync brought it, and it is live.
        assert run.step("delivery_received").evidence["source"] == "webhook"
        assert run.step("placed_order").evidence["backfill"] is False
    if platform == "shopify":
        assert store.order(order_id)["test"] is True  # type: ignore[attr-defined]


def test_prestashop_waits_for_an_order_placed_by_hand(shoptrack: Shoptrack) -> None:
    store = _store("prestashop")
    seen: list[OrderProbeRun] = []
    placed: list[int] = []

    def merchant(run: OrderProbeRun) -> None:
        """Checks out once told how to, while shoptrack waits for the order."""
        seen.append(run)
        if run.manual and run.step("order_placed").state is StepState.WAITING and not placed:
            placed.extend(store.add_orders(1, statuses=("3",)))

    with serving(store.app) as base_url:
        integration_id = shoptrack.connect("prestashop", store, base_url)
        run = run_order_probe(
            shoptrack.services,
            shoptrack.account_id,
            integration_id,
            OrderProbeOptions(timeout=30),
            on_change=merchant,
        )
    assert run.succeeded, run.as_json()
    assert len(placed) == 1
    assert run.manual
    (order_id,) = store.statuses()
    assert run.order_id == str(order_id)
    assert run.step("order_cancelled").state is StepState.SKIPPED
    assert "cancel and refund it" in run.step("order_cancelled").detail
    # The merchant was told what to do before the order came.
    assert any(r.manual and r.order_id is None for r in seen)
    assert run.as_json()["attributes"]["manual_steps"]


def test_an_order_placed_by_hand_is_followed_by_its_id(shoptrack: Shoptrack) -> None:
    store = _store("prestashop")
    with serving(store.app) as base_url:
        integration_id = shoptrack.connect("prestashop", store, base_url)
        (order_id,) = store.add_orders(1, statuses=("3",))
        run = shoptrack.run(integration_id, order_id=str(order_id), timeout=30)
    assert run.succeeded, run.as_json()
    assert run.manual
    assert run.order_id == str(order_id)


def test_a_firewall_stops_it_before_any_order_is_placed(shoptrack: Shoptrack) -> None:
    store = _store("woocommerce")
    with serving(store.app) as base_url:
        integration_id = shoptrack.connect("woocommerce", store, base_url)
        store.set_faults({"firewall_user_agent": "shoptrack"})  # type: ignore[attr-defined]
        run = shoptrack.run(integration_id, timeout=5)
    assert run.stopped_at == "order_placed"
    assert run.order_id is None
    assert "firewall" in run.step("order_placed").detail
    assert "firewall_blocked" in {finding.code for finding in run.findings}
    assert store.statuses() == {}
    assert run.step("order_cancelled").state is StepState.SKIPPED


def test_a_status_the_rules_do_not_count_stops_it_at_placed_order(shoptrack: Shoptrack) -> None:
    store = _store("shift4shop")
    with serving(store.app) as base_url:
        # Only Shipped counts as placed here: the paid test order (2 Processing) does not.
        integration_id = shoptrack.connect(
            "shift4shop", store, base_url, placed_statuses={"include": ["4"]}
        )
        run = shoptrack.run(integration_id, timeout=30)
    assert run.stopped_at == "placed_order"
    assert run.step("order_state").state is StepState.DONE
    assert run.step("order_cancelled").state is StepState.DONE
    assert run.order_trace is not None
    assert "is not placed under the rules" in run.order_trace["explanation"]
    assert list(store.statuses().values()) == ["5"]


# -- the command, as a merchant runs it -------------------------------------------------------


class Serve:
    """``shoptrack serve`` on a free port that is also its public URL, and the CLI beside it."""

    def __init__(self, env: dict[str, str]) -> None:
        listener = Listener()
        self.url = listener.url
        self.env = env | {"SHOPTRACK_PUBLIC_URL": self.url}
        self.server = Server(self.env, listener=listener)


def _cli_connect(env: dict[str, str], platform: str, credentials: dict[str, str]) -> str:
    options = [f"--credential={key}={value}" for key, value in credentials.items()]
    added = run_cli(env, "integrations", "add", platform, "--name", platform, *options, "--json")
    assert added.returncode == 0, added.stderr
    return str(orjson.loads(added.stdout)["data"]["id"])


def test_the_command_follows_a_webhook_store_beside_serve(
    database_url: str, tmp_path: Path
) -> None:
    env = environment(database_url, tmp_path / "data")
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0
    serve = Serve(env)
    store = _store("woocommerce")
    try:
        with serving(store.app) as base_url:
            integration_id = _cli_connect(serve.env, "woocommerce", store.credentials(base_url))
            result = run_cli(
                serve.env, "test-order", integration_id, "--json", "--timeout", "60", timeout=120
            )
    finally:
        output = serve.server.stop()
    assert result.returncode == 0, result.stdout + result.stderr + output
    document = orjson.loads(result.stdout)["data"]
    assert document["type"] == "test-order"
    attributes = document["attributes"]
    assert attributes["status"] == "succeeded"
    assert [step["state"] for step in attributes["steps"]] == ["done"] * 6
    assert attributes["steps"][1]["evidence"]["source"] == "webhook"
    assert list(store.statuses().values()) == ["cancelled"]


def test_the_command_stops_at_the_delivery_when_the_store_disabled_its_webhooks(
    database_url: str, tmp_path: Path
) -> None:
    env = environment(database_url, tmp_path / "data")
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0
    store = _store("woocommerce")
    with serving(store.app) as base_url:
        integration_id = _cli_connect(env, "woocommerce", store.credentials(base_url))
        for webhook in store.webhooks:  # type: ignore[attr-defined]
            webhook.status = "disabled"  # as WooCommerce does after failed deliveries
        result = run_cli(env, "test-order", integration_id, "--timeout", "3", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped at delivery received: not reached within 3 s" in result.stdout
    assert "webhooks_disabled_on_store" in result.stdout
    assert f"shoptrack doctor {integration_id} --fix webhooks_disabled_on_store" in result.stdout
    # The order was placed, and cancelled all the same.
    assert "order cancelled" in result.stdout
    assert list(store.statuses().values()) == ["cancelled"]


def test_the_command_prints_the_steps_to_place_one_by_hand(
    database_url: str, tmp_path: Path
) -> None:
    env = environment(database_url, tmp_path / "data")
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0
    store = _store("prestashop")
    with serving(store.app) as base_url:
        integration_id = _cli_connect(env, "prestashop", store.credentials(base_url))
        result = run_cli(env, "test-order", integration_id, "--timeout", "1", timeout=120)
    assert result.returncode == 1
    assert "prestashop has no API to place orders; place one by hand" in result.stderr
    assert "3. Check out with a real payment method" in result.stderr
    assert "stopped at order placed" in result.stdout
