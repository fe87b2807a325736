"""``serve`` runs its workers in a process of their own beside the HTTP server, at a lower
scheduling priority: woken when a delivery is committed, gone when the server is — even when
the server is killed outright."""

from __future__ import annotations

import gc
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shoptrack.pipeline.runtime import freeze_start_up_objects
from shoptrack.services import Services
from shoptrack.store.schema import inbox
from shoptrack.testing import WEBHOOK_SECRET, make_shop, woo_order, woo_webhook
from tests.helpers import event_counts
from tests.processes import Server, environment, wait_until

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


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_processes_in_a_worker_process_that_ends_with_it(
    services: Services, tmp_path: Path
) -> None:
    shop = make_shop(services)
    env = environment(services.settings.resolved_database_url(), tmp_path / "data")
    server = Server(env)
    try:
        (worker,) = _children(server.process.pid)
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
        # The row was processed by the worker process, not by the server.
        assert processed_by.endswith(f":{worker}")
        assert worker != server.process.pid != os.getpid()
        # Acknowledging goes first when both are busy: the worker runs at a lower priority.
        server_niceness = os.getpriority(os.PRIO_PROCESS, server.process.pid)
        assert os.getpriority(os.PRIO_PROCESS, worker) == server_niceness + 5
        server.kill_hard()
        wait_until(lambda: not _alive(worker), timeout=60)
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
