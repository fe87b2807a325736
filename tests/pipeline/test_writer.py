"""The group-commit writer: batches form under load, and one bad row never fails the others."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest

from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.writer import INBOX_CHANNEL, GroupCommitWriter, WriterStoppedError
from shoptrack.services import Services
from shoptrack.store.inbox import InboxAppender, InboxEntry
from shoptrack.testing import make_shop
from tests.helpers import inbox_states


def _entry(account_id: str, n: int, **changes: object) -> InboxEntry:
    values: dict[str, object] = {
        "account_id": account_id,
        "source": "webhook",
        "topic": "order.updated",
        "body": b"{}",
        "dedupe_key": f"k{n}",
    }
    values.update(changes)
    return InboxEntry(**values)  # type: ignore[arg-type]


def test_queued_entries_share_one_commit(services: Services) -> None:
    shop = make_shop(services)
    writer = GroupCommitWriter(services.database, services.clock)
    # Handed over before the writer starts, so its first batch holds them all.
    futures = [writer.submit(_entry(shop.account_id, n)) for n in range(50)]
    writer.start()
    try:
        assert [f.result(timeout=30) for f in futures] == [True] * 50
        assert writer.batches_committed == 1
    finally:
        writer.stop()
    assert inbox_states(services) == {"pending": 50}


def test_a_bad_row_fails_alone_and_duplicates_are_reported(services: Services) -> None:
    shop = make_shop(services)
    writer = GroupCommitWriter(services.database, services.clock)
    futures: list[Future[bool]] = [
        writer.submit(_entry(shop.account_id, 1)),
        # A body that is not bytes cannot be stored: this entry alone must fail.
        writer.submit(_entry(shop.account_id, 2, body=None)),
        writer.submit(_entry(shop.account_id, 1)),  # the same dedupe key as the first
        writer.submit(_entry(shop.account_id, 3)),
    ]
    writer.start()
    try:
        assert futures[0].result(timeout=30) is True
        with pytest.raises(Exception, match="body"):
            futures[1].result(timeout=30)
        assert futures[2].result(timeout=30) is False
        assert futures[3].result(timeout=30) is True
    finally:
        writer.stop()
    assert inbox_states(services) == {"pending": 2}


def test_a_batch_says_which_of_its_deliveries_are_new_beside_ones_stored_before(
    services: Services,
) -> None:
    """Keys stored by an earlier commit, and keys repeated within the batch, are not new; the
    rest are, those without a key included."""
    shop = make_shop(services)
    appender = InboxAppender(services.database, INBOX_CHANNEL)
    now = services.clock.now()
    try:
        assert appender.append([_entry(shop.account_id, 1), _entry(shop.account_id, 2)], now) == [
            True,
            True,
        ]
        batch = [
            _entry(shop.account_id, 3),
            _entry(shop.account_id, 1),
            _entry(shop.account_id, 4),
            _entry(shop.account_id, 3),
            _entry(shop.account_id, 2),
            _entry(shop.account_id, 5, dedupe_key=None),
        ]
        assert appender.append(batch, now) == [True, False, True, False, False, True]
        assert appender.append([_entry(shop.account_id, 1)], now) == [False]
    finally:
        appender.close()
    assert inbox_states(services) == {"pending": 5}


def test_a_stopped_writer_refuses_with_503(services: Services) -> None:
    writer = GroupCommitWriter(services.database, services.clock)
    writer.start()
    writer.stop()
    with pytest.raises(WriterStoppedError) as raised:
        writer.submit(_entry("a", 1)).result(timeout=5)
    assert raised.value.status == 503


def test_only_inserted_events_are_handed_on(services: Services) -> None:
    from shoptrack.testing import woo_order
    from tests.conftest import START
    from tests.helpers import deliver

    shop = make_shop(services)
    handed: list[str] = []
    processor = Processor(
        services.database,
        services.clock,
        on_recorded=lambda _connection, recorded: handed.extend(e.metric for e in recorded),
    )
    deliver(services, shop, woo_order(1, "processing", START), "a")
    deliver(services, shop, woo_order(1, "processing", START), "b")  # same order, new delivery
    processor.run_until_idle()
    assert sorted(handed) == ["Ordered Product", "Ordered Product", "Placed Order"]


def test_spooled_entries_reach_the_inbox_before_newer_ones(
    services: Services, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from shoptrack.pipeline.spool import Spool
    from shoptrack.store.schema import inbox
    from tests.processes import wait_until

    shop = make_shop(services)
    directory = tmp_path / "spool"
    # Acknowledged by a process that stopped before the database came back.
    left = Spool(directory, max_bytes=1 << 20)
    left.open()
    assert left.append([_entry(shop.account_id, n) for n in range(20)]) == 20
    left.close()
    writer = GroupCommitWriter(
        services.database, services.clock, spool=Spool(directory, max_bytes=1 << 20), max_batch=3
    )
    # Handed over as it starts: they wait behind the twenty, drained a few batches at a time.
    futures = [writer.submit(_entry(shop.account_id, 100 + n)) for n in range(5)]
    writer.start()
    try:
        assert [f.result(timeout=30) for f in futures] == [True] * 5
        wait_until(lambda: not writer.state().spool.entries, timeout=30)  # type: ignore[union-attr]
    finally:
        writer.stop()
    with services.database.read() as connection:
        keys = connection.execute(select(inbox.c.dedupe_key).order_by(inbox.c.id)).scalars().all()
    assert keys == [f"k{n}" for n in [*range(20), *range(100, 105)]]


def test_a_database_that_holds_every_write_is_reported_stuck(services: Services) -> None:
    from tests.processes import wait_until

    if not services.database.is_sqlite:
        pytest.skip("SQLite's single write lock is what another connection holds here")
    writer = GroupCommitWriter(services.database, services.clock, stuck_after=0.2)
    writer.start()
    try:
        with services.database.write():  # holds the write lock: the writer's probe waits
            writer.request_probe()
            wait_until(lambda: writer.state().stuck_seconds is not None, timeout=30)
            reason = writer.state().degraded
            assert reason is not None
            assert "has not finished" in reason
        wait_until(lambda: writer.state().degraded is None, timeout=30)
    finally:
        writer.stop()


@pytest.mark.postgres
def test_a_batch_wakes_the_workers_of_other_processes(services: Services) -> None:
    """The batch's own statement notifies ``INBOX_CHANNEL`` on PostgreSQL, where workers of
    other processes listen; a batch of repeats, with nothing new, wakes nobody."""
    import psycopg

    from shoptrack.pipeline.writer import INBOX_CHANNEL

    if services.database.is_sqlite:
        pytest.skip("SQLite has no listeners: its workers are woken in-process")
    shop = make_shop(services)
    url = services.database.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as listener:
        listener.execute(f"LISTEN {INBOX_CHANNEL}")
        writer = GroupCommitWriter(services.database, services.clock)
        writer.start()
        try:
            assert writer.submit(_entry(shop.account_id, 1)).result(timeout=30) is True
            woken = list(listener.notifies(timeout=30, stop_after=1))
            assert [note.channel for note in woken] == [INBOX_CHANNEL]
            assert writer.submit(_entry(shop.account_id, 1)).result(timeout=30) is False
            assert list(listener.notifies(timeout=0.2)) == []
        finally:
            writer.stop()


@pytest.mark.postgres
def test_a_batch_after_the_server_closed_the_writers_connection_is_written_directly(
    services: Services,
) -> None:
    """The writer keeps its connection from batch to batch; when the server has closed it
    meanwhile (a restart, an administrator), the next batch is written on a fresh one — no
    outage, nothing spooled."""
    from sqlalchemy import text

    if services.database.is_sqlite:
        pytest.skip("a PostgreSQL server closing connections")
    shop = make_shop(services)
    writer = GroupCommitWriter(services.database, services.clock)
    writer.start()
    try:
        assert writer.submit(_entry(shop.account_id, 1)).result(timeout=30) is True
        with services.database.engine.connect() as admin:
            closed = admin.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert closed >= 1  # the writer's kept connection among them
        assert writer.submit(_entry(shop.account_id, 2)).result(timeout=30) is True
        assert writer.state().outage is None
    finally:
        writer.stop()
    assert inbox_states(services) == {"pending": 2}


@pytest.mark.postgres
def test_the_connection_a_writer_keeps_is_closed_with_the_database(services: Services) -> None:
    """Disposing of the database closes the writer's kept connection too: left checked out, it
    would outlive its pool, open until collected."""
    import psycopg

    if services.database.is_sqlite:
        pytest.skip("the writer keeps a connection on PostgreSQL only")
    shop = make_shop(services)
    writer = GroupCommitWriter(services.database, services.clock)
    writer.start()
    try:
        assert writer.submit(_entry(shop.account_id, 1)).result(timeout=30) is True
        services.database.dispose()
        url = services.database.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as admin:
            others = admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert others == (0,)
    finally:
        writer.stop()
