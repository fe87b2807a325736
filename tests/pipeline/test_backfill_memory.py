"""A backfill processed to its end in flat memory and time: what processing keeps, and what each
batch costs, does not grow with the number of rows (``bench/backfill.py`` measures the sync
process's rate and peak memory at 50 k and 200 k)."""

from __future__ import annotations

import gc
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy

from shoptrack.pipeline.runtime import process_inbox
from shoptrack.services import Services
from shoptrack.store.inbox import peek_pending
from shoptrack.store.recording import RecordedEvent
from shoptrack.testing import make_shop, woo_order
from tests.conftest import START
from tests.helpers import store_backfill

ORDERS = 1_000  # five batches of 200


def test_processing_a_backfill_to_its_end_keeps_no_events_of_the_batches_it_finished(
    services: Services,
) -> None:
    shop = make_shop(services)
    placed = START - timedelta(days=30)
    store_backfill(
        services,
        shop,
        (
            woo_order(n, "processing", placed, email=f"b{n}@example.com")
            for n in range(1, ORDERS + 1)
        ),
    )

    result = process_inbox(services)

    gc.collect()
    assert not [item for item in gc.get_objects() if isinstance(item, RecordedEvent)]
    assert (result.processed, result.events_recorded) == (ORDERS, ORDERS * 3)  # 1 + 2 lines


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_each_batch_from_the_pending_index_without_sorting_the_backlog(
    services: Services,
) -> None:
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        statements.append((statement, parameters))

    with services.database.write() as connection:
        sqlalchemy.event.listen(connection, "before_cursor_execute", capture)
        peek_pending(connection, services.clock.now(), 200)
        sqlalchemy.event.remove(connection, "before_cursor_execute", capture)
        [(statement, parameters)] = statements
        plan = [
            row.detail
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
    # In the order of the partial index of pending rows, stopping at the batch's size: not the
    # whole backlog sorted for every batch (what made a 200,000-order backfill slow down).
    assert any("ix_inbox_pending" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
