"""Claiming a batch of pending rows on PostgreSQL reads the partial index of pending rows in
order up to the batch, whatever the planner's estimates say. With statistics from before a burst
or a backfill filled the inbox (a store's inbox is mostly processed rows), it would otherwise
read the whole backlog and sort it, bodies and all, for every batch — 47 ms a batch with 20,000
rows pending, against 0.2 ms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, claim_pending, write_entries
from shoptrack.store.schema import inbox
from shoptrack.testing import make_shop
from tests.conftest import START

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_claim_reads_the_pending_index_in_order_whatever_the_estimates(
    services: Services,
) -> None:
    account_id = make_shop(services).account_id
    body = b'{"id": 1, "note": "' + b"x" * 3_000 + b'"}'
    entries = [
        InboxEntry(account_id=account_id, source="api", topic="t", body=body, dedupe_key=f"{n}")
        for n in range(3_000)
    ]
    with services.database.write() as connection:
        write_entries(connection, entries, START)
        first_ids = list(connection.execute(select(inbox.c.id).order_by(inbox.c.id).limit(200)))
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FOR UPDATE SKIP LOCKED" in statement:
            cursor.execute("EXPLAIN " + statement, parameters)  # as planned at that moment
            plans.append("\n".join(row[0] for row in cursor.fetchall()))

    with services.database.write() as connection:
        connection.exec_driver_sql("ANALYZE inbox")
        # Estimates under which reading the backlog and sorting it looks cheaper (as stale
        # statistics make it look): index reads priced high.
        connection.exec_driver_sql("SET LOCAL random_page_cost = 400")
        event.listen(connection, "before_cursor_execute", explain)
        claimed = claim_pending(connection, START + timedelta(seconds=1), 200)
        event.remove(connection, "before_cursor_execute", explain)
        # The rest of the transaction plans as before.
        assert connection.exec_driver_sql("SHOW enable_sort").scalar() == "on"

    assert [row.id for row in claimed] == [row.id for row in first_ids]
    assert len(plans) == 1
    assert "Index Scan using ix_inbox_pending" in plans[0]
    assert "Sort" not in plans[0]
