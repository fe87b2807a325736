"""PostgreSQL stopped under a webhook storm, against a real ``shoptrack serve``: what serve
acknowledged while the database was away is spooled, drained once it is back, and becomes
exactly one Placed Order per order — without a restart of shoptrack, and after a ``kill -9`` of
shoptrack during the outage too. The cluster is the test's own (``tests/pg_cluster.py``);
without PostgreSQL's server binaries the tests are skipped with a message, unless
``SHOPTRACK_REQUIRE_POSTGRES_CLUSTER`` is set (CI sets it) — then they fail."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, or_, select

from shoptrack.clock import SystemClock
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.database import Database
from shoptrack.store.migrations import upgrade
from shoptrack.store.schema import events, inbox, metrics
from shoptrack.store.secrets import CredentialCipher
from shoptrack.testing import WEBHOOK_SECRET, Shop, make_shop, woo_order, woo_webhook
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import deliver
from tests.pg_cluster import Cluster, cluster_binaries, running_cluster
from tests.processes import Listener, Process, environment, wait_until

pytestmark = pytest.mark.slow

# Real processes keep real time: these orders are recent, so their events are live.
NOW = datetime.now(UTC).replace(microsecond=0)
# A loaded 2-core machine processes a few hundred orders on PostgreSQL within this.
SETTLE_SECONDS = 180


class Serve(Process):
    """``shoptrack serve`` on a free port, ready once ``/health`` answers at all: 503 is a true
    answer while a spool drains, and a loaded machine may take a while to start Python."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        listener = Listener()
        self.port = listener.port
        self.url = listener.url
        super().__init__(env, "serve", *listener.serve_arguments(), *extra, listener=listener)

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.stop()}")
            try:
                httpx.get(f"{self.url}/health", timeout=30)
            except httpx.TransportError:
                return False
            return True

        wait_until(answers, timeout=SETTLE_SECONDS)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    binaries = cluster_binaries()
    if binaries is None:
        message = "needs PostgreSQL's initdb and pg_ctl in /usr/lib/postgresql/*/bin"
        if os.environ.get("SHOPTRACK_REQUIRE_POSTGRES_CLUSTER"):
            pytest.fail(message + "; SHOPTRACK_REQUIRE_POSTGRES_CLUSTER is set (CI)")
        pytest.skip(message)
    with running_cluster(binaries) as started:
        yield started


@pytest.fixture
def services(cluster: Cluster) -> Iterator[Services]:
    url = cluster.create_database(f"shoptrack_{uuid.uuid4().hex[:8]}")
    database = Database(url)
    upgrade(database)
    built = Services(
        Settings(database_url=url, secret_key=TEST_SECRET_KEY),
        database,
        SystemClock(),
        CredentialCipher([TEST_SECRET_KEY]),
    )
    yield built
    built.close()


class Storm:
    """Signed deliveries of new orders, posted by eight threads without pause until stopped;
    which were acknowledged (200) and which were answered otherwise."""

    def __init__(self, server: Serve, shop: Shop) -> None:
        self._url = f"{server.url}/webhooks/woocommerce/{shop.integration.id}"
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self.acknowledged: set[int] = set()
        self.refused: dict[int, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=8)
        self._runs = [self._pool.submit(self._run) for _ in range(8)]

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                with self._lock:
                    self._next += 1
                    order_id = self._next
                order = woo_order(order_id, "processing", NOW - timedelta(minutes=1))
                headers, body = woo_webhook(
                    order, secret=WEBHOOK_SECRET, delivery_id=f"d-{order_id}"
                )
                try:
                    answer = client.post(self._url, content=body, headers=headers)
                except httpx.TransportError as error:
                    with self._lock:
                        self.refused[order_id] = repr(error)
                    continue
                with self._lock:
                    if answer.status_code == 200:
                        self.acknowledged.add(order_id)
                    else:
                        self.refused[order_id] = f"{answer.status_code} {answer.text}"

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def stop(self) -> None:
        self._stop.set()
        for run in self._runs:
            run.result(timeout=120)
        self._pool.shutdown()


def _spooled(server: Serve) -> int:
    answer = httpx.get(f"{server.url}/health", timeout=30).json()
    return int(answer.get("spool", {}).get("deliveries", 0))


def _placed_orders(services: Services) -> dict[str, int]:
    """Placed Order events by order id (``unique_id``)."""
    with services.database.read() as connection:
        rows = connection.execute(
            select(events.c.unique_id, func.count())
            .join(metrics, metrics.c.id == events.c.metric_id)
            .where(metrics.c.name == "Placed Order")
            .group_by(events.c.unique_id)
        ).all()
    return {str(unique_id): int(count) for unique_id, count in rows}


def _where_missing(services: Services, missing: set[str], server: Process) -> str:
    """Where acknowledged orders without Placed Order are: their inbox rows' states and errors,
    the inbox by state, and what serve printed — what a failure needs to be understood."""
    delivery_ids = [f"d-{order_id}" for order_id in sorted(missing, key=int)[:20]]
    with services.database.read() as connection:
        by_state = connection.execute(
            select(inbox.c.state, func.count()).group_by(inbox.c.state)
        ).all()
        rows = connection.execute(
            select(
                inbox.c.dedupe_key, inbox.c.state, inbox.c.attempts, inbox.c.available_at,
                inbox.c.last_error,
            ).where(or_(*(inbox.c.dedupe_key.like(f"%:{d}:%") for d in delivery_ids)))
        ).all()  # fmt: skip
    lines = [line for line in server.output().splitlines() if not line.startswith(" ")]
    log = "\n".join(lines[-40:])
    return (
        f"{len(missing)} acknowledged orders have no Placed Order, e.g. {delivery_ids[:5]}; "
        f"inbox by state: {[tuple(row) for row in by_state]}; their rows: {rows}; "
        f"serve's last lines (tracebacks' frames left out):\n{log}"
    )


def _assert_exactly_once(services: Services, acknowledged: set[int], server: Process) -> None:
    expected = {str(order_id) for order_id in acknowledged}
    try:
        wait_until(lambda: expected <= set(_placed_orders(services)), timeout=SETTLE_SECONDS)
    except AssertionError:
        missing = expected - set(_placed_orders(services))
        raise AssertionError(_where_missing(services, missing, server)) from None
    placed = _placed_orders(services)
    assert set(placed.values()) == {1}, "an order recorded Placed Order twice"
    with services.database.read() as connection:
        total = connection.execute(
            select(func.count())
            .select_from(events)
            .join(metrics, metrics.c.id == events.c.metric_id)
            .where(metrics.c.name.in_(["Placed Order", "Ordered Product"]))
        ).scalar_one()
    # One Placed Order and two Ordered Products per order, nothing more.
    assert total == 3 * len(placed)


def _viewed(unique_id: str) -> dict[str, object]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"ProductName": "Hoodie"},
                "metric": {"data": {"type": "metric", "attributes": {"name": "Viewed Product"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": "a@x.com"}}},
                "unique_id": unique_id,
            },
        }
    }


def _send_events(server: Serve, shop: Shop, tag: str) -> list[int]:
    """One event down each other intake path: the API, the onsite tracker, Segment."""
    segment = {
        "batch": [
            {
                "type": "track",
                "event": "Product Viewed",
                "messageId": f"segment-{tag}",
                "properties": {"product_id": "P-1", "name": "Hoodie"},
                "context": {"traits": {"email": "a@x.com"}},
            }
        ]
    }
    return [
        httpx.post(
            f"{server.url}/api/events", json=_viewed(f"api-{tag}"), headers=shop.headers(),
            timeout=60,
        ).status_code,
        httpx.post(
            f"{server.url}/client/events?company_id={shop.public_key}",
            json=_viewed(f"client-{tag}"), timeout=60,
        ).status_code,
        httpx.post(
            f"{server.url}/v1/batch", json=segment, auth=(shop.private_key, ""), timeout=60
        ).status_code,
    ]  # fmt: skip


def _viewed_products(services: Services) -> int:
    with services.database.read() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(events)
                .join(metrics, metrics.c.id == events.c.metric_id)
                .where(metrics.c.name == "Viewed Product")
            ).scalar_one()
        )


def _reachable(services: Services) -> bool:
    """Whether the test's own connections reach the database again (their pool re-connects)."""
    try:
        _placed_orders(services)
    except Exception:  # noqa: BLE001  # any failure here means: not yet
        return False
    return True


def test_stopping_postgresql_mid_storm_loses_no_acknowledged_delivery(
    cluster: Cluster, services: Services, tmp_path: Path
) -> None:
    shop = make_shop(services)
    server = Serve(environment(cluster.url(services.database.url.database or ""), tmp_path))
    try:
        # Keys read before the outage keep working while the database is away.
        assert _send_events(server, shop, "before") == [202, 202, 200]
        storm = Storm(server, shop)
        try:
            wait_until(lambda: storm.count() >= 30)
            cluster.stop("fast")  # sessions end mid-transaction, new ones are refused
            down_at = storm.count()
            # Acknowledged meanwhile: into the spool, while the database is away.
            wait_until(lambda: _spooled(server) >= 30 and storm.count() >= down_at + 30)
            assert httpx.get(f"{server.url}/health", timeout=30).status_code == 503
            assert _send_events(server, shop, "during") == [202, 202, 200]
            cluster.start()
            wait_until(lambda: _spooled(server) == 0, timeout=SETTLE_SECONDS)
            back_at = storm.count()
            wait_until(lambda: storm.count() >= back_at + 30)
        finally:
            storm.stop()
        assert storm.refused == {}, "every delivery is acknowledged, database or not"
        wait_until(lambda: _reachable(services))
        _assert_exactly_once(services, storm.acknowledged, server)
        wait_until(lambda: _viewed_products(services) == 6, timeout=SETTLE_SECONDS)
        assert httpx.get(f"{server.url}/health", timeout=30).json()["status"] == "ok"
    finally:
        output = server.stop()
    assert "database cannot take writes" in output
    assert "spool: drained" in output


def test_kill_9_during_the_outage_loses_nothing_the_spool_acknowledged(
    cluster: Cluster, services: Services, tmp_path: Path
) -> None:
    shop = make_shop(services)
    env = environment(cluster.url(services.database.url.database or ""), tmp_path)
    server = Serve(env, "--no-workers")
    try:
        storm = Storm(server, shop)
        try:
            wait_until(lambda: storm.count() >= 10)
            cluster.stop("immediate")  # PostgreSQL crashes
            down_at = storm.count()
            wait_until(lambda: _spooled(server) >= 20 and storm.count() >= down_at + 20)
            server.kill_hard()  # shoptrack crashes too, requests in flight
        finally:
            storm.stop()
    finally:
        server.stop()
    cluster.start()
    wait_until(lambda: _reachable(services))
    restarted = Serve(env)  # adopts the spool the killed one left, drains it, processes
    try:
        _assert_exactly_once(services, storm.acknowledged, restarted)
        assert _spooled(restarted) == 0
    finally:
        output = restarted.stop()
    assert "adopted" in output
    assert list((tmp_path / "spool").glob("*.spool")) == []


def test_a_worker_started_while_postgresql_is_away_waits_for_it(
    cluster: Cluster, services: Services, tmp_path: Path
) -> None:
    shop = make_shop(services)
    cluster.stop("fast")
    env = environment(cluster.url(services.database.url.database or ""), tmp_path)
    worker = Process(env, "worker")
    try:
        wait_until(lambda: "the database cannot be reached" in worker.output())
        assert worker.process.poll() is None, worker.output()
        cluster.start()
        wait_until(lambda: _reachable(services))
        deliver(services, shop, woo_order(5, "processing", NOW - timedelta(minutes=1)), "w-5")
        wait_until(lambda: "5" in _placed_orders(services), timeout=SETTLE_SECONDS)
    finally:
        worker.stop()
