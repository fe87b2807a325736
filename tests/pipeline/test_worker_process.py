"""``serve`` runs its workers in processes of their own beside the HTTP server (two on SQLite,
each with its share of the inbox), at a lower scheduling priority: woken when a delivery is
committed, gone when the server is — even when the server is killed outright."""

from __future__ import annotations

import gc
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shoptrack.api.app import create_app
from shoptrack.pipeline.runtime import freeze_start_up_objects
from shoptrack.services import Services
from shoptrack.store.schema import inbox
from shoptrack.testing import WEBHOOK_SECRET, make_shop, woo_order, woo_webhook
from tests.helpers import AppClient, event_counts
from tests.processes import Server, environment, shoptrack_for_children, wait_until

pytestmark = pytest.mark.slow

NOW = datetime.now(UTC).replace(microsecond=0)


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The parent pid is the second field after the command, which is in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def _share(pid: int) -> str:
    """The share of the inbox a worker process was given (its ``--inbox-share``)."""
    arguments = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    return arguments[arguments.index(b"--inbox-share") + 1].decode()


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_processes_in_worker_processes_that_end_with_it(
    services: Services, tmp_path: Path
) -> None:
    shop = make_shop(services)
    env = environment(services.settings.resolved_database_url(), tmp_path / "data")
    server = Server(env)
    try:
        workers = _children(server.process.pid)
        # On SQLite one for each of two shares of the inbox (a core each); on PostgreSQL one.
        cores = len(os.sched_getaffinity(0))
        count = min(2, cores) if services.database.is_sqlite else 1
        assert len(workers) == count
        if count > 1:
            assert sorted(_share(worker) for worker in workers) == ["0/2", "1/2"]
        headers, body = woo_webhook(
            woo_order(1, "processing", NOW - timedelta(minutes=1)),
            secret=WEBHOOK_SECRET,
            delivery_id="1",
        )
        answer = httpx.post(
            f"{server.url}/webhooks/woocommerce/{shop.integration.id}",
            content=body,
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 200
        wait_until(lambda: event_counts(services, shop.account_id).get("Placed Order") == 1)
        with services.database.read() as connection:
            processed_by = connection.execute(select(inbox.c.processed_by)).scalar_one()
        # The row was processed by a worker process (the one whose share its block is, unless
        # that one was so slow to start that the other took the row over).
        (worker,) = (pid for pid in workers if processed_by.endswith(f":{pid}"))
        assert server.process.pid not in workers
        assert os.getpid() not in workers
        # Acknowledging goes first when both are busy: the workers run at a lower priority.
        server_niceness = os.getpriority(os.PRIO_PROCESS, server.process.pid)
        for worker in workers:
            assert os.getpriority(os.PRIO_PROCESS, worker) == server_niceness + 5
        assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
        assert "processing" not in httpx.get(f"{server.url}/health").json()  # it works
        server.kill_hard()
        for worker in workers:
            wait_until(lambda worker=worker: not _alive(worker), timeout=60)
    finally:
        server.stop()


def test_a_command_s_start_up_objects_are_left_out_of_collections() -> None:
    """What ``serve``, ``worker`` and ``sync`` hold from their start-up is frozen: the garbage
    collector's passes walk only what their work allocates."""
    before = gc.get_freeze_count()
    try:
        freeze_start_up_objects()
        assert gc.get_freeze_count() > before + 1000
    finally:
        gc.unfreeze()


def test_health_says_when_the_worker_process_cannot_start(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its shoptrack broken (a package first on its path): it ends at each start, again and
    # again, while the server takes deliveries in. Monitoring reads it from /health.
    monkeypatch.setenv("PYTHONPATH", shoptrack_for_children(tmp_path, "raise SystemExit(3)\n"))
    client = AppClient(create_app(services, worker_process=True))
    try:
        wait_until(lambda: "processing" in client.get("/health").json())
        answer = client.get("/health")
        assert (answer.status_code, answer.json()["status"]) == (200, "ok")  # still taking in
        assert answer.json()["processing"].startswith("a worker process ended 3 times in a row")
    finally:
        client.close()
