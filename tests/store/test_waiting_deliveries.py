"""``waiting_deliveries``: what the doctor's ``deliveries_waiting`` counts — deliveries due for
processing a while and still pending, live apart from backfill; not those waiting for their
retry, nor those of a sync that is still running."""

from __future__ import annotations

from datetime import timedelta

from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.store.diagnostics import waiting_deliveries
from shoptrack.store.inbox import InboxEntry, mark_failed, peek_pending, pending_count, write_entry
from shoptrack.store.sync_runs import claim_lease, start_run
from shoptrack.testing import Shop, make_shop

LONGER_THAN = timedelta(minutes=15)


def _store(
    services: Services, shop: Shop, key: str, *, backfill: bool = False, run_id: str | None = None
) -> None:
    entry = InboxEntry(
        account_id=shop.account_id,
        integration_id=shop.integration.id,
        source="backfill" if backfill else "webhook",
        topic="order",
        body=b"{}",
        dedupe_key=key,
        backfill=backfill,
        sync_run_id=run_id,
    )
    with services.database.write() as connection:
        assert write_entry(connection, entry, services.clock.now())


def _waiting(services: Services, shop: Shop) -> tuple[int, int]:
    with services.database.read() as connection:
        found = waiting_deliveries(
            connection, shop.integration.id, services.clock.now(), LONGER_THAN
        )
    return found.count, found.live


def test_deliveries_due_a_while_count_live_apart_from_backfill(
    services: Services, clock: FrozenClock
) -> None:
    shop = make_shop(services)
    _store(services, shop, "live")
    _store(services, shop, "old", backfill=True)
    clock.advance(LONGER_THAN)
    assert _waiting(services, shop) == (0, 0)  # due for 15 minutes: a worker may take them now
    clock.advance(timedelta(seconds=1))
    assert _waiting(services, shop) == (2, 1)
    other = make_shop(services)
    assert _waiting(services, other) == (0, 0)
    with services.database.read() as connection:
        assert pending_count(connection, shop.integration.id) == 2


def test_a_delivery_waiting_for_its_retry_is_not_counted(
    services: Services, clock: FrozenClock
) -> None:
    shop = make_shop(services)
    _store(services, shop, "failing")
    clock.advance(timedelta(hours=1))  # received long ago, failed now: retried in a minute
    with services.database.write() as connection:
        (row,) = peek_pending(connection, clock.now(), 10)
        mark_failed(connection, row, "a bug in the mapping", clock.now())
    clock.advance(LONGER_THAN)
    assert _waiting(services, shop) == (0, 0)  # due for 14 minutes
    clock.advance(timedelta(minutes=1, seconds=1))  # due for over 15: it waits for nobody
    assert _waiting(services, shop) == (1, 1)


def test_the_rows_of_a_sync_still_running_are_not_counted_until_its_lease_ends(
    services: Services, clock: FrozenClock
) -> None:
    # `shoptrack sync` processes a small sync's rows once it has read them all.
    shop = make_shop(services)
    now = clock.now()
    with services.database.write() as connection:
        assert claim_lease(connection, shop.integration.id, "sync", now, timedelta(hours=1))
        run = start_run(
            connection,
            account_id=shop.account_id,
            integration_id=shop.integration.id,
            backfill=False,
            since=now - timedelta(days=1),
            until=now,
            now=now,
        )
    _store(services, shop, "polled", run_id=run.id)
    _store(services, shop, "webhook")
    clock.advance(LONGER_THAN + timedelta(seconds=1))
    assert _waiting(services, shop) == (1, 1)  # the webhook's
    clock.advance(timedelta(hours=1))  # the sync died: its lease ran out
    assert _waiting(services, shop) == (2, 2)
