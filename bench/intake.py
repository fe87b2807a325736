"""Webhook intake benchmark: acknowledged rate and sustained processing rate, against the
machine's own limit, on SQLite and PostgreSQL in one run.

What is measured, one target after the other, with the same load generator:

1. **bare ASGI** — a raw ASGI callable under the same server as shoptrack (uvicorn, httptools,
   one process, loopback) doing the work a webhook check cannot avoid: read the body, compare its
   base64 HMAC-SHA256 with ``x-wc-webhook-signature``, parse it with orjson, answer 200. Its
   requests/s is what this machine, this server and this client can do at all.
2. **acknowledged** — ``shoptrack serve --no-workers`` receiving signed WooCommerce deliveries
   (every one a different order with its own delivery id): each 200 means the raw delivery is
   committed to the inbox by the group-commit writer.
3. **processed** — the pending inbox rows turned into order states, events, profiles and rollups
   by ``Processor`` in this process, after the server has stopped: rows/s and events/s.

Absolute figures depend on the machine, so each rate is also given as a ratio to the bare ASGI
rate measured in the same run: the ratio is what says how much of the machine's limit shoptrack's
intake and processing keep, and it is comparable between machines and runs. Nothing is asserted.

The load generator is a bounded asyncio HTTP/1.1 keep-alive client on raw streams, in this
process (the servers are subprocesses): a fixed number of connections, each sending pre-built
request bytes one after the other until the request count or the time limit is reached. Every
response must be ``200 {"status":"accepted"}``; anything else counts as a failure. The CPU
columns (percent of one core) tell whether the server or the client was the one saturated.

Run ``make bench`` (or ``.venv/bin/python bench/intake.py --help`` for the knobs). PostgreSQL is
``SHOPTRACK_BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``), where a
throwaway database is created and dropped; the PostgreSQL part is skipped if it is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import platform
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import uvicorn
import uvloop
from sqlalchemy.engine import make_url

from shoptrack.pipeline.processing import BatchResult, Processor
from shoptrack.services import Services
from shoptrack.settings import Settings

REPO = Path(__file__).resolve().parent.parent
# The bench reuses the tests' shop and payloads, so what it measures is what the tests check.
sys.path.insert(0, str(REPO))
from tests.helpers import WEBHOOK_SECRET, make_shop  # noqa: E402  # needs the line above
from tests.payloads import woo_order, woo_webhook  # noqa: E402

# libpq's form of the URL (psycopg.connect takes no SQLAlchemy "+driver" suffix)
POSTGRES_URL = (
    make_url(
        os.environ.get("SHOPTRACK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    .set(drivername="postgresql")
    .render_as_string(hide_password=False)
)
ACCEPTED = b'{"status":"accepted"}'
WARMUP_REQUESTS = 500
SERVER_START_SECONDS = 30.0
PROCESSING_SECONDS = 20.0
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
    """Signed ``order.created`` deliveries of ``count`` different orders, as header block + body
    (everything after the request line)."""
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


def build_api_events(count: int, private_key: str) -> list[bytes]:
    """``POST /api/events`` bodies in Klaviyo's form (a Placed Order each, a different buyer
    and order each), as header block + body."""
    start = datetime.now(UTC) - timedelta(hours=1)
    requests = []
    for n in range(count):
        body = orjson.dumps(
            {
                "data": {
                    "type": "event",
                    "attributes": {
                        "properties": {
                            "OrderId": str(n),
                            "ItemNames": ["Winnie the Pooh", "A Tale of Two Cities"],
                            "Items": [{"ProductID": "1111", "Quantity": 1, "ItemPrice": 9.99}],
                        },
                        "time": (start + timedelta(milliseconds=n)).isoformat(),
                        "value": 29.98,
                        "value_currency": "USD",
                        "unique_id": f"order-{n}",
                        "metric": {
                            "data": {"type": "metric", "attributes": {"name": "Placed Order"}}
                        },
                        "profile": {
                            "data": {
                                "type": "profile",
                                "attributes": {"email": f"buyer{n}@example.com"},
                            }
                        },
                    },
                }
            }
        )
        head = (
            "host: 127.0.0.1\r\ncontent-type: application/vnd.api+json\r\n"
            f"authorization: Klaviyo-API-Key {private_key}\r\nrevision: 2026-07-15\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


def requests_for(path: str, deliveries: list[bytes]) -> list[bytes]:
    request_line = f"POST {path} HTTP/1.1\r\n".encode()
    return [request_line + delivery for delivery in deliveries]


@dataclass(slots=True)
class LoadResult:
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0  # share of one core
    client_cpu: float = 0.0


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
    # Webhooks answer 200 {"status":"accepted"}; /api/events answers 202 with no body.
    return (head.startswith(b"HTTP/1.1 200 ") and body == ACCEPTED) or head.startswith(
        b"HTTP/1.1 202 "
    )


async def _load(port: int, requests: list[bytes], connections: int, seconds: float) -> LoadResult:
    result = LoadResult()
    pending = iter(requests)
    streams = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", port) for _ in range(connections))
    )
    started = time.perf_counter()
    deadline = started + seconds

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for request in pending:
                if await _exchange(reader, writer, request):
                    result.ok += 1
                else:
                    result.failed += 1
                if time.perf_counter() > deadline:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            result.failed += 1  # this connection is done; the others go on
        finally:
            writer.close()

    async with asyncio.timeout(seconds + 30):
        await asyncio.gather(*(connection(reader, writer) for reader, writer in streams))
    result.seconds = time.perf_counter() - started
    return result


def run_load(
    server: subprocess.Popen[bytes], port: int, requests: list[bytes], options: Options
) -> LoadResult:
    """Warms the server up, then measures ``requests`` (or as many as the time limit allows)."""
    uvloop.run(_load(port, requests[:WARMUP_REQUESTS], options.connections, options.seconds))
    server_cpu, client_cpu = _cpu_seconds(server.pid), time.process_time()
    result = uvloop.run(
        _load(port, requests[WARMUP_REQUESTS:], options.connections, options.seconds)
    )
    result.server_cpu = (_cpu_seconds(server.pid) - server_cpu) / result.seconds
    result.client_cpu = (time.process_time() - client_cpu) / result.seconds
    return result


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


# --- servers and databases -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(
    label: str, command: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server subprocess, yielded once it accepts connections, and always stopped after."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{label} exited:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label} did not start:\n{log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True, slots=True)
class Shop:
    """A migrated shoptrack database with one account and its WooCommerce integration."""

    label: str
    services: Services
    integration_id: str
    private_key: str
    env: dict[str, str]


@contextlib.contextmanager
def shop(label: str, url: str, data_dir: Path) -> Iterator[Shop]:
    """Sets ``url`` up the way ``shoptrack serve`` will find it through its environment."""
    secret_key = secrets.token_hex(32)
    services = Services.build(Settings(data_dir=data_dir, database_url=url, secret_key=secret_key))
    try:
        services.upgrade()
        # The tests' shop: a WooCommerce integration signed with WEBHOOK_SECRET, never polled.
        test_shop = make_shop(services)
        env = os.environ | {
            "SHOPTRACK_DATA_DIR": str(data_dir),
            "SHOPTRACK_DATABASE_URL": url,
            "SHOPTRACK_SECRET_KEY": secret_key,
        }
        yield Shop(label, services, test_shop.integration.id, test_shop.private_key, env)
    finally:
        services.close()


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


# --- the measurements ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    requests: int
    connections: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ProcessingResult:
    rows: int
    failed: int
    events: int
    seconds: float
    finished: bool  # False: the time limit ended it with rows still pending


def bare_rate(deliveries: list[bytes], options: Options, workdir: Path) -> LoadResult:
    port = _free_port()
    command = [sys.executable, __file__, "--serve-bare", str(port)]
    requests = requests_for("/webhooks/woocommerce/bare", deliveries)
    with running_server("bare ASGI", command, port, workdir / "bare.log") as process:
        return run_load(process, port, requests, options)


def acknowledged_rate(
    target: Shop, requests: list[bytes], options: Options, workdir: Path
) -> LoadResult:
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("shoptrack")),
        *("serve", "--no-workers", "--port", str(port)),
    ]
    log = workdir / f"serve-{target.label}.log"
    with running_server("shoptrack serve", command, port, log, target.env) as process:
        return run_load(process, port, requests, options)


def processing_rate(target: Shop) -> ProcessingResult:
    """Processes the stored deliveries in batches until none is pending or time is up."""
    processor = Processor(target.services.database, target.services.clock)
    total = BatchResult()
    finished = False
    started = time.perf_counter()
    while not finished and time.perf_counter() < started + PROCESSING_SECONDS:
        batch = processor.run_once()
        total.add(batch)
        finished = batch.claimed == 0
    return ProcessingResult(
        rows=total.processed,
        failed=total.retried + total.dead,
        events=len(total.recorded),
        seconds=time.perf_counter() - started,
        finished=finished,
    )


# --- output --------------------------------------------------------------------------------------

COLUMNS = "{:<30}{:>8}{:>8}{:>9}{:>15}{:>19}  {}"


def print_row(*cells: str) -> None:
    print(COLUMNS.format(*cells), flush=True)


def ratio(rate: float, baseline: float) -> str:
    return f"{rate / baseline:.3f} \N{MULTIPLICATION SIGN} bare ASGI"


def print_load(measure: str, result: LoadResult, baseline: float) -> None:
    rate = result.ok / result.seconds
    print_row(
        measure,
        f"{result.ok:,}",
        f"{result.failed:,}",
        f"{result.seconds:.2f}",
        f"{rate:,.0f} req/s",
        ratio(rate, baseline),
        f"CPU: server {result.server_cpu:.0%}, client {result.client_cpu:.0%} of a core",
    )


def print_processing(measure: str, result: ProcessingResult, baseline: float) -> None:
    rate = result.rows / result.seconds
    note = f"{result.events / result.seconds:,.0f} events/s ({result.events:,} events)"
    if not result.finished:
        note += f"; stopped after {PROCESSING_SECONDS:.0f} s with rows pending"
    print_row(
        measure,
        f"{result.rows:,}",
        f"{result.failed:,}",
        f"{result.seconds:.2f}",
        f"{rate:,.0f} rows/s",
        ratio(rate, baseline),
        note,
    )


def measure_webhooks(
    target: Shop, deliveries: list[bytes], options: Options, workdir: Path, baseline: float
) -> None:
    webhooks = requests_for(f"/webhooks/woocommerce/{target.integration_id}", deliveries)
    print_load(
        f"{target.label} webhooks acked",
        acknowledged_rate(target, webhooks, options, workdir),
        baseline,
    )
    print_processing(f"{target.label} webhooks done", processing_rate(target), baseline)


def measure_api_events(target: Shop, options: Options, workdir: Path, baseline: float) -> None:
    events = requests_for(
        "/api/events", build_api_events(WARMUP_REQUESTS + options.requests, target.private_key)
    )
    print_load(
        f"{target.label} /api/events acked",
        acknowledged_rate(target, events, options, workdir),
        baseline,
    )
    print_processing(f"{target.label} /api/events done", processing_rate(target), baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="measured requests per target")
    parser.add_argument("--connections", type=int, default=48, help="keep-alive connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per target")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return
    options = Options(args.requests, args.connections, args.seconds)
    postgres = postgres_version(POSTGRES_URL)
    print(
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {postgres or 'unreachable'}"
    )
    print(
        f"server: uvicorn {uvicorn.__version__} (httptools, uvloop), 1 process on loopback; "
        f"client: {options.connections} keep-alive connections, {options.requests:,} requests "
        f"or {options.seconds:g} s per target after {WARMUP_REQUESTS} warm-up requests"
    )
    deliveries = build_deliveries(WARMUP_REQUESTS + options.requests)
    print(f"deliveries: signed WooCommerce order.created, {len(deliveries[0]):,} bytes each\n")
    print_row("measure", "count", "failed", "seconds", "rate", "ratio", "notes")
    with tempfile.TemporaryDirectory(prefix="shoptrack-bench-") as tmp:
        workdir = Path(tmp)
        bare = bare_rate(deliveries, options, workdir)
        baseline = bare.ok / bare.seconds
        print_load("bare ASGI (the limit)", bare, baseline)
        # Each measure starts from an empty store, so no rows are left over from another.
        for kind in ("webhooks", "events"):
            sqlite_dir = workdir / f"sqlite-{kind}"
            with shop("SQLite", f"sqlite:///{sqlite_dir / 'shoptrack.db'}", sqlite_dir) as target:
                if kind == "webhooks":
                    measure_webhooks(target, deliveries, options, workdir, baseline)
                else:
                    measure_api_events(target, options, workdir, baseline)
        if postgres is None:
            shown = make_url(POSTGRES_URL).render_as_string(hide_password=True)
            print(f"PostgreSQL: skipped, {shown} is unreachable (SHOPTRACK_BENCH_POSTGRES_URL)")
            return
        for kind in ("webhooks", "events"):
            with (
                postgres_database(POSTGRES_URL) as url,
                shop("PostgreSQL", url, workdir / f"postgresql-{kind}") as target,
            ):
                if kind == "webhooks":
                    measure_webhooks(target, deliveries, options, workdir, baseline)
                else:
                    measure_api_events(target, options, workdir, baseline)


if __name__ == "__main__":
    main()
