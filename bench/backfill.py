"""Backfill at speed and in flat memory: ``shoptrack sync`` imports a store's whole history to
durable Placed Order events; how fast, and in how much memory, at two sizes.

For each size (``--orders``, 50,000 and 200,000 by default) of a ``--platform``'s store
(``woocommerce`` by default, or ``shopify``):

1. The store: ``shoptrack simulate PLATFORM --orders N`` in a process of its own — a shop whose
   history is N orders 37 minutes apart, in the simulator's usual mix of statuses (five in six
   of them placed — WooCommerce: processing, completed or refunded; Shopify: paid, fulfilled,
   pending or refunded — and one in six cancelled, which records nothing). A Shopify backfill
   is read with one bulk operation, whose JSONL result the sync streams.
2. shoptrack: an empty SQLite data dir (the default database), an account, and the shop
   connected with ``shoptrack integrations add woocommerce`` — all as a user would run them.
3. **backfill**: ``shoptrack sync INTEGRATION --backfill DAYS`` (a window holding every order),
   which stores each page of orders in the inbox as it reads it, processes them to order
   states, Placed Order, Ordered Product, Fulfilled and Refunded Order, profiles and rollups —
   beside its reading, in worker processes of its own (two on SQLite), once a thousand orders
   are stored — and waits until every row is processed. Timed from the command's start to its
   exit (its start-up included), in orders/s; its peak resident memory is the kernel's
   ``ru_maxrss`` of that process (``os.wait4``), which is the largest of it and its worker
   processes.
4. **plain extractor**: a process that reads the same store through the same connector and
   client, page after page (Shopify: the same bulk operation), and writes each order as a JSON
   line to ``/dev/null`` — what reading the store costs by itself, and so the most any
   backfill from it could reach.

Rates are given as ratios to the **bare ASGI** ceiling of ``bench/intake.py`` (5 s of signed
WooCommerce deliveries on 32 connections to a raw ASGI endpoint doing the HMAC check and JSON
parse: the machine's own limit) — the mean of one burst just before the backfill and one just
after, since a shared machine's load drifts over minutes — and to the plain extractor. Memory
is flat when the peak at the largest size is within 10 % of the smallest (and under 300 MB).

After each size the store is checked: every order stored once in the inbox and processed, a
Placed Order for each placed order, none doubled. Nothing is asserted; the table says so.
``--quick`` runs 2,000 and 8,000 orders for development.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import distinct, func, select

import intake  # bench/intake.py: the bare ASGI ceiling, measured the same way
from shoptrack.connectors import connector_for
from shoptrack.connectors.base import Window
from shoptrack.outbound import OutboundGuard, parse_networks
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.simulators.catalog import store_life
from shoptrack.store.schema import events, inbox, metrics, order_states

SHOPTRACK = str(Path(sys.executable).with_name("shoptrack"))
PLATFORMS = ("woocommerce", "shopify")
# The simulator's history: one order every 37 minutes up to now (``shoptrack simulate``).
ORDER_INTERVAL = timedelta(minutes=37)
# The simulators' statuses that record Placed Order when an order is first seen in them
# (DESIGN.md: WooCommerce's processing is placed, completed and refunded imply it; every Shopify
# order is placed, unless first seen cancelled).
PLACING_STATUSES = {
    "woocommerce": frozenset({"processing", "completed", "refunded"}),
    "shopify": frozenset({"paid", "fulfilled", "pending", "refunded"}),
}
KILOBYTE = 1024


# --- the store and shoptrack, as processes -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shop:
    """The simulated store, as ``shoptrack simulate --json`` describes it."""

    base_url: str
    credentials: dict[str, str]
    networks: str


@contextlib.contextmanager
def simulated_store(platform: str, orders: int, log: Path) -> Iterator[Shop]:
    """``shoptrack simulate PLATFORM --orders N`` in its own process, until the block ends."""
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [SHOPTRACK, "simulate", platform, "--orders", str(orders), "--json"],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    try:
        assert process.stdout is not None
        text = b""
        while True:  # the document is printed whole, then the store serves
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the simulator exited:\n{log.read_text()}")
            text += line
            with contextlib.suppress(orjson.JSONDecodeError):
                document = orjson.loads(text)
                break
        yield Shop(
            document["base_url"], document["credentials"], document["private_store_networks"]
        )
    finally:
        process.terminate()
        process.wait(30)


def shoptrack(env: dict[str, str], *args: str) -> Any:
    """Runs a ``shoptrack`` command with ``--json`` and returns its document."""
    done = subprocess.run(
        [SHOPTRACK, *args, "--json"], env=env, capture_output=True, check=False, timeout=600
    )
    if done.returncode:
        raise RuntimeError(f"shoptrack {' '.join(args)}: {done.stdout!r} {done.stderr!r}")
    return orjson.loads(done.stdout)


@dataclass(frozen=True, slots=True)
class Connected:
    env: dict[str, str]
    data_dir: Path
    integration_id: str


def connect(platform: str, shop: Shop, workdir: Path) -> Connected:
    """An empty SQLite store with the shop connected, through the CLI."""
    data_dir = workdir / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPTRACK_")}
    env |= {
        "SHOPTRACK_DATA_DIR": str(data_dir),
        # shoptrack reaches a store on a private address only where allowed: the simulator's.
        "SHOPTRACK_PRIVATE_STORE_NETWORKS": shop.networks,
    }
    subprocess.run([SHOPTRACK, "db", "upgrade"], env=env, capture_output=True, check=True)
    shoptrack(env, "accounts", "create", "Backfill bench")
    credentials = [f"--credential={k}={v}" for k, v in shop.credentials.items()]
    added = shoptrack(env, "integrations", "add", platform, "--name", "Bench", *credentials)
    return Connected(env, data_dir, added["data"]["id"])


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    peak_rss: int  # bytes
    errors: bytes  # what it wrote to stderr


# Runs a command (argv[2:]) and writes its peak resident memory to argv[1], from a small process
# of its own: a child's ru_maxrss also counts what its parent had resident when it was spawned
# (Python spawns with vfork), and the bench's own process holds far more than nothing.
_PEAK_OF = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as peak:
    peak.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(command: Sequence[str], env: dict[str, str]) -> Timed:
    """Runs ``command`` to its end: its wall time, its own peak resident memory, and what it
    wrote to stderr (stdout is discarded)."""
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak"
        begun = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-S", "-c", _PEAK_OF, str(peak), *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        seconds = time.perf_counter() - begun
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(command)} failed: {done.stderr.decode(errors='replace')}"
            )
        return Timed(seconds, int(peak.read_text()) * KILOBYTE, done.stderr)


# --- the plain extractor -------------------------------------------------------------------------


def extract(days: int) -> None:
    """Reads every order of the window through the connector, as a sync would, and writes
    each as a JSON line to stdout, nothing else; then their count to stderr (``--extract``)."""
    connector = connector_for(os.environ["BENCH_PLATFORM"])
    credentials = connector.credentials_model.model_validate(
        orjson.loads(os.environ["BENCH_STORE_CREDENTIALS"])
    )
    guard = OutboundGuard(parse_networks(os.environ["SHOPTRACK_PRIVATE_STORE_NETWORKS"]))
    now = datetime.now(UTC)
    out = sys.stdout.buffer
    with connector.client(credentials, guard=guard) as client:
        # A backfill's window, which Shopify reads with a bulk operation as the sync does.
        whole = Window(now - timedelta(days=days), now, backfill=True)
        window, _ = connector.readable_window(client, whole)
        count = 0
        for page in connector.order_pages(client, window):
            for record in page.records:
                out.write(orjson.dumps(record) + b"\n")
            count += len(page.records)
    out.flush()
    sys.stderr.write(f"{count}\n")


# --- one size ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    placed_expected: int
    placed: int
    placed_orders: int  # distinct unique_id
    order_states: int
    stored: int  # inbox rows
    unprocessed: int

    def clean(self, orders: int) -> bool:
        return (
            self.placed == self.placed_orders == self.placed_expected
            and self.order_states == self.stored == orders
            and self.unprocessed == 0
        )

    def describe(self, orders: int) -> str:
        if self.clean(orders):
            return f"{self.placed:,} Placed Order, none lost or doubled"
        return (
            f"PROBLEM: {self.stored:,} stored ({self.unprocessed:,} unprocessed), "
            f"{self.order_states:,} order states, {self.placed:,} Placed Order for "
            f"{self.placed_orders:,} orders, {self.placed_expected:,} expected"
        )


def check(platform: str, connected: Connected, orders: int) -> Check:
    history = store_life(platform).history
    placing = PLACING_STATUSES[platform]
    expected = sum(1 for n in range(orders) if history[n % len(history)] in placing)
    services = Services.build(Settings(data_dir=connected.data_dir, database_url=None))
    try:
        with services.database.read() as connection:
            placed_metric = (
                select(metrics.c.id)
                .where(metrics.c.integration_id == connected.integration_id)
                .where(metrics.c.name == "Placed Order")
                .scalar_subquery()
            )
            placed, distinct_placed = connection.execute(
                select(func.count(), func.count(distinct(events.c.unique_id))).where(
                    events.c.metric_id == placed_metric
                )
            ).one()
            states = connection.execute(select(func.count()).select_from(order_states)).scalar()
            stored, unprocessed = connection.execute(
                select(func.count(), func.count().filter(inbox.c.state != "processed")).where(
                    inbox.c.integration_id == connected.integration_id
                )
            ).one()
    finally:
        services.close()
    return Check(expected, placed, distinct_placed, states or 0, stored, unprocessed)


@dataclass(frozen=True, slots=True)
class Size:
    orders: int
    backfill: Timed
    extractor: Timed
    extracted: int
    check: Check
    ceiling: float  # bare ASGI req/s, the mean of a burst before and one after the backfill

    @property
    def rate(self) -> float:
        return self.orders / self.backfill.seconds

    @property
    def extractor_rate(self) -> float:
        return self.extracted / self.extractor.seconds


def measure(platform: str, orders: int, workdir: Path, ceiling: Callable[[], float]) -> Size:
    workdir.mkdir(parents=True)
    # Every order in the window, with a day to spare at each end.
    days = int(orders * ORDER_INTERVAL / timedelta(days=1)) + 2
    with simulated_store(platform, orders, workdir / "simulator.log") as shop:
        connected = connect(platform, shop, workdir)
        before = ceiling()
        backfill = timed(
            [SHOPTRACK, "sync", connected.integration_id, "--backfill", str(days), "--json"],
            connected.env,
        )
        bare = (before + ceiling()) / 2
        env = connected.env | {
            "BENCH_STORE_CREDENTIALS": orjson.dumps(shop.credentials).decode(),
            "BENCH_PLATFORM": platform,
        }
        extractor = timed([sys.executable, __file__, "--extract", str(days)], env)
    extracted = int(extractor.errors)
    return Size(orders, backfill, extractor, extracted, check(platform, connected, orders), bare)


# --- the report ----------------------------------------------------------------------------------


def megabytes(size: int) -> str:
    return f"{size / KILOBYTE / KILOBYTE:,.0f} MB"


def report(sizes: Sequence[Size]) -> None:
    print()
    row = "{:>9}{:>16}{:>16}{:>14}{:>18}{:>12}  {}"
    print(
        row.format(
            "orders", "backfill", "x bare ASGI", "x extractor", "extractor", "peak RSS", "checked"
        )
    )
    for size in sizes:
        print(
            row.format(
                f"{size.orders:,}",
                f"{size.rate:,.0f} orders/s",
                f"{size.rate / size.ceiling:.3f}",
                f"{size.rate / size.extractor_rate:.2f}",
                f"{size.extractor_rate:,.0f} orders/s",
                megabytes(size.backfill.peak_rss),
                size.check.describe(size.orders),
            )
        )
    print()
    largest_ratio = sizes[-1].rate / sizes[-1].ceiling
    verdict = "met" if largest_ratio >= 0.05 else "NOT met"
    print(
        f"backfill of {sizes[-1].orders:,} orders to durable Placed Order: "
        f"{largest_ratio:.3f} x bare ASGI ({verdict} >= 0.05)"
    )
    smallest, largest = sizes[0].backfill.peak_rss, sizes[-1].backfill.peak_rss
    growth = largest / smallest - 1
    flat = growth <= 0.10 and largest < 300 * KILOBYTE * KILOBYTE
    print(
        "peak RSS of the sync process (the largest of it and its worker processes): "
        f"{megabytes(smallest)} at {sizes[0].orders:,} orders, "
        f"{megabytes(largest)} at {sizes[-1].orders:,} ({growth:+.0%}; "
        f"{'flat' if flat else 'NOT flat'}: within 10 % and under 300 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--orders", type=int, nargs="+", default=[50_000, 200_000], help="store sizes, ascending"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 and 8,000 orders")
    parser.add_argument("--platform", choices=PLATFORMS, default=PLATFORMS[0], help="the store")
    parser.add_argument("--extract", type=int, metavar="DAYS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.extract is not None:
        extract(args.extract)
        return
    sizes = [2_000, 8_000] if args.quick else sorted(args.orders)
    print(intake.machine_line("not used"))
    print(
        f"store: `shoptrack simulate {args.platform}` in its own process; shoptrack: SQLite, "
        "`shoptrack sync --backfill` in its own process, with its worker processes"
    )
    with tempfile.TemporaryDirectory(prefix="shoptrack-backfill-") as tmp:
        workdir = Path(tmp)
        options = intake.Options(runs=1, connections=32, seconds=5.0, orders=2_000, postgres=False)
        deliveries = intake.build_deliveries(2_000)
        bursts = itertools.count()

        def ceiling() -> float:
            burst = workdir / f"bare-{next(bursts)}"
            return intake.measure_bare(deliveries, options, burst).rate

        measured = []
        for orders in sizes:
            size = measure(args.platform, orders, workdir / f"orders-{orders}", ceiling)
            measured.append(size)
            print(
                f"  {orders:,} orders: bare ASGI {size.ceiling:,.0f} req/s, "
                f"backfill {size.backfill.seconds:.1f} s, extractor "
                f"{size.extractor.seconds:.1f} s, peak RSS {megabytes(size.backfill.peak_rss)}; "
                f"{size.check.describe(orders)}",
                flush=True,
            )
    report(measured)


if __name__ == "__main__":
    main()
