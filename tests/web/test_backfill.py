"""Backfill from an integration's page: the form queues a sync with a number of days, the next
sync of the workers runs it as ``sync --backfill DAYS`` would (its window, its events backfill),
the panel shows it queued then its progress, and the following syncs are ordinary ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shoptrack.clock import FrozenClock
from shoptrack.integrations import connect
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.pipeline.workers import Workers
from shoptrack.services import Services
from shoptrack.simulators import WooCommerceSimulator
from shoptrack.simulators.serving import serving
from shoptrack.store.schema import integrations, sync_runs
from shoptrack.store.sync_runs import QUEUED_BACKFILL, queue_sync
from shoptrack.testing import Shop
from tests.helpers import AppClient
from tests.web.pages import Browser, add_user, csrf_of

pytestmark = pytest.mark.slow


@pytest.fixture
def clock() -> FrozenClock:
    # Near the real time: the store checks OAuth timestamps against its own clock.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def connected(services: Services, shop: Shop, clock: FrozenClock) -> Iterator[str]:
    store = WooCommerceSimulator(clock=clock.now)
    store.add_orders(4, statuses=("processing",), interval=timedelta(days=3))
    with serving(store.app) as base_url:
        result = connect(
            services,
            account_id=shop.account_id,
            platform="woocommerce",
            name="Backfilled",
            credentials=store.credentials(base_url),
            settings={"sync_interval_minutes": 10, "backfill_days": 1},
        )
        yield result.integration.id


def _runs(services: Services, integration_id: str) -> list[tuple[bool, timedelta]]:
    """Each run's backfill flag and window length, oldest first."""
    with services.database.read() as connection:
        rows = connection.execute(
            select(sync_runs)
            .where(sync_runs.c.integration_id == integration_id)
            .order_by(sync_runs.c.started_at, sync_runs.c.id)
        ).all()
    return [(row.backfill, row.window_until - row.window_since) for row in rows]


def test_the_backfill_form_queues_a_sync_of_that_many_days(
    services: Services, shop: Shop, clock: FrozenClock, client: AppClient, connected: str
) -> None:
    workers = Workers(
        services.database, clock, Processor(services.database, clock), syncer=Syncer(services)
    )
    assert workers.run_due_syncs() == 1  # the first import: one day (backfill_days)
    add_user(services, shop.account_id, "merchant@example.com")
    browser = Browser(client)
    browser.sign_in("merchant@example.com")
    page = browser.get(f"/integrations/{connected}")
    assert 'id="backfill-form"' in page.text
    token = csrf_of(page.text)

    refused = browser.client.post(
        f"/integrations/{connected}/backfill",
        data={"days": "0"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert refused.status_code == 400
    assert "Days: a whole number from 1 to 3650" in refused.text
    panel = browser.client.post(
        f"/integrations/{connected}/backfill",
        data={"days": "30"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert panel.status_code == 200
    assert "A backfill of 30 days is queued" in panel.text
    assert 'hx-trigger="every 2s"' in panel.text
    with services.database.read() as connection:
        row = connection.execute(select(integrations).where(integrations.c.id == connected)).one()
    assert row.next_sync_at == clock.now()
    assert row.sync_cursor[QUEUED_BACKFILL] == 30
    assert row.sync_cursor["updated_at"]  # the bookmark stays

    assert workers.run_due_syncs() == 1
    assert _runs(services, connected)[-1] == (True, timedelta(days=30))
    with services.database.read() as connection:
        first, backfilled = connection.execute(
            select(sync_runs.c.orders_seen)
            .where(sync_runs.c.integration_id == connected)
            .order_by(sync_runs.c.started_at, sync_runs.c.id)
        ).scalars()
    assert backfilled > first  # thirty days hold more orders than the first import's one
    shown = browser.get(f"/integrations/{connected}/sync-status")
    assert f"{backfilled} orders read" in shown.text
    assert "still being processed" in shown.text  # the panel follows the processing too
    with services.database.read() as connection:
        cursor = connection.execute(
            select(integrations.c.sync_cursor).where(integrations.c.id == connected)
        ).scalar_one()
    assert QUEUED_BACKFILL not in cursor
    # The next sync is an ordinary one again.
    clock.advance(timedelta(minutes=11))
    assert workers.run_due_syncs() == 1
    assert _runs(services, connected)[-1][0] is False


def test_a_backfill_queued_during_a_sync_waits_for_the_next(
    services: Services, shop: Shop, clock: FrozenClock, connected: str
) -> None:
    """The sync running when a backfill is queued keeps it in the cursor it saves."""
    syncer = Syncer(services)
    original = syncer._save_cursor

    def queue_then_save(integration_id: str, cursor: datetime) -> None:
        with services.database.write() as connection:
            queue_sync(connection, shop.account_id, integration_id, clock.now(), backfill_days=7)
        original(integration_id, cursor)

    syncer._save_cursor = queue_then_save  # type: ignore[method-assign]
    syncer.run(shop.account_id, connected)
    syncer._save_cursor = original  # type: ignore[method-assign]
    syncer.run(shop.account_id, connected)
    assert [backfill for backfill, _ in _runs(services, connected)] == [True, True]
    assert _runs(services, connected)[-1][1] == timedelta(days=7)
