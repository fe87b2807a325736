"""Processing shares the database with intake in bounded turns while intake commits."""

from __future__ import annotations

from typing import Any

import pytest

from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.workers import IntakeTurns, Workers
from shoptrack.services import Services
from shoptrack.store.inbox import InboxShare
from shoptrack.testing import make_shop, woo_order
from tests.conftest import START
from tests.helpers import deliver, inbox_states
from tests.processes import wait_until


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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_one_of_two_sharing_processes_takes_the_turns_whatever_the_shares(
    services: Services,
) -> None:
    shop = make_shop(services)
    for n in range(1, 6):  # ids 1-5: 1 and 2 in the first share's block of three, 3-5 not
        deliver(services, shop, woo_order(n, "processing", START, email=f"t{n}@x.com"), f"{n}")
    first, second = (
        Processor(services.database, services.clock, share=InboxShare(n, 2, block=3))
        for n in range(2)
    )
    assert first.takes_turns
    assert not second.takes_turns
    assert Processor(services.database, services.clock).takes_turns
    # A turn of four: the next rows in order, the second share's 3 and 4 among them.
    assert first.run_once(limit=4, shared=False).processed == 4
    assert second.run_once().processed == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_process_that_does_not_take_the_turns_processes_once_intake_is_quiet(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(services)
    for n in range(1, 4):
        deliver(services, shop, woo_order(n, "processing", START, email=f"q{n}@x.com"), f"{n}")
    monkeypatch.setattr("shoptrack.pipeline.processing._TAKE_OVER_AFTER", 0.0)  # it is alone
    committing = [3]  # intake commits for three looks at the turns, then goes quiet

    def turn(_turns: IntakeTurns) -> int | None:
        if committing[0]:
            committing[0] -= 1
            return IntakeTurns.rows
        return None

    monkeypatch.setattr(IntakeTurns, "turn", turn)
    monkeypatch.setattr(IntakeTurns, "active_for", 0.0)
    batches: list[tuple[int | None, bool]] = []
    run_once = Processor.run_once

    def recording(
        processor: Processor, limit: int | None = None, *, shared: bool = True, **given: Any
    ) -> Any:
        batches.append((limit, shared))
        return run_once(processor, limit, shared=shared, **given)

    monkeypatch.setattr(Processor, "run_once", recording)
    second = Processor(services.database, services.clock, share=InboxShare(1, 2, block=3))
    workers = Workers(services.database, services.clock, second)
    workers.start()
    try:
        wait_until(lambda: inbox_states(services) == {"processed": 3})
    finally:
        workers.stop()
    assert committing == [0]
    assert batches[0] == (None, True)  # not one batch while intake committed


@pytest.mark.postgres
def test_a_worker_on_postgresql_learns_of_intake_commits_from_their_notifications(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers on PostgreSQL take their turns while intake commits too: intake's notification
    reaches ``wake``, which marks intake as committing."""
    from shoptrack.pipeline.writer import GroupCommitWriter
    from shoptrack.store.inbox import InboxEntry

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
