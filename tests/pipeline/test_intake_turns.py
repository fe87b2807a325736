"""Processing shares the database with intake in bounded turns while intake commits."""

from __future__ import annotations

import pytest

from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.workers import IntakeTurns
from shoptrack.services import Services
from shoptrack.testing import make_shop, woo_order
from tests.conftest import START
from tests.helpers import deliver, inbox_states


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_processing_takes_small_turns_only_while_intake_commits() -> None:
    monotonic = Monotonic()
    turns = IntakeTurns(monotonic)
    assert turns.turn() is None  # no intake yet: whole batches

    turns.intake_committed()
    monotonic.now += turns.active_for / 2
    assert turns.turn() == turns.rows
    # Each turn leaves the lock to intake for ten times as long as it held it.
    assert turns.pause(0.02) == pytest.approx(0.2)

    monotonic.now += turns.active_for
    assert turns.turn() is None  # intake went quiet: the backlog at full speed


def test_a_turn_takes_no_more_rows_than_its_limit(services: Services) -> None:
    shop = make_shop(services)
    for n in range(5):
        deliver(services, shop, woo_order(n, "processing", START, email=f"t{n}@x.com"), f"{n}")
    processor = Processor(services.database, services.clock)

    assert processor.run_once(limit=2).claimed == 2
    assert inbox_states(services) == {"processed": 2, "pending": 3}
    assert processor.run_once().claimed == 3


@pytest.mark.postgres
def test_a_worker_on_postgresql_learns_of_intake_commits_from_their_notifications(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers on PostgreSQL take their turns while intake commits too: intake's notification
    reaches ``wake``, which marks intake as committing."""
    from shoptrack.pipeline.workers import Workers
    from shoptrack.pipeline.writer import GroupCommitWriter
    from shoptrack.store.inbox import InboxEntry
    from tests.processes import wait_until

    if services.database.is_sqlite:
        pytest.skip("on SQLite, serve's writer wakes its worker process through a pipe")
    shop = make_shop(services)
    woken: list[bool] = []
    original = Workers.wake

    def recording_wake(workers: Workers) -> None:
        woken.append(True)
        original(workers)

    monkeypatch.setattr(Workers, "wake", recording_wake)
    processor = Processor(services.database, services.clock)
    workers = Workers(services.database, services.clock, processor)
    writer = GroupCommitWriter(services.database, services.clock)
    workers.start()
    writer.start()
    try:
        entry = InboxEntry(account_id=shop.account_id, source="webhook", topic="t", body=b"{}")
        # Listening starts in a thread of its own: deliveries go on until one is heard.
        wait_until(lambda: writer.submit(entry).result(timeout=30) and bool(woken), timeout=60)
    finally:
        writer.stop()
        workers.stop()
