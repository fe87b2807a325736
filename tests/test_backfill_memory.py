"""A backfill processed to its end in flat memory: what processing keeps does not grow with the
number of rows (``bench/backfill.py`` measures the sync process's peak at 50 k and 200 k)."""

from __future__ import annotations

import gc
from datetime import timedelta

import orjson

from shoptrack.pipeline.runtime import process_inbox
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.store.recording import RecordedEvent
from tests.conftest import START
from tests.helpers import make_shop
from tests.payloads import woo_order

ORDERS = 1_000  # five batches of 200


def test_processing_a_backfill_to_its_end_keeps_no_events_of_the_batches_it_finished(
    services: Services,
) -> None:
    shop = make_shop(services)
    placed = START - timedelta(days=30)
    entries = [
        InboxEntry(
            account_id=shop.account_id,
            integration_id=shop.integration.id,
            source="backfill",
            topic="order",
            body=orjson.dumps(woo_order(n, "processing", placed, email=f"b{n}@example.com")),
            dedupe_key=f"backfill:{n}",
            backfill=True,
        )
        for n in range(1, ORDERS + 1)
    ]
    with services.database.write() as connection:
        write_entries(connection, entries, services.clock.now())

    result = process_inbox(services)

    gc.collect()
    assert not [item for item in gc.get_objects() if isinstance(item, RecordedEvent)]
    assert (result.processed, result.events_recorded) == (ORDERS, ORDERS * 3)  # 1 + 2 lines
