"""A Shopify store's first import read with a bulk operation, end to end: connected through
shoptrack's API, synced by the syncer (whose client sleeps by the test's clock), processed to
events. Each order records Placed Order once, and its webhooks, delivered afterwards, add
nothing; an operation that fails is the sync's clear error, and the next sync imports all the
same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shoptrack.connectors.base import Connector
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.shopify import BULK_AFTER_PAGES, Shopify
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import ClientFactory, Syncer, SyncProgress, stored_tokens
from shoptrack.services import Services
from shoptrack.store.integrations import Integration
from shoptrack.store.schema import integrations, sync_runs
from tests.end_to_end import test_shopify_dev_dashboard as dev_dashboard
from tests.helpers import event_counts

# The store connected through the API with a Dev Dashboard app's client id and secret.
World = dev_dashboard.World
world = dev_dashboard.world

pytestmark = pytest.mark.slow

ORDERS = BULK_AFTER_PAGES * Shopify.page_size * 3


def _client_for(world: World) -> ClientFactory:
    """The syncer's client, waiting by the test's clock (what lets bulk operations end)."""

    def client(connector: Connector, integration: Integration, services: Services) -> StoreClient:
        credentials = connector.credentials_model.model_validate(
            integration.credentials(services.cipher)
        )
        return connector.client(
            credentials,
            guard=services.outbound,
            tokens=stored_tokens(services, integration.id),
            sleep=lambda seconds: world.clock.advance(timedelta(seconds=seconds)),
        )

    return client


def _sync(world: World, progress: list[SyncProgress] | None = None) -> Any:
    syncer = Syncer(world.services, client_factory=_client_for(world))
    run_id = syncer.run(
        world.account_id,
        world.integration_id,
        progress=None if progress is None else progress.append,
    )
    Processor(world.services.database, world.services.clock).run_until_idle()
    with world.services.database.read() as connection:
        return connection.execute(select(sync_runs).where(sync_runs.c.id == run_id)).one()


def _counts(world: World) -> dict[str, int]:
    return event_counts(world.services, world.account_id)


def _cursor(world: World) -> Any:
    with world.services.database.read() as connection:
        return connection.execute(
            select(integrations.c.sync_cursor).where(integrations.c.id == world.integration_id)
        ).scalar()


def test_a_bulk_backfill_records_each_order_once_and_its_webhooks_add_nothing(
    world: World,
) -> None:
    world.connect()
    world.store.add_orders(
        ORDERS, statuses=["paid", "fulfilled", "refunded"], interval=timedelta(hours=5)
    )
    world.store.bulk_seconds = 90
    progress: list[SyncProgress] = []

    run = _sync(world, progress)

    assert run.state == "succeeded", run.error_detail
    assert world.store.bulk.statuses() == ["COMPLETED"]
    assert (run.orders_seen, run.rows_written) == (ORDERS, ORDERS)
    assert any(step.orders == 0 for step in progress)  # told while Shopify was working
    after_backfill = _counts(world)
    assert after_backfill["Placed Order"] == ORDERS
    assert after_backfill["Fulfilled Order"] == ORDERS // 3
    assert after_backfill["Refunded Order"] == ORDERS // 3

    # The webhooks Shopify sent for the same orders (created, paid, fulfilled...) add nothing.
    world.deliver()
    assert world.store.deliveries
    assert _counts(world) == after_backfill

    # The next sync polls pages from the cursor: no second bulk operation.
    (fresh,) = world.store.add_orders(1, statuses=["paid"])
    assert _sync(world).state == "succeeded"
    assert world.store.bulk.statuses() == ["COMPLETED"]
    assert _counts(world)["Placed Order"] == ORDERS + 1
    assert fresh


def test_a_failed_bulk_operation_is_a_clear_sync_error_and_the_next_sync_imports(
    world: World,
) -> None:
    world.connect()
    world.store.add_orders(ORDERS, statuses=["paid"])
    world.store.set_faults({"bulk_outcome": {"status": "FAILED", "error_code": "TIMEOUT"}})

    failed = _sync(world)

    assert failed.state == "failed"
    assert "bulk operation" in failed.error_detail
    assert "TIMEOUT" in failed.error_detail
    assert _counts(world).get("Placed Order", 0) == 0
    assert _cursor(world) is None or not _cursor(world).get("updated_at")

    world.store.clear_faults()
    assert _sync(world).state == "succeeded"
    assert _counts(world)["Placed Order"] == ORDERS
    assert world.store.bulk.statuses() == ["FAILED", "COMPLETED"]
