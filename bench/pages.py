"""Web UI page benchmark: how long each page takes to render with 100,000 events in the account,
against baselines measured in the same run, on SQLite and PostgreSQL.

The account gets one WooCommerce integration and about ``--events`` events (default 100,000)
spread over 400 days — most in the last 90 — across ``--events / 10`` profiles: each order a
Started Checkout, a Placed Order with its Ordered Product lines and a Fulfilled Order; a few
thousand deliveries; and the library's post-purchase flow. They are written in bulk with the
hourly rollups and profiles' last event times that processing would leave (recording 100,000
events one by one would take minutes).

Each page is requested in-process through ``httpx.ASGITransport`` by a signed-in browser (the
same app ``serve`` runs, without the network), ``--repeat`` times after two warm-up requests.
The baselines, measured the same way in the same run:

- **bare query**: ``SELECT 1`` in a read transaction, without HTTP — the database's floor;
- **/health**: an HTTP request through the app that runs that query — a request's floor;
- **sign-in page**: a rendered template of the layout, with no query — rendering's floor.

Each page's median and 95th percentile are printed in milliseconds and as a ratio to the /health
median, which is what compares across machines and runs. Nothing is asserted. PostgreSQL is
``SHOPTRACK_BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``), where a
throwaway database is created and dropped; that part is skipped if the server is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from shoptrack.api.app import create_app
from shoptrack.connectors import Connector
from shoptrack.connectors.base import Credentials
from shoptrack.connectors.http import StoreClient
from shoptrack.domain.events import Metric
from shoptrack.flows.service import FlowRequest, Safeguards, create_flow
from shoptrack.ids import new_id
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.accounts import create_account
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.store.integrations import create_integration
from shoptrack.store.schema import event_keys, events, inbox, metric_rollups, metrics, profiles
from shoptrack.testing import SIMULATOR_GUARD, SIMULATOR_NETWORKS
from shoptrack.users import create_user

POSTGRES_URL = (
    make_url(
        os.environ.get("SHOPTRACK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    .set(drivername="postgresql")
    .render_as_string(hide_password=False)
)
EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench password long enough"  # noqa: S105  # a throwaway database's user
BATCH = 2_000
DELIVERIES = 5_000


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    integration_id: str
    placed_metric_id: str
    busiest_profile_id: str
    flow_id: str
    events: int


def _orders(count: int, now: datetime, profiles: int) -> Iterator[tuple[int, str, datetime, int]]:
    """Orders as a shop's would come: ``(number, email, placed at, lines)``, 80% of them in the
    last 90 days, the rest up to 400 days back."""
    rng = random.Random(7)
    for number in range(1, count + 1):
        email = f"customer{rng.randrange(profiles)}@example.com"
        days = rng.uniform(0, 90) if rng.random() < 0.8 else rng.uniform(90, 400)
        yield number, email, (now - timedelta(days=days)).replace(microsecond=0), rng.randint(1, 3)


def populate(services: Services, count: int) -> Account:
    """An account with a user, an integration, about ``count`` events and some deliveries.

    Each order is a Started Checkout, a Placed Order, one Ordered Product per line and a
    Fulfilled Order: rows written in bulk, with the hourly rollups and the profiles' last event
    times that recording them one by one would leave.
    """
    now = services.clock.now()
    with services.database.write() as connection:
        account, _key = create_account(connection, "Bench shop", now)
        integration = create_integration(
            connection,
            services.cipher,
            account_id=account.id,
            platform="woocommerce",
            name="Bench store",
            credentials={
                "store_url": "https://shop.example.com",
                "api_base_url": "http://127.0.0.1:9",
                "consumer_key": "ck_bench",
                "consumer_secret": "cs_bench",
                "webhook_secret": "whsec_bench",
            },
            settings={},
            now=now,
        )
        metric_ids = dict(
            connection.execute(
                select(metrics.c.name, metrics.c.id).where(
                    metrics.c.integration_id == integration.id
                )
            ).all()
        )
    create_user(services, account_id=account.id, email=EMAIL, password=BENCH_PASSWORD)
    people = max(count // 10, 1)
    profile_ids = {f"customer{n}@example.com": new_id() for n in range(people)}
    last_event: dict[str, datetime] = {}
    rollups: dict[tuple[str, datetime], list[Decimal]] = {}
    rows: list[dict[str, object]] = []
    made = 0

    def add(metric: str, email: str, moment: datetime, unique: str, value: Decimal) -> None:
        profile_id = profile_ids[email]
        rows.append(
            {
                "id": new_id(),
                "time": moment,
                "account_id": account.id,
                "metric_id": metric_ids[metric],
                "profile_id": profile_id,
                "integration_id": integration.id,
                "unique_id": unique,
                "value": value,
                "value_currency": "EUR",
                "properties": {"OrderId": unique.partition("-")[0], "ItemNames": ["Mug", "Tee"]},
                "backfill": False,
                "received_at": now,
                "inbox_id": None,
            }
        )
        last_event[profile_id] = max(moment, last_event.get(profile_id, moment))
        hour = moment.replace(minute=0, second=0, microsecond=0)
        totals = rollups.setdefault((metric_ids[metric], hour), [Decimal(0), Decimal(0)])
        totals[0] += 1
        totals[1] += value

    for number, email, placed_at, lines in _orders(count // 5, now, people):
        total = Decimal(10 + number % 290) + Decimal("0.95")
        add(Metric.STARTED_CHECKOUT, email, placed_at - timedelta(minutes=5), str(number), total)
        add(Metric.PLACED_ORDER, email, placed_at, str(number), total)
        for line in range(lines):
            add(Metric.ORDERED_PRODUCT, email, placed_at, f"{number}-{line}", total / lines)
        add(Metric.FULFILLED_ORDER, email, placed_at + timedelta(days=2), str(number), total)
        if len(rows) >= BATCH:
            made += _write(services, rows)
            print(f"\r  {made:,} events written", end="", flush=True)
    made += _write(services, rows)
    print(f"\r  {made:,} events written")
    with services.database.write() as connection:
        connection.execute(
            profiles.insert(),
            [
                {
                    "id": profile_id,
                    "account_id": account.id,
                    "email": email,
                    "properties": {},
                    "created_at": now - timedelta(days=400),
                    "updated_at": now,
                    "last_event_at": last_event.get(profile_id),
                }
                for email, profile_id in profile_ids.items()
            ],
        )
        connection.execute(
            metric_rollups.insert(),
            [
                {
                    "account_id": account.id,
                    "metric_id": metric_id,
                    "hour": hour,
                    "count": int(totals[0]),
                    "value_sum": totals[1],
                }
                for (metric_id, hour), totals in rollups.items()
            ],
        )
        entries = [
            InboxEntry(
                account_id=account.id,
                integration_id=integration.id,
                source="webhook",
                topic="order.updated",
                body=b"{}",
                dedupe_key=f"bench:{number}",
            )
            for number in range(DELIVERIES)
        ]
        write_entries(connection, entries, now)
        connection.execute(update(inbox).values(state="processed", processed_at=now))
    with services.database.read() as connection:
        busiest = connection.execute(
            select(events.c.profile_id)
            .where(events.c.account_id == account.id)
            .group_by(events.c.profile_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
    with services.database.write() as connection:
        flow = create_flow(
            connection,
            FlowRequest(
                account_id=account.id,
                template="post-purchase",
                trigger_metric_id=metric_ids[Metric.PLACED_ORDER],
            ),
            now,
            diagnostics_url="/doctor",
            safeguards=Safeguards.of(services),
        ).flow
    return Account(
        account.id, integration.id, metric_ids[Metric.PLACED_ORDER], busiest, flow.id, made
    )


def _unreachable_store(connector: Connector, credentials: Credentials) -> StoreClient:
    """The bench store's client (a closed local port) without waits between retries: the
    Doctor page's live checks fail at once, so the page measures the doctor's own reading."""
    return connector.client(credentials, guard=SIMULATOR_GUARD, sleep=lambda _seconds: None)


def _write(services: Services, rows: list[dict[str, object]]) -> int:
    """Writes the events and their exactly-once keys; empties ``rows``."""
    if not rows:
        return 0
    with services.database.write() as connection:
        connection.execute(events.insert(), rows)
        connection.execute(
            event_keys.insert(),
            [
                {
                    "account_id": row["account_id"],
                    "metric_id": row["metric_id"],
                    "unique_id": row["unique_id"],
                    "event_id": row["id"],
                    "time": row["time"],
                }
                for row in rows
            ],
        )
    written = len(rows)
    rows.clear()
    return written


def pages(account: Account) -> list[tuple[str, str]]:
    placed = f"/metrics/{account.placed_metric_id}"
    return [
        ("home", "/"),
        ("integrations", "/integrations"),
        ("integration", f"/integrations/{account.integration_id}"),
        ("integration settings", f"/integrations/{account.integration_id}/settings"),
        ("sync progress panel", f"/integrations/{account.integration_id}/sync-status"),
        ("metrics", "/metrics"),
        ("metrics search", "/metrics?q=placed"),
        ("metric: count by day", placed),
        ("metric: unique by week", f"{placed}?measure=unique&interval=week"),
        (
            "metric: value by month, every integration",
            f"{placed}?range=90d&measure=value&interval=month&integrations=all",
        ),
        ("profiles", "/profiles"),
        ("profiles search", "/profiles?q=customer12"),
        ("profile (busiest)", f"/profiles/{account.busiest_profile_id}"),
        ("flows", "/flows"),
        ("flow", f"/flows/{account.flow_id}"),
        ("flow email editor", f"/flows/{account.flow_id}/messages/thank-you-first"),
        ("create a flow (library)", "/flows/new"),
        ("doctor (store refused)", "/doctor"),
    ]


async def _timed(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    for _ in range(2):
        await call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(
    services: Services, account: Account, repeat: int
) -> list[tuple[str, list[float]]]:
    app = create_app(services, run_workers=False)
    if app.web is not None:
        app.web.app.state.doctor_client = _unreachable_store
    transport = httpx.ASGITransport(app=app)
    results: list[tuple[str, list[float]]] = []

    async def query() -> None:
        with services.database.read() as connection:
            connection.execute(text("SELECT 1"))

    results.append(("baseline: bare query", await _timed(query, repeat)))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://bench.test") as anonymous,
        httpx.AsyncClient(transport=transport, base_url="http://bench.test") as browser,
    ):

        async def get(client: httpx.AsyncClient, path: str) -> None:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        results.append(
            ("baseline: /health", await _timed(lambda: get(anonymous, "/health"), repeat))
        )
        results.append(
            ("baseline: sign-in page", await _timed(lambda: get(anonymous, "/sign-in"), repeat))
        )
        form = await browser.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed = await browser.post(
            "/sign-in",
            data={"csrf_token": token.group(1), "email": EMAIL, "password": BENCH_PASSWORD},
        )
        assert signed.status_code == 303, signed.text
        for label, path in pages(account):
            results.append((label, await _timed(lambda path=path: get(browser, path), repeat)))
    return results


def report(title: str, results: list[tuple[str, list[float]]]) -> None:
    reference = statistics.median(dict(results)["baseline: /health"])
    print(f"\n{title}")
    print(f"  {'page':<26} {'median ms':>10} {'p95 ms':>8} {'x /health':>10}")
    for label, times in results:
        ordered = sorted(times)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"  {label:<26} {median:>10.1f} {p95:>8.1f} {median / reference:>10.1f}")


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"shoptrack_bench_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_reachable(admin_url: str) -> bool:
    try:
        with psycopg.connect(admin_url, connect_timeout=5):
            return True
    except psycopg.OperationalError:
        return False


def run(label: str, database_url: str, workdir: Path, options: argparse.Namespace) -> None:
    settings = Settings(
        data_dir=workdir,
        database_url=database_url,
        secret_key="bench-secret-key",  # noqa: S106  # a throwaway database
        private_store_networks=SIMULATOR_NETWORKS,  # the simulated store it starts
    )
    services = Services.build(settings)
    try:
        services.upgrade()
        print(f"{label}: writing about {options.events:,} events…")
        started = time.perf_counter()
        account = populate(services, options.events)
        print(f"  populated in {time.perf_counter() - started:.0f} s")
        results = asyncio.run(measure(services, account, options.repeat))
        report(f"{label}, {account.events:,} events in the account", results)
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the account")
    parser.add_argument("--repeat", type=int, default=20, help="measured requests per page")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    options = parser.parse_args()
    print(
        f"web UI pages: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{options.repeat} requests per page after 2 warm-ups"
    )
    with tempfile.TemporaryDirectory(prefix="shoptrack-bench-pages-") as directory:
        workdir = Path(directory)
        run(
            "SQLite",
            f"sqlite:///{workdir / 'sqlite' / 'shoptrack.db'}",
            workdir / "sqlite",
            options,
        )
        if options.sqlite_only:
            return
        if not postgres_reachable(POSTGRES_URL):
            print(f"\nPostgreSQL: skipped ({make_url(POSTGRES_URL).host} unreachable)")
            return
        with postgres_database(POSTGRES_URL) as url:
            run("PostgreSQL", url, workdir / "postgresql", options)


if __name__ == "__main__":
    sys.exit(main())
