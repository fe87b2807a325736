"""Durability with real processes: an acknowledged delivery survives ``kill -9`` of ``serve``,
and two ``worker`` processes on PostgreSQL share the inbox without processing a row twice."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy
from sqlalchemy import func, select, text

from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.schema import events, inbox, metrics
from shoptrack.testing import WEBHOOK_SECRET, make_shop, woo_order, woo_webhook
from tests.helpers import deliver, inbox_states
from tests.processes import Process, Server, environment, wait_until

pytestmark = pytest.mark.slow

# Real processes keep real time: these orders are recent, so their events are live.
NOW = datetime.now(UTC).replace(microsecond=0)


def _placed_order_ids(services: Services) -> set[str]:
    with services.database.read() as connection:
        return set(
            connection.execute(
                select(events.c.unique_id)
                .join(metrics, metrics.c.id == events.c.metric_id)
                .where(metrics.c.name == "Placed Order")
            ).scalars()
        )


def test_acknowledged_deliveries_survive_kill_9(services: Services, tmp_path: Path) -> None:
    shop = make_shop(services)
    env = environment(services.settings.resolved_database_url(), tmp_path / "data")
    server = Server(env, "--no-workers")
    url = f"{server.url}/webhooks/woocommerce/{shop.integration.id}"
    acknowledged: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()

    def send(order_id: int) -> None:
        headers, body = woo_webhook(
            woo_order(order_id, "processing", NOW - timedelta(minutes=1)),
            secret=WEBHOOK_SECRET,
            delivery_id=str(order_id),
        )
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=10)
        except httpx.TransportError:
            return  # the server died under this request: not acknowledged, may or may not be kept
        if response.status_code == 200:
            with lock:
                acknowledged.append(order_id)
                if len(acknowledged) >= 40:
                    enough.set()

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            for order_id in range(1, 201):
                pool.submit(send, order_id)
            assert enough.wait(timeout=60)
            server.kill_hard()  # mid-stream: requests are still in flight
    finally:
        server.stop()
    states = inbox_states(services)
    assert states.get("processed", 0) == 0  # nothing was processed before the crash
    assert states["pending"] >= len(acknowledged)

    restarted = Server(env)  # with its workers this time
    try:
        wait_until(lambda: inbox_states(services).get("pending", 0) == 0)
    finally:
        restarted.stop()
    placed = _placed_order_ids(services)
    assert {str(order_id) for order_id in acknowledged} <= placed
    with services.database.read() as connection:
        # Exactly once: one Placed Order and two Ordered Products per order, nothing more.
        total = connection.execute(select(func.count()).select_from(events)).scalar_one()
    assert total == 3 * len(placed)


def _worker_processes(server: Server) -> set[int]:
    """The pids of serve's worker processes that run (children of whichever of serve's threads
    started them)."""
    children: set[int] = set()
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            children.update(int(pid) for pid in (task / "children").read_text().split())
    return children


def test_serve_starts_its_worker_process_again_when_it_ends(
    services: Services, tmp_path: Path
) -> None:
    shop = make_shop(services)
    server = Server(environment(services.settings.resolved_database_url(), tmp_path / "data"))
    try:
        # On SQLite one for each of two shares of the inbox (a core each); on PostgreSQL one.
        count = min(2, len(os.sched_getaffinity(0))) if services.database.is_sqlite else 1
        wait_until(lambda: len(_worker_processes(server)) == count)
        killed = min(_worker_processes(server))
        os.kill(killed, signal.SIGKILL)  # as the kernel's OOM killer would
        wait_until(lambda: "the worker process ended (exit status -9)" in server.output())
        wait_until(
            lambda: killed not in (running := _worker_processes(server)) and len(running) == count
        )
        headers, body = woo_webhook(
            woo_order(7, "processing", NOW - timedelta(minutes=1)),
            secret=WEBHOOK_SECRET,
            delivery_id="after-the-restart",
        )
        url = f"{server.url}/webhooks/woocommerce/{shop.integration.id}"
        assert httpx.post(url, content=body, headers=headers, timeout=30).status_code == 200
        wait_until(lambda: "7" in _placed_order_ids(services))
    finally:
        server.stop()


def _unclaimed_rows(services: Services) -> int:
    """Pending rows no transaction has locked (claimed) — counted without keeping them."""
    with services.database.engine.connect() as connection:
        count = len(
            connection.execute(
                text("SELECT id FROM inbox WHERE state = 'pending' FOR UPDATE SKIP LOCKED")
            ).all()
        )
        connection.rollback()
    return count


@pytest.mark.postgres
def test_two_workers_never_process_a_row_twice(postgres_url: str, tmp_path: Path) -> None:
    from shoptrack.clock import SystemClock
    from shoptrack.settings import Settings
    from shoptrack.store.database import Database
    from shoptrack.store.secrets import CredentialCipher
    from tests.conftest import TEST_SECRET_KEY

    services = Services(
        Settings(database_url=postgres_url, secret_key=TEST_SECRET_KEY),
        Database(postgres_url),
        SystemClock(),
        CredentialCipher([TEST_SECRET_KEY]),
    )
    shop = make_shop(services)
    # Count every transition to processed, whoever makes it: a second one would be a double.
    with services.database.write() as connection:
        connection.execute(text("CREATE TABLE processed_audit (inbox_id bigint, at timestamptz)"))
        connection.execute(
            text(
                "CREATE FUNCTION audit_processed() RETURNS trigger AS $$ BEGIN "
                "INSERT INTO processed_audit VALUES (NEW.id, now()); RETURN NEW; END $$ "
                "LANGUAGE plpgsql"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER audit_processed AFTER UPDATE OF state ON inbox FOR EACH ROW "
                "WHEN (NEW.state = 'processed') EXECUTE FUNCTION audit_processed()"
            )
        )
    # 150 orders, each seen three times (pending, processing, completed), all deliveries pending.
    base = NOW - timedelta(hours=1)
    for order_id in range(1, 151):
        for step, status in enumerate(("pending", "processing", "completed")):
            order = woo_order(order_id, status, base + timedelta(minutes=step), created=base)
            deliver(services, shop, order, f"{order_id}-{status}")
    env = environment(postgres_url, tmp_path / "data")
    # Order states are locked away until every row is claimed: each processing transaction
    # holds the rows it claimed while it waits to read their orders' states. A worker's two
    # processing threads take two batches of 200 at most, so of the 450 rows the other worker
    # must hold some when none is left unclaimed, however late it started.
    held = services.database.engine.connect()
    held.execute(text("LOCK TABLE order_states IN ACCESS EXCLUSIVE MODE"))
    workers = [Process(env, "worker"), Process(env, "worker")]
    try:
        wait_until(lambda: _unclaimed_rows(services) == 0, timeout=120)
        # On a machine shared with a server, acknowledging goes first: workers run lower.
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        for worker in workers:
            assert os.getpriority(os.PRIO_PROCESS, worker.process.pid) == ours + 5
        held.commit()
        wait_until(lambda: inbox_states(services) == {"processed": 450}, timeout=120)
    finally:
        held.close()
        outputs = [worker.stop() for worker in workers]
    with services.database.read() as connection:
        audited = connection.execute(text("SELECT count(*) FROM processed_audit")).scalar_one()
        distinct = connection.execute(
            text("SELECT count(DISTINCT inbox_id) FROM processed_audit")
        ).scalar_one()
        by_worker = connection.execute(
            select(inbox.c.processed_by, func.count()).group_by(inbox.c.processed_by)
        ).all()
        per_metric = connection.execute(
            text(
                "SELECT m.name, count(*) FROM events e JOIN metrics m ON m.id = e.metric_id "
                "GROUP BY m.name"
            )
        ).all()
    assert audited == distinct == 450, outputs
    assert "deadlock" not in "".join(outputs)
    assert len(by_worker) == 2, f"both workers should have taken rows: {by_worker}"
    assert dict(per_metric) == {"Placed Order": 150, "Ordered Product": 300, "Fulfilled Order": 150}
    services.close()


def _commit_waits_for_the_disk(services: Services, connection: sqlalchemy.Connection) -> bool:
    if services.database.is_sqlite:
        # FULL (2) waits for the disk at every commit; NORMAL (1), in WAL mode, at checkpoints.
        return connection.execute(text("PRAGMA synchronous")).scalar_one() == 2
    return connection.execute(text("SHOW synchronous_commit")).scalar_one() == "on"


def test_only_derived_writes_commit_without_waiting_for_the_disk(services: Services) -> None:
    """Processing's transactions are derived from durable inbox rows and need not wait for the
    disk; every other write does, and so does the next one on the same pooled connection."""
    for _ in range(3):
        with services.database.write() as connection:
            assert _commit_waits_for_the_disk(services, connection)
        with services.database.write(derived=True) as connection:
            assert not _commit_waits_for_the_disk(services, connection)
    with contextlib.suppress(RuntimeError), services.database.write(derived=True) as connection:
        raise RuntimeError("a failed derived transaction puts the setting back too")
    with services.database.write() as connection:
        assert _commit_waits_for_the_disk(services, connection)


def test_processing_commits_are_derived(services: Services) -> None:
    shop = make_shop(services)
    deliver(services, shop, woo_order(1, "processing", NOW - timedelta(minutes=1)), "d1")
    seen: list[bool] = []

    def hook(connection: sqlalchemy.Connection, _recorded: object) -> None:
        seen.append(_commit_waits_for_the_disk(services, connection))

    Processor(services.database, services.clock, on_recorded=hook).run_until_idle()
    assert seen == [False]
