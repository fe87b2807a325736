"""``shoptrack sync``'s processing: a small sync is processed in the command's own process; a
long one beside its reading by worker processes of its own (two shares of the inbox on
SQLite), which it waits for — exactly once, every row, and no process left behind, even when
the command is interrupted (``tests/pipeline/test_sync_processing.py`` shows pages processed
while the next are read)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import anyio.to_thread
import orjson
import pytest
from sqlalchemy import func, select
from starlette.types import ASGIApp, Receive, Scope, Send

from shoptrack.simulators import WooCommerceSimulator
from shoptrack.simulators.serving import serving
from shoptrack.store.database import Database
from shoptrack.store.schema import events, inbox, metrics
from tests.processes import Process, environment, run_cli, wait_until

pytestmark = pytest.mark.slow

# More than the new orders a sync stores before it starts worker processes (1,000).
LONG = 1_500
# The pages of 100 orders a gated store serves before it holds the next (``_Gate``).
OPEN_PAGES = 12
STATUSES = ("processing", "completed", "pending")  # pending places nothing


class _Gate:
    """The store's order pages after the first ``OPEN_PAGES`` held until ``opened``: a sync
    that has gone past its worker processes' threshold is still reading for as long as a test
    needs (``holding`` says that a page is held)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.holding = threading.Event()
        self.opened = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/orders"):
            page = parse_qs(scope["query_string"].decode()).get("page", ["1"])[0]
            if int(page) > OPEN_PAGES and not self.opened.is_set():
                self.holding.set()
                await anyio.to_thread.run_sync(self.opened.wait)
        await self._app(scope, receive, send)


@contextlib.contextmanager
def _taking_ctrl_c() -> Iterator[None]:
    """Children started in the block take SIGINT as a terminal's Ctrl-C, even where this run
    ignores it (as a shell's background job does, and its children with it)."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:  # a handler, not SIG_IGN, is reset to the default in the started program
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _simulator(orders: int) -> WooCommerceSimulator:
    simulator = WooCommerceSimulator()
    simulator.add_orders(orders, statuses=STATUSES, interval=timedelta(minutes=3))
    return simulator


def _shop(orders: int) -> Iterator[tuple[WooCommerceSimulator, str]]:
    simulator = _simulator(orders)
    with serving(simulator.app) as base_url:
        yield simulator, base_url


@pytest.fixture
def small_shop() -> Iterator[tuple[WooCommerceSimulator, str]]:
    yield from _shop(30)


@pytest.fixture
def long_shop() -> Iterator[tuple[WooCommerceSimulator, str]]:
    yield from _shop(LONG)


@pytest.fixture
def gated_shop() -> Iterator[tuple[WooCommerceSimulator, str, _Gate]]:
    """A long shop that holds the sync's pages past the threshold (``_Gate``)."""
    simulator = _simulator(LONG)
    gate = _Gate(simulator.app)
    with serving(gate) as base_url:
        try:
            yield simulator, base_url, gate
        finally:
            gate.opened.set()  # the server ends once its held request is answered


def _connect(env: dict[str, str], shop: tuple[WooCommerceSimulator, str]) -> str:
    simulator, base_url = shop
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0
    options = [f"--credential={k}={v}" for k, v in simulator.credentials(base_url).items()]
    added = run_cli(env, "integrations", "add", "woocommerce", "--name", "Woo", *options, "--json")
    assert added.returncode == 0, added.stderr
    return str(orjson.loads(added.stdout)["data"]["id"])


def _processors(database_url: str) -> dict[str | None, int]:
    """The inbox's rows by the process that processed them (``host:pid``; None: not yet)."""
    database = Database(database_url)
    try:
        with database.read() as connection:
            rows = connection.execute(
                select(inbox.c.processed_by, func.count()).group_by(inbox.c.processed_by)
            ).all()
    finally:
        database.dispose()
    return {processed_by: int(count) for processed_by, count in rows}


def _placed_orders(database_url: str) -> tuple[int, int]:
    """Placed Order events, and the distinct orders they are of."""
    database = Database(database_url)
    try:
        with database.read() as connection:
            placed = (
                select(events.c.unique_id)
                .join(metrics, metrics.c.id == events.c.metric_id)
                .where(metrics.c.name == "Placed Order")
                .subquery()
            )
            total, distinct = connection.execute(
                select(func.count(), func.count(placed.c.unique_id.distinct()))
            ).one()
    finally:
        database.dispose()
    return int(total), int(distinct)


def _pid(processed_by: str) -> int:
    return int(processed_by.rsplit(":", 1)[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started that are running now."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def test_a_small_sync_is_processed_by_the_command_itself(
    database_url: str, tmp_path: Path, small_shop: tuple[WooCommerceSimulator, str]
) -> None:
    env = environment(database_url, tmp_path / "data")
    integration_id = _connect(env, small_shop)
    command = Process(env, "sync", integration_id, "--backfill", "30")
    assert command.process.wait(timeout=120) == 0, command.stop()
    assert "all processed" in command.stop()
    assert _processors(database_url) == {f"{socket.gethostname()}:{command.process.pid}": 30}


def test_a_long_sync_is_processed_by_worker_processes_it_waits_for(
    database_url: str, tmp_path: Path, long_shop: tuple[WooCommerceSimulator, str]
) -> None:
    env = environment(database_url, tmp_path / "data")
    integration_id = _connect(env, long_shop)
    command = Process(env, "sync", integration_id, "--backfill", "30")
    assert command.process.wait(timeout=300) == 0, command.stop()
    output = command.stop()
    assert f"{LONG} orders seen, {LONG} new" in output
    assert "all processed" in output

    processors = _processors(database_url)
    assert None not in processors  # every row processed before the command answered
    assert sum(processors.values()) == LONG
    # By processes of the command's own, which have ended with it.
    assert f"{socket.gethostname()}:{command.process.pid}" not in processors
    assert not any(_alive(_pid(processor)) for processor in processors if processor is not None)
    placing = sum(1 for n in range(LONG) if STATUSES[n % len(STATUSES)] != "pending")
    assert _placed_orders(database_url) == (placing, placing)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "ending", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed outright"]
)
def test_an_interrupted_long_sync_leaves_no_worker_process_behind(
    database_url: str,
    tmp_path: Path,
    gated_shop: tuple[WooCommerceSimulator, str, _Gate],
    ending: signal.Signals,
) -> None:
    simulator, base_url, gate = gated_shop
    env = environment(database_url, tmp_path / "data")
    integration_id = _connect(env, (simulator, base_url))
    with _taking_ctrl_c():
        command = Process(env, "sync", integration_id, "--backfill", "30")
    started: set[int] = set()

    def processing_beside() -> bool:
        assert command.process.poll() is None, command.stop()  # still reading
        started.update(_children(command.process.pid))
        return gate.holding.is_set() and any(
            processor is not None for processor in _processors(database_url)
        )

    # Interrupted while it reads a page the store holds, its processes at work beside it.
    wait_until(processing_beside, timeout=120)
    command.process.send_signal(ending)
    try:
        ended = command.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the sync did not end: {command.stop()}")
    assert ended != 0, command.stop()
    command.stop()
    gate.opened.set()
    processors = {_pid(p) for p in _processors(database_url) if p is not None}
    assert processors <= started  # the processes it started processed what was processed
    # Ended with it (Ctrl-C), or after the batch each was writing (its pipe closed).
    wait_until(lambda: not any(_alive(pid) for pid in started), timeout=60)

    # What the ended processes left is processed next, once. (Not by another sync: one killed
    # outright while reading holds the integration's sync lease until it expires.)
    again = run_cli(env, "replay", timeout=300)
    assert again.returncode == 0, again.stderr
    assert None not in _processors(database_url)
    placed, orders = _placed_orders(database_url)
    assert 0 < placed == orders


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_processing_only_worker_needs_the_pipe_sync_gives_it(
    database_url: str, tmp_path: Path
) -> None:
    done = run_cli(environment(database_url, tmp_path / "data"), "worker", "--only-processing")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: --only-processing needs --wake-fd: `shoptrack sync` starts such workers itself"
    ]
