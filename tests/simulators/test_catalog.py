"""The catalogue of simulated platforms: every platform shoptrack knows has a simulator whose
shop life (history, checkouts, status moves) speaks the platform's real statuses, and
``shoptrack simulate`` serves each one with keys that work."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from shoptrack.connectors import connector_for, known_platforms
from shoptrack.connectors.base import Window
from shoptrack.connectors.errors import StoreConfigError
from shoptrack.domain.lifecycle import stages_of
from shoptrack.domain.status import Lifecycle
from shoptrack.outbound import OutboundGuard, parse_networks
from shoptrack.simulators.catalog import CATALOG, StoreLife
from shoptrack.testing import SIMULATOR_GUARD
from tests.processes import Process, wait_until
from tests.stores import serving


def test_every_known_platform_has_a_simulator() -> None:
    assert sorted(life.platform for life in CATALOG) == sorted(known_platforms())


@pytest.mark.parametrize("life", CATALOG, ids=lambda life: life.platform)
def test_a_simulated_store_is_named_as_shoptrack_names_its_platform(life: StoreLife) -> None:
    assert life.label == connector_for(life.platform).display_name


@pytest.mark.parametrize("life", CATALOG, ids=lambda life: life.platform)
def test_a_simulated_shop_lives_through_every_kind_of_event(life: StoreLife) -> None:
    shop = life.build(None, True)
    life.seed(shop, 12, timedelta(hours=5))
    rng = random.Random(7)
    for _ in range(60):
        life.step(shop, rng)
    connector = connector_for(life.platform)
    rules = connector.default_rules
    # Read as a sync reads them (some platforms' orders carry their store's settings).
    now = datetime.now(UTC)
    with serving(shop.app) as url:
        credentials = connector.credentials_model.model_validate(shop.credentials(url))
        with connector.client(credentials, guard=SIMULATOR_GUARD) as client:
            window = Window(now - timedelta(days=365), now + timedelta(days=1))
            raws = [raw for page in connector.order_pages(client, window) for raw in page.records]
    orders = [connector.to_order(raw) for raw in raws]
    assert len(orders) == len(shop.statuses())
    stages = {stage for order in orders for stage in stages_of(order, rules)}
    # The demo shows each event kind: the statuses the shop's orders reach record them all.
    expected = {Lifecycle.PLACED, Lifecycle.FULFILLED, Lifecycle.CANCELLED}
    if rules.refunded.statuses:  # Shift4Shop has no refunded status
        expected.add(Lifecycle.REFUNDED)
    assert expected <= stages, sorted({order.raw_status for order in orders})


@pytest.mark.slow
@pytest.mark.parametrize("life", CATALOG, ids=lambda life: life.platform)
def test_simulate_serves_a_store_whose_keys_work(life: StoreLife) -> None:
    process = Process(dict(os.environ), "simulate", life.platform, "--orders", "3", "--json")
    try:
        # Starting Python and the simulators takes a while on a loaded machine.
        wait_until(lambda: process.output().rstrip().endswith("}"), timeout=120)
        document = orjson.loads(process.output())
        connector = connector_for(life.platform)
        credentials = connector.credentials_model.model_validate(document["credentials"])
        # What it prints for SHOPTRACK_PRIVATE_STORE_NETWORKS is what reaching it takes.
        assert document["private_store_networks"] == "127.0.0.1/32"
        guard = OutboundGuard(parse_networks(document["private_store_networks"]))
        with connector.client(credentials, guard=guard) as client:
            connector.check_credentials(client)
        with (
            pytest.raises(StoreConfigError) as refused,
            connector.client(credentials, guard=OutboundGuard()) as client,
        ):
            connector.check_credentials(client)
        assert refused.value.code == "address_not_allowed"
    finally:
        process.stop()
