"""Webhook intake at speed: how fast shoptrack acknowledges a burst of orders and how fast they
become Placed Order events, against the machine's own limit, on SQLite and PostgreSQL.

Definitions (issue 13, "The engine at speed"): a **burst** is 5 s of signed WooCommerce
``order.created`` deliveries on 32 keep-alive connections, every one a new order, with
processing running.

- **acknowledged**: 200s per second during the burst (a 200 means the raw delivery is committed
  to the inbox by the group-commit writer).
- **sustained**: the burst's orders whose Placed Order is visible through the API, per second,
  from the burst's first request until its last order is visible. Visibility is asked of
  ``POST /api/metric-aggregates`` (the Placed Order count of the shop's integration, with its
  private key) every 50 ms once the burst is over; the rollups it reads are committed with the
  events.
- **processing alone**: the inbox rows a ``serve --no-workers`` burst left pending, processed by
  one ``shoptrack worker`` process on PostgreSQL (timed from its first processed row to its last,
  so its start-up is not counted) or by ``Processor`` in this process on SQLite (which has no
  ``worker`` command), in rows/s.

Each rate is divided by the **bare ASGI** rate measured just before it: a raw ASGI callable under
the same uvicorn (httptools, one process, loopback) doing the work no webhook check can avoid — read
the body, compare its base64 HMAC-SHA256 with ``x-wc-webhook-signature``, parse it with orjson,
answer 200. That ratio is what compares across machines and runs. The machine is shared and
its load drifts, so each target gets its own ceiling, a bare ASGI burst seconds before it, and
each figure is the median of ``--runs`` runs (3), every target measured once per run, in turn.

Targets, each on an empty store, as a user would start them (``shoptrack serve`` and
``shoptrack worker`` processes with ``SHOPTRACK_*`` settings in their environment):

- SQLite, ``shoptrack serve`` as the README runs it (its workers in a process of its own), and
  ``shoptrack serve --no-workers`` (acknowledging only; then processing alone). The ratio of the
  two acknowledged rates says what processing costs intake (the goal is >= 0.8).
- PostgreSQL, ``serve --no-workers`` with 1 and with 2 ``shoptrack worker`` processes, and with
  none (then processing alone in 1 worker, and in another store in 2: whether workers scale
  when intake and the load generator do not share the cores with them).

After every target the store is checked: the Placed Order events of the integration must be as
many as the orders acknowledged, each order once (distinct ``unique_id``), and every stored
delivery processed. Nothing is asserted; the table says what was lost or doubled, if anything.

The load generator is a bounded asyncio HTTP/1.1 keep-alive client on raw streams in this
process (the servers are subprocesses): each connection sends pre-built requests one after the
other until the time is up. Every answer must be ``200 {"status":"accepted"}``; anything else
counts as failed. The CPU notes (percent of one core during the burst) say which process was
saturated; on PostgreSQL they include the server's processes, when it runs on this machine.
``--quick`` is one short run for development.

PostgreSQL is ``SHOPTRACK_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), where a throwaway database is created per target
and dropped; that part is skipped if the server is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import os
import platform
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import uvicorn
import uvloop
from sqlalchemy import and_, distinct, func, select
from sqlalchemy.engine import make_url

from shoptrack.pipeline.processing import BatchResult
from shoptrack.pipeline.runtime import build_processor
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.schema import events, inbox, metrics
from shoptrack.testing import WEBHOOK_SECRET, make_shop, woo_order, woo_webhook

# libpq's form of the URL (psycopg.connect takes no SQLAlchemy "+driver" suffix)
POSTGRES_URL = (
    make_url(
        os.environ.get("SHOPTRACK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    .set(drivername="postgresql")
    .render_as_string(hide_password=False)
)
SHOPTRACK = str(Path(sys.executable).with_name("shoptrack"))
ACCEPTED = b'{"status":"accepted"}'
WARMUP_REQUESTS = 300
BARE_REQUESTS = 2_000  # distinct requests the bare endpoint is sent, round and round
START_SECONDS = 30.0
# How long the last orders of a burst may take to become visible before the run gives up.
VISIBLE_SECONDS = 300.0
POLL_SECONDS = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# --- the baseline server -------------------------------------------------------------------------


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The machine's limit: the webhook check's unavoidable work, with no framework around it."""
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    signature = next((v for k, v in scope["headers"] if k == b"x-wc-webhook-signature"), b"")
    expected = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest())
    if hmac.compare_digest(expected, signature):
        orjson.loads(body)
        status, answer = 200, ACCEPTED
    else:
        status, answer = 401, b'{"status":"rejected"}'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(answer)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})


def serve_bare(port: int) -> None:
    """Serves ``bare_app`` the way ``shoptrack serve`` runs uvicorn."""
    uvicorn.run(
        bare_app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


# --- deliveries and the load generator -----------------------------------------------------------


def build_deliveries(count: int) -> list[bytes]:
    """Signed ``order.created`` deliveries of ``count`` different orders (each with its own
    buyer and delivery id), as header block + body (everything after the request line)."""
    start = datetime.now(UTC) - timedelta(hours=1)
    deliveries = []
    for n in range(count):
        order = woo_order(
            10_000 + n,
            "processing",
            start + timedelta(milliseconds=n),
            email=f"buyer{n}@example.com",
        )
        headers, body = woo_webhook(
            order, secret=WEBHOOK_SECRET, topic="order.created", delivery_id=str(1_000_000 + n)
        )
        lines = [f"{name}: {value}\r\n" for name, value in headers.items()]
        head = f"host: 127.0.0.1\r\n{''.join(lines)}content-length: {len(body)}\r\n\r\n"
        deliveries.append(head.encode() + body)
    return deliveries


def requests_for(path: str, deliveries: Iterable[bytes]) -> Iterator[bytes]:
    """The deliveries as requests to ``path``, made as they are sent (not all held at once)."""
    request_line = f"POST {path} HTTP/1.1\r\n".encode()
    return (request_line + delivery for delivery in deliveries)


@dataclass(slots=True)
class LoadResult:
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    started: float = 0.0  # perf_counter() when the first request went out
    exhausted: bool = False  # every prepared request was sent before the time was up
    cpu: dict[str, float] = field(default_factory=dict)  # share of one core, by process

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bool:
    """Sends one request and reads its response; True for ``200 {"status":"accepted"}``."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    marker = head.lower().find(b"\r\ncontent-length:")
    if marker < 0:
        raise ConnectionError("a response without content-length")
    length = int(head[marker + 17 : head.index(b"\r\n", marker + 2)])
    body = await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200 ") and body == ACCEPTED


async def _load(
    port: int, requests: Iterator[bytes], connections: int, seconds: float
) -> LoadResult:
    result = LoadResult()
    streams = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", port) for _ in range(connections))
    )
    result.started = time.perf_counter()
    deadline = result.started + seconds

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while time.perf_counter() < deadline:
                request = next(requests, None)
                if request is None:
                    result.exhausted = True
                    return
                if await _exchange(reader, writer, request):
                    result.ok += 1
                else:
                    result.failed += 1
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            result.failed += 1  # this connection is done; the others go on
        finally:
            writer.close()

    async with asyncio.timeout(seconds + 60):
        await asyncio.gather(*(connection(reader, writer) for reader, writer in streams))
    result.seconds = time.perf_counter() - result.started
    return result


# The CPU group of the local PostgreSQL server's processes (found by name, as they come and go).
POSTGRES_GROUP = "postgres"


def load(
    port: int, requests: Iterator[bytes], options: Options, processes: dict[str, list[int]]
) -> LoadResult:
    """One burst of ``options.seconds`` from ``requests``, with the CPU each group of
    ``processes`` (and this client) spent meanwhile."""
    before = {name: _group_cpu_seconds(name, pids) for name, pids in processes.items()}
    client = time.process_time()
    result = uvloop.run(_load(port, requests, options.connections, options.seconds))
    for name, pids in processes.items():
        result.cpu[name] = (_group_cpu_seconds(name, pids) - before[name]) / result.seconds
    result.cpu["client"] = (time.process_time() - client) / result.seconds
    return result


def _group_cpu_seconds(name: str, pids: Sequence[int]) -> float:
    if name == POSTGRES_GROUP:
        return _cpu_seconds(_pids_of(POSTGRES_GROUP), children=False)  # all are listed
    return _cpu_seconds(pids)


def _pids_of(command: str) -> list[int]:
    """The processes running ``command`` (the local PostgreSQL server's, by its name)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if stat.read_text().split(" (", 1)[1].startswith(f"{command})"):
                pids.append(int(stat.parent.name))
    return pids


def _cpu_seconds(pids: Sequence[int], *, children: bool = True) -> float:
    """The CPU time of ``pids`` and their children (``serve``'s worker process) so far."""
    total = 0.0
    for pid in [*pids, *(_children(pids) if children else [])]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    return total


def _children(pids: Sequence[int]) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) in pids:
                children.append(int(stat.parent.name))
    return children


# --- processes and stores ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def started(
    label: str,
    command: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    *,
    ready: Callable[[], bool],
) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess, yielded once ``ready()``, and always stopped (SIGTERM) after."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{label} exited:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label} did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def listening(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), 1):
                return True
        except OSError:
            return False

    return ready


def printed(log: Path, text: str) -> Callable[[], bool]:
    return lambda: text in log.read_text(errors="replace")


@dataclass(frozen=True, slots=True)
class Store:
    """An empty shoptrack database with one account and its WooCommerce integration, and the
    environment that ``shoptrack`` processes find it through."""

    label: str
    services: Services
    integration_id: str
    private_key: str
    placed_metric_id: str
    env: dict[str, str]
    workdir: Path


@contextlib.contextmanager
def store(database: str, workdir: Path) -> Iterator[Store]:
    """An empty store: SQLite in a fresh data dir (the default database, as ``shoptrack serve``
    finds it with no ``SHOPTRACK_DATABASE_URL``), or a throwaway PostgreSQL database."""
    workdir.mkdir(parents=True)
    data_dir = workdir / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPTRACK_")}
    env["SHOPTRACK_DATA_DIR"] = str(data_dir)
    with contextlib.ExitStack() as stack:
        if database == "sqlite":
            label = "SQLite"
            # The secret key is generated into the data dir, where serve finds it.
            settings = Settings(data_dir=data_dir, database_url=None, secret_key=None)
        else:
            label = "PostgreSQL"
            url = stack.enter_context(postgres_database(POSTGRES_URL))
            secret_key = secrets.token_hex(32)
            env |= {"SHOPTRACK_DATABASE_URL": url, "SHOPTRACK_SECRET_KEY": secret_key}
            settings = Settings(data_dir=data_dir, database_url=url, secret_key=secret_key)
        services = Services.build(settings)
        stack.callback(services.close)
        services.upgrade()
        # The tests' shop: a WooCommerce integration signed with WEBHOOK_SECRET, never polled.
        shop = make_shop(services)
        with services.database.read() as connection:
            placed = connection.execute(
                select(metrics.c.id).where(
                    metrics.c.integration_id == shop.integration.id,
                    metrics.c.name == "Placed Order",
                )
            ).scalar_one()
        yield Store(label, services, shop.integration.id, shop.private_key, placed, env, workdir)


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A throwaway database on the server of ``admin_url``, dropped afterwards."""
    name = f"shoptrack_bench_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_version(admin_url: str) -> str | None:
    """The server's version, or None when it cannot be reached."""
    try:
        with psycopg.connect(admin_url, connect_timeout=5) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError:
        return None
    return str(row[0]).split()[0] if row else None


@contextlib.contextmanager
def serve(target: Store, *, workers: bool) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``shoptrack serve`` on a free port (with ``--no-workers`` unless ``workers``)."""
    port = _free_port()
    command = [SHOPTRACK, "serve", "--port", str(port)]
    if not workers:
        command.append("--no-workers")
    log = target.workdir / f"serve-{port}.log"
    with started("shoptrack serve", command, log, target.env, ready=listening(port)) as process:
        yield port, process


@contextlib.contextmanager
def worker_processes(target: Store, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``shoptrack worker`` processes, each yielded once it says it runs."""
    with contextlib.ExitStack() as stack:
        processes = []
        for _ in range(count):
            log = target.workdir / f"worker-{secrets.token_hex(4)}.log"
            processes.append(
                stack.enter_context(
                    started(
                        "shoptrack worker",
                        [SHOPTRACK, "worker"],
                        log,
                        target.env,
                        ready=printed(log, "worker running"),
                    )
                )
            )
        yield processes


# --- what a store holds --------------------------------------------------------------------------


class PlacedOrders:
    """Counts the Placed Order events of the shop's integration through the API, as a client
    sees them: ``POST /api/metric-aggregates`` with the account's private key."""

    def __init__(self, target: Store, port: int) -> None:
        self._client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={
                "authorization": f"Klaviyo-API-Key {target.private_key}",
                "revision": "2026-07-15",
            },
            timeout=30,
        )
        now = datetime.now(UTC)
        self._query = {
            "data": {
                "type": "metric-aggregate",
                "attributes": {
                    "metric_id": target.placed_metric_id,
                    "measurements": ["count"],
                    "interval": "day",
                    "filter": [
                        f"greater-or-equal(datetime,{(now - timedelta(days=2)).isoformat()})",
                        f"less-than(datetime,{(now + timedelta(days=2)).isoformat()})",
                    ],
                },
            }
        }

    def count(self) -> int:
        answer = self._client.post("/api/metric-aggregates", json=self._query)
        answer.raise_for_status()
        series = answer.json()["data"]["attributes"]["data"]
        return int(sum(sum(item["measurements"]["count"]) for item in series))

    def wait_for(self, expected: int) -> float | None:
        """Polls until ``expected`` orders are visible; the perf_counter() of the poll that saw
        them, or None if they were not visible in ``VISIBLE_SECONDS``."""
        deadline = time.perf_counter() + VISIBLE_SECONDS
        while time.perf_counter() < deadline:
            if self.count() >= expected:
                return time.perf_counter()
            time.sleep(POLL_SECONDS)
        return None

    def close(self) -> None:
        self._client.close()


@contextlib.contextmanager
def placed_orders(target: Store, port: int) -> Iterator[PlacedOrders]:
    counter = PlacedOrders(target, port)
    try:
        yield counter
    finally:
        counter.close()


@dataclass(frozen=True, slots=True)
class Check:
    """What the store holds after a target: nothing lost, nothing doubled, nothing pending."""

    acknowledged: int
    placed: int  # Placed Order events of the integration
    orders: int  # distinct unique_id among them
    unprocessed: int  # stored deliveries not processed

    @property
    def lost(self) -> int:
        return max(self.acknowledged - self.orders, 0)

    @property
    def doubled(self) -> int:
        return self.placed - self.orders

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.unprocessed == 0

    def describe(self) -> str:
        if self.clean:
            return f"{self.placed:,} orders, none lost or doubled"
        return (
            f"{self.acknowledged:,} acked, {self.placed:,} Placed Order for {self.orders:,} "
            f"orders: {self.lost:,} LOST, {self.doubled:,} DOUBLED, {self.unprocessed:,} pending"
        )


def check(target: Store, acknowledged: int) -> Check:
    with target.services.database.read() as connection:
        placed, orders = connection.execute(
            select(func.count(), func.count(distinct(events.c.unique_id))).where(
                events.c.metric_id == target.placed_metric_id
            )
        ).one()
        unprocessed = connection.execute(
            select(func.count()).where(
                and_(inbox.c.integration_id == target.integration_id, inbox.c.state != "processed")
            )
        ).scalar_one()
    return Check(acknowledged, placed, orders, unprocessed)


def processed_rows(target: Store) -> int:
    with target.services.database.read() as connection:
        return int(
            connection.execute(
                select(func.count()).where(
                    inbox.c.integration_id == target.integration_id,
                    inbox.c.state == "processed",
                )
            ).scalar_one()
        )


# --- the measures --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    runs: int
    connections: int
    seconds: float
    orders: int
    postgres: bool
    sqlite: bool = True


@dataclass(slots=True)
class Figures:
    """One target's figures in one run; rates per second."""

    acked: LoadResult
    ceiling: float = 0.0  # the bare ASGI rate measured just before this target
    sustained: float | None = None  # orders/s, first request to last visible
    visible_after: float | None = None  # seconds from the burst's end to its last order visible
    processing: float | None = None  # rows/s, processing alone
    check: Check | None = None


def _burst(
    port: int,
    deliveries: Sequence[bytes],
    target: Store,
    options: Options,
    processes: dict[str, list[int]],
    *,
    after_warmup: Callable[[int], None] | None = None,
) -> tuple[LoadResult, LoadResult]:
    """Warm-up requests, then the burst; both from ``deliveries``, each order sent once.
    ``after_warmup`` is given the warm-up's acknowledged count before the burst starts."""
    requests = requests_for(f"/webhooks/woocommerce/{target.integration_id}", deliveries)
    if not target.services.database.is_sqlite and _pids_of(POSTGRES_GROUP):
        processes = {**processes, POSTGRES_GROUP: []}  # a server on this machine: its CPU too
    warmup = uvloop.run(
        _load(port, itertools.islice(requests, WARMUP_REQUESTS), options.connections, 60)
    )
    if after_warmup is not None:
        after_warmup(warmup.ok)
    return warmup, load(port, requests, options, processes)


def measure_processing_target(
    target: Store, deliveries: Sequence[bytes], options: Options, *, workers: int | None
) -> Figures:
    """A burst with processing running: ``serve`` with its own worker process (``workers`` is
    None), or ``serve --no-workers`` and ``workers`` worker processes."""
    with contextlib.ExitStack() as stack:
        port, server = stack.enter_context(serve(target, workers=workers is None))
        processes = {"serve": [server.pid]}
        if workers:
            pool = stack.enter_context(worker_processes(target, workers))
            processes["workers"] = [process.pid for process in pool]
        counter = stack.enter_context(placed_orders(target, port))

        def processed(warmed: int) -> None:  # the burst starts on an idle processor
            if counter.wait_for(warmed) is None:
                raise RuntimeError(f"{target.label}: the warm-up orders never became visible")

        warmup, burst = _burst(port, deliveries, target, options, processes, after_warmup=processed)
        visible = counter.wait_for(warmup.ok + burst.ok)
    figures = Figures(burst, check=check(target, warmup.ok + burst.ok))
    if visible is not None:
        figures.sustained = burst.ok / (visible - burst.started)
        figures.visible_after = visible - burst.started - burst.seconds
    return figures


def measure_acknowledging_target(
    target: Store, deliveries: Sequence[bytes], options: Options, *, workers: int = 1
) -> Figures:
    """A burst on ``serve --no-workers``, then what it stored processed alone: by ``workers``
    worker processes on PostgreSQL, by ``Processor`` in this process on SQLite."""
    with serve(target, workers=False) as (port, server):
        warmup, burst = _burst(port, deliveries, target, options, {"serve": [server.pid]})
    figures = Figures(burst)
    if target.services.database.is_sqlite:
        figures.processing = _processing_in_process(target)
    else:
        figures.processing = _processing_in_workers(target, warmup.ok + burst.ok, workers)
    figures.check = check(target, warmup.ok + burst.ok)
    return figures


def _processing_in_process(target: Store) -> float:
    processor = build_processor(target.services)
    total = BatchResult()
    begun = time.perf_counter()
    while (batch := processor.run_once()).claimed:
        total.add(batch)
    return total.processed / (time.perf_counter() - begun)


def _processing_in_workers(target: Store, rows: int, workers: int) -> float | None:
    """Rows/s of ``workers`` worker processes together, from the first processed row they
    were seen to have written to the last (their start-up is not the processing's)."""
    first: tuple[float, int] | None = None
    with worker_processes(target, workers):
        deadline = time.perf_counter() + VISIBLE_SECONDS
        while time.perf_counter() < deadline:
            done = processed_rows(target)
            now = time.perf_counter()
            if first is None and done:
                first = (now, done)
            if done >= rows:
                break
            time.sleep(POLL_SECONDS)
        else:
            return None
    if first is None or now <= first[0]:
        return None
    return (rows - first[1]) / (now - first[0])


def measure_bare(deliveries: Sequence[bytes], options: Options, workdir: Path) -> LoadResult:
    port = _free_port()
    command = [sys.executable, __file__, "--serve-bare", str(port)]
    # The bare endpoint keeps nothing: the same requests may go round again.
    requests = list(requests_for("/webhooks/woocommerce/bare", deliveries[:BARE_REQUESTS]))
    with started("bare ASGI", command, workdir / "bare.log", ready=listening(port)) as process:
        uvloop.run(_load(port, iter(requests[:WARMUP_REQUESTS]), options.connections, 60))
        return load(port, itertools.cycle(requests), options, {"bare": [process.pid]})


# --- one run and the report ----------------------------------------------------------------------

SQLITE_DEFAULT = "SQLite: serve (workers inside)"
SQLITE_NO_WORKERS = "SQLite: serve --no-workers"
PG_ONE = "PostgreSQL: serve + 1 worker"
PG_TWO = "PostgreSQL: serve + 2 workers"
PG_NO_WORKERS = "PostgreSQL: serve --no-workers"
PG_NO_WORKERS_TWO = "PostgreSQL: the same, 2 workers"


@dataclass(slots=True)
class Run:
    targets: dict[str, Figures] = field(default_factory=dict)


def run_once(number: int, deliveries: Sequence[bytes], options: Options, workdir: Path) -> Run:
    """Every target once, each right after a bare ASGI burst: its ceiling. The machine is
    shared, so its load drifts; a ceiling measured seconds before keeps the ratio honest."""
    run = Run()
    plan: list[tuple[str, str, Callable[[Store], Figures]]] = []
    if options.sqlite:
        plan += [
            (
                SQLITE_DEFAULT,
                "sqlite",
                lambda t: measure_processing_target(t, deliveries, options, workers=None),
            ),
            (
                SQLITE_NO_WORKERS,
                "sqlite",
                lambda t: measure_acknowledging_target(t, deliveries, options),
            ),
        ]
    if options.postgres:
        plan += [
            (
                PG_ONE,
                "postgresql",
                lambda t: measure_processing_target(t, deliveries, options, workers=1),
            ),
            (
                PG_TWO,
                "postgresql",
                lambda t: measure_processing_target(t, deliveries, options, workers=2),
            ),
            (
                PG_NO_WORKERS,
                "postgresql",
                lambda t: measure_acknowledging_target(t, deliveries, options),
            ),
            (
                PG_NO_WORKERS_TWO,
                "postgresql",
                lambda t: measure_acknowledging_target(t, deliveries, options, workers=2),
            ),
        ]
    for n, (label, database, measure) in enumerate(plan):
        with store(database, workdir / f"target-{n}") as target:
            ceiling = measure_bare(deliveries, options, workdir / f"bare-{n}").rate
            figures = measure(target)
        figures.ceiling = ceiling
        run.targets[label] = figures
        report_progress(number, label, figures)
    return run


def report_progress(number: int, label: str, figures: Figures) -> None:
    load_result, ceiling = figures.acked, figures.ceiling
    parts = [
        f"bare {ceiling:,.0f}/s",
        f"acked {load_result.rate:,.0f}/s {load_result.rate / ceiling:.3f}x",
    ]
    if load_result.failed:
        parts.append(f"{load_result.failed} FAILED")
    if load_result.exhausted:
        parts.append("ran out of prepared orders (--orders)")
    if figures.sustained is not None:
        parts.append(f"sustained {figures.sustained:,.0f}/s {figures.sustained / ceiling:.3f}x")
    if figures.visible_after is not None:
        parts.append(f"all visible {max(figures.visible_after, 0):.1f} s after the burst")
    if figures.processing is not None:
        parts.append(
            f"processing alone {figures.processing:,.0f} rows/s {figures.processing / ceiling:.3f}x"
        )
    cpu = ", ".join(f"{name} {share:.0%}" for name, share in load_result.cpu.items())
    parts.append(f"CPU {cpu}")
    if figures.check is not None:
        parts.append(figures.check.describe())
    print(f"  run {number}  {label:<32} " + "; ".join(parts), flush=True)


def _median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _ratio(figures: Figures, pick: Callable[[Figures], float | None]) -> float | None:
    rate = pick(figures)
    return None if rate is None else rate / figures.ceiling


def _median_over(
    measured: Sequence[Figures], pick: Callable[[Figures], float | None]
) -> tuple[float | None, float | None]:
    """The median ratio (each rate over its own bare ASGI ceiling) and the median rate."""
    return _median(_ratio(figures, pick) for figures in measured), _median(map(pick, measured))


def _cell(ratio: float | None, rate: float | None, unit: str, goal: float | None = None) -> str:
    if ratio is None or rate is None:
        return "-"
    text = f"{ratio:.3f}x ({rate:,.0f} {unit})"
    if goal is not None:
        text += f" {'met' if ratio >= goal else 'NOT met'} >= {goal:g}"
    return text


GOALS: dict[str, dict[str, float]] = {
    SQLITE_DEFAULT: {"acked": 0.25, "sustained": 0.10},
    PG_ONE: {"acked": 0.25, "sustained": 0.05},
    PG_NO_WORKERS: {"processing": 0.10},
}


def report(runs: Sequence[Run]) -> None:
    """The medians over the runs, each rate as a ratio to the bare ASGI rate measured just
    before its target."""
    print()
    bare = _median(figures.ceiling for run in runs for figures in run.targets.values())
    print(f"bare ASGI (the limit): median {bare or 0:,.0f} req/s")
    print(
        f"medians of {len(runs)} run(s); each ratio is to the bare ASGI burst measured just "
        "before its target\n"
    )
    row = "{:<33}{:<42}{:<42}{:<40}{}"
    print(
        row.format(
            "target", "acknowledged", "sustained to Placed Order", "processing alone", "checked"
        )
    )
    for label in (
        SQLITE_DEFAULT,
        SQLITE_NO_WORKERS,
        PG_ONE,
        PG_TWO,
        PG_NO_WORKERS,
        PG_NO_WORKERS_TWO,
    ):
        measured = [run.targets[label] for run in runs if label in run.targets]
        if not measured:
            continue
        goals = GOALS.get(label, {})

        acked = _median_over(measured, lambda figures: figures.acked.rate)
        sustained = _median_over(measured, lambda figures: figures.sustained)
        processing = _median_over(measured, lambda figures: figures.processing)
        checks = [figures.check for figures in measured if figures.check is not None]
        clean = all(item.clean for item in checks)
        failed = sum(figures.acked.failed for figures in measured)
        verdict = "nothing lost or doubled" if clean else "LOST OR DOUBLED (see the runs)"
        if failed:
            verdict += f"; {failed} requests failed"
        print(
            row.format(
                label,
                _cell(*acked, "req/s", goals.get("acked")),
                _cell(*sustained, "orders/s", goals.get("sustained")),
                _cell(*processing, "rows/s", goals.get("processing")),
                verdict,
            )
        )
    _report_comparisons(runs)


def _report_comparisons(runs: Sequence[Run]) -> None:
    def ratio_of(first: str, second: str, pick: Callable[[Figures], float | None]) -> float | None:
        values = []
        for run in runs:
            if first in run.targets and second in run.targets:
                a, b = _ratio(run.targets[first], pick), _ratio(run.targets[second], pick)
                if a is not None and b:
                    values.append(a / b)
        return _median(values)

    print()
    intake = ratio_of(SQLITE_DEFAULT, SQLITE_NO_WORKERS, lambda figures: figures.acked.rate)
    if intake is not None:
        verdict = "met" if intake >= 0.8 else "NOT met"
        print(
            "SQLite acknowledged, default serve / serve --no-workers: "
            f"{intake:.3f} ({verdict} >= 0.8)"
        )
    scaling = ratio_of(PG_TWO, PG_ONE, lambda figures: figures.sustained)
    if scaling is not None:
        verdict = "met" if scaling > 1 else "NOT met"
        print(f"PostgreSQL sustained, 2 workers / 1 worker: {scaling:.2f} ({verdict} > 1)")
    alone = ratio_of(PG_NO_WORKERS_TWO, PG_NO_WORKERS, lambda figures: figures.processing)
    if alone is not None:
        verdict = "met" if alone > 1 else "NOT met"
        print(
            "PostgreSQL processing alone (no intake beside it), 2 workers / 1 worker: "
            f"{alone:.2f} ({verdict} > 1)"
        )


def machine_line(postgres: str | None) -> str:
    load1, load5, _ = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {postgres or 'unreachable'}; load average {load1:.2f} (1 min), "
        f"{load5:.2f} (5 min)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs, each measuring every target")
    parser.add_argument("--seconds", type=float, default=5.0, help="burst length")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument(
        "--orders", type=int, default=40_000, help="orders prepared for a burst (its upper bound)"
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true", help="leave PostgreSQL out")
    only.add_argument("--postgres-only", action="store_true", help="leave SQLite out")
    parser.add_argument(
        "--quick", action="store_true", help="one run of 2 s bursts, for development"
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return
    if args.quick:
        args.runs, args.seconds, args.orders = 1, 2.0, min(args.orders, 8_000)
    postgres = "not measured" if args.sqlite_only else postgres_version(POSTGRES_URL)
    measured = postgres is not None and not args.sqlite_only
    options = Options(
        args.runs, args.connections, args.seconds, args.orders, measured, not args.postgres_only
    )
    print(machine_line(postgres))
    print(
        f"server: uvicorn {uvicorn.__version__} (httptools, uvloop), loopback; client: "
        f"{options.connections} keep-alive connections, {options.seconds:g} s bursts after "
        f"{WARMUP_REQUESTS} warm-up requests, {options.runs} run(s)"
    )
    if postgres is None and not args.sqlite_only:
        shown = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        print(f"PostgreSQL: skipped, {shown} is unreachable (SHOPTRACK_BENCH_POSTGRES_URL)")
    deliveries = build_deliveries(WARMUP_REQUESTS + options.orders)
    print(f"deliveries: signed WooCommerce order.created, {len(deliveries[0]):,} bytes each\n")
    runs = []
    with tempfile.TemporaryDirectory(prefix="shoptrack-bench-") as tmp:
        for number in range(1, options.runs + 1):
            runs.append(run_once(number, deliveries, options, Path(tmp) / f"run-{number}"))
    report(runs)
    print(machine_line(postgres).replace("machine:", "after the runs:"))


if __name__ == "__main__":
    main()
