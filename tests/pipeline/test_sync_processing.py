"""``SyncProcessing``: a sync's worker processes process each page while the sync reads the
next, start only once it has read enough orders, and end when it finishes."""

from __future__ import annotations

import orjson
import pytest

from shoptrack.pipeline.runtime import SyncProcessing
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.testing import Shop, make_shop, woo_order
from tests.conftest import START
from tests.helpers import event_counts, inbox_states
from tests.processes import wait_until

pytestmark = pytest.mark.slow

PAGE = 50


def _store_page(services: Services, shop: Shop, first: int) -> None:
    """A page of backfilled orders, as a sync stores it."""
    entries = [
        InboxEntry(
            account_id=shop.account_id,
            integration_id=shop.integration.id,
            source="backfill",
            topic="order",
            body=orjson.dumps(woo_order(first + n, "processing", START)),
            dedupe_key=f"page-{first + n}",
            backfill=True,
        )
        for n in range(PAGE)
    ]
    with services.database.write() as connection:
        write_entries(connection, entries, START)


def _started(processing: SyncProcessing) -> bool:
    return processing.started  # read anew each time (a property mypy would take as settled)


def _processed(services: Services) -> int:
    return inbox_states(services).get("processed", 0)


def test_pages_are_processed_while_the_sync_reads_the_next(services: Services) -> None:
    shop = make_shop(services)
    with SyncProcessing(services.settings, start_after=2 * PAGE) as processing:
        _store_page(services, shop, 0)
        processing.stored(PAGE)
        assert not _started(processing)  # too few to be worth a process

        _store_page(services, shop, PAGE)
        processing.stored(2 * PAGE)
        assert _started(processing)
        # Processed before the sync stores another page: beside its reading.
        wait_until(lambda: _processed(services) == 2 * PAGE)

        _store_page(services, shop, 2 * PAGE)
        processing.stored(3 * PAGE)  # wakes them
        wait_until(lambda: _processed(services) == 3 * PAGE)

        processing.finish(done=lambda: _processed(services) == 3 * PAGE)
        assert not _started(processing)
    assert inbox_states(services) == {"processed": 3 * PAGE}
    assert event_counts(services, shop.account_id)["Placed Order"] == 3 * PAGE
