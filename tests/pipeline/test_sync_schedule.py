"""Scheduled syncs: due integrations are synced by whichever process takes the lease, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shoptrack.clock import FrozenClock
from shoptrack.integrations import connect
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import LEASE, SyncBusyError, Syncer
from shoptrack.pipeline.workers import Workers
from shoptrack.services import Services
from shoptrack.simulators import WooCommerceSimulator
from shoptrack.simulators.serving import serving
from shoptrack.store.schema import integrations, sync_runs
from shoptrack.store.sync_runs import claim_lease
from shoptrack.testing import Shop


@pytest.fixture
def clock() -> FrozenClock:
    # Near the real time: the store checks OAuth timestamps against its own clock.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def connected(services: Services, shop: Shop, clock: FrozenClock) -> Iterator[str]:
    store = WooCommerceSimulator(clock=clock.now)
    store.add_orders(5, statuses=("processing",), interval=timedelta(hours=1))
    with serving(store.app) as base_url:
        result = connect(
            services,
            account_id=shop.account_id,
            platform="woocommerce",
            name="Scheduled",
            credentials=store.credentials(base_url),
            settings={"sync_interval_minutes": 10},
        )
        yield result.integration.id


def _runs(services: Services, integration_id: str) -> int:
    with services.database.read() as connection:
        return len(
            connection.execute(
                select(sync_runs.c.id).where(sync_runs.c.integration_id == integration_id)
            ).all()
        )


def test_due_integrations_sync_then_wait_their_interval(
    services: Services, clock: FrozenClock, connected: str
) -> None:
    processor = Processor(services.database, clock)
    workers = Workers(services.database, clock, processor, syncer=Syncer(services))
    assert workers.run_due_syncs() == 1  # due as soon as it is connected
    assert workers.run_due_syncs() == 0
    with services.database.read() as connection:
        next_sync = connection.execute(
            select(integrations.c.next_sync_at).where(integrations.c.id == connected)
        ).scalar_one()
    assert next_sync == clock.now() + timedelta(minutes=10)
    clock.advance(timedelta(minutes=9))
    assert workers.run_due_syncs() == 0
    clock.advance(timedelta(minutes=2))
    assert workers.run_due_syncs() == 1
    assert _runs(services, connected) == 2
    assert processor.run_until_idle().processed == 5


def test_one_sync_at_a_time_across_processes(
    services: Services, shop: Shop, clock: FrozenClock, connected: str
) -> None:
    with services.database.write() as connection:
        assert claim_lease(connection, connected, "other-host:1", clock.now(), LEASE)
    with pytest.raises(SyncBusyError):
        Syncer(services).run(shop.account_id, connected)
    workers = Workers(
        services.database, clock, Processor(services.database, clock), syncer=Syncer(services)
    )
    assert workers.run_due_syncs() == 0  # the lease holder is syncing it
    clock.advance(LEASE + timedelta(seconds=1))  # the holder died: its lease runs out
    assert workers.run_due_syncs() == 1
