"""The read side at scale: how fast shoptrack answers with 10 million events in one account, on
PostgreSQL, against baselines measured in the same run.

**The fill.** A throwaway database is created on ``SHOPTRACK_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``: ``shoptrack_scale`` beside ``test``), migrated by
shoptrack's own Alembic upgrade, and given one account with a signed-in user, six integrations
(one per platform, each in its currency) and, over 400 days (``--days``), ``--events`` events
(10,000,000) of ``--profiles`` profiles (1,000,000): visits to the stores in a growing shop's
weekly and daily rhythm (``simulators.history``'s weights), each a few Viewed Product, sometimes
an Added to Cart and a Started Checkout (the onsite tracker's properties), sometimes an order —
Placed Order with one Ordered Product per line and, days later, Fulfilled, Cancelled or Refunded
Order, their properties made by ``domain.events.order_events`` from a ``domain.order.Order`` as
processing makes them (about 500 bytes of properties per event on average). A few Shopify orders
are the store's test orders. Alongside, every table processing derives is written as it would
leave it: the exactly-once keys, the hourly rollups (per currency and test flag), the order
states (with their snapshots), the profiles (names, last event time) and their order statistics
per currency; and a few thousand processed deliveries and a finished sync per integration.

Everything is generated from one seed (the same shop every run, relative to the present) and
streamed by COPY (psycopg 3, one connection per table, a writer thread each): events straight into
their monthly partition with ``FREEZE`` (the partition truncated first in the same transaction, so
the rows are born visible to all and no VACUUM is needed for index-only scans). The loaded
tables' indexes and keys are set aside during the load and built afterwards from their own
definitions, then the tables are analysed. Progress (rows written, rate) shows on the terminal.

**The measurements.** Each query is asked ``--samples`` times (1,000) after 20 warm-ups,
in-process through ``httpx.ASGITransport`` as ``bench/pages.py`` does (the app ``serve`` runs,
without the network), by an API client with the account's private key or a signed-in browser.
Samples are taken in rounds — every query a tenth of its samples in turn — so a shared machine's
drift touches all of them alike, and each cycles through several targets (profiles, metrics,
searches) rather than repeating one. The table gives p50 and p99 in milliseconds and as ratios to
the **bare ASGI** latency measured in the same rounds: a raw ASGI callable answering 200 through
the same client and transport (the request path's floor), beside ``GET /health`` (a request
through the app running ``SELECT 1``). Nothing is asserted; the goals of the read side are
printed beside the figures (feed page p99 < 20 ms, metric aggregate p99 < 200 ms, web pages p99
< 300 ms).

Unique profiles in ``POST /api/metric-aggregates`` are exact: ``count(DISTINCT profile_id)`` of
the metric's events, bucket by bucket (a lateral subquery per bucket over its slice of the
metric's time index, ids compared byte by byte), read from the events table (a distinct count
per hour cannot be added up into one per day, so the rollups cannot answer it); count and sum
come from the hourly rollups.

``--events 200000`` makes a development-sized shop in seconds; ``--keep`` leaves the database
(and prints its URL) for ``EXPLAIN ANALYZE``; ``--reuse`` measures a kept one again without
filling it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from scale_fill import (
    ACCOUNT_NAME,
    BENCH_PASSWORD,
    EMAIL,
    SEED,
    STORES,
    Progress,
    email_of,
    fill,
)
from shoptrack.api.app import create_app
from shoptrack.domain.events import Metric
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.accounts import create_key
from shoptrack.store.events import event_page
from shoptrack.store.schema import accounts, integrations, metrics
from shoptrack.store.schema import profiles as profiles_table
from shoptrack.web.queries import feed_events
from shoptrack.web.routes.profiles import FEED_PAGE

# libpq's form of the URL (psycopg.connect takes no SQLAlchemy "+driver" suffix)
ADMIN_URL = (
    make_url(
        os.environ.get("SHOPTRACK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    .set(drivername="postgresql")
    .render_as_string(hide_password=False)
)
DATABASE = "shoptrack_scale"
WARMUPS = 20
ROUNDS = 10

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Shop:
    """What the measurements ask for, read back from the filled database."""

    account_id: str
    private_key: str
    placed_order: list[str]  # each store's Placed Order metric
    viewed_product: list[str]  # each store's Viewed Product metric (the busiest metrics)
    profiles: list[str]  # the busiest few first, then profiles drawn at random
    searches: list[str]  # email prefixes, as typed in the Profiles search


def shop_of(services: Services) -> Shop:
    """The filled shop, with a fresh private key (stored keys are hashes); the profiles asked
    for are the ten busiest (the fill's first ten people visit most) and 90 drawn at random."""
    with services.database.write() as connection:
        account_id = connection.execute(
            select(accounts.c.id).where(accounts.c.name == ACCOUNT_NAME)
        ).scalar_one()
        profiles = connection.execute(
            select(func.count()).where(profiles_table.c.account_id == account_id)
        ).scalar_one()
        rng = random.Random(SEED + 2)
        people = [*range(10), *rng.sample(range(profiles), min(90, profiles))]
        key = create_key(connection, account_id, services.clock.now(), label="bench")
        named = connection.execute(
            select(integrations.c.platform, metrics.c.name, metrics.c.id)
            .join(integrations, integrations.c.id == metrics.c.integration_id)
            .where(metrics.c.account_id == account_id)
        ).all()
        ids = dict(
            connection.execute(
                select(profiles_table.c.email, profiles_table.c.id).where(
                    profiles_table.c.account_id == account_id,
                    profiles_table.c.email.in_([email_of(n) for n in people]),
                )
            ).all()
        )
    metric = {(platform, name): metric_id for platform, name, metric_id in named}
    searches = [email_of(n).rsplit(".", 2)[0] for n in people[10:30]]  # "ada.baker": ~1 in 600
    searches += [email_of(n).split("@")[0] for n in people[30:40]]  # one person's address
    return Shop(
        account_id=account_id,
        private_key=key.key,
        placed_order=[metric[(s.platform, Metric.PLACED_ORDER)] for s in STORES],
        viewed_product=[metric[(s.platform, Metric.VIEWED_PRODUCT)] for s in STORES],
        profiles=[ids[email_of(n)] for n in people],
        searches=searches,
    )


# --- measuring -----------------------------------------------------------------------------------


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The request path's floor: an ASGI callable answering 200 with a small JSON body."""
    body = b'{"status":"ok"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass(slots=True)
class Measured:
    """One query: how it is asked (the n-th sample cycles through its targets) and its times."""

    label: str
    ask: Callable[[int], Awaitable[object]]
    goal: float | None = None  # p99 in ms
    times: list[float] = field(default_factory=list)
    asked: int = 0

    async def sample(self, count: int, *, keep: bool = True) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await self.ask(self.asked)
            elapsed = (time.perf_counter() - started) * 1000
            self.asked += 1
            if keep:
                self.times.append(elapsed)

    def percentile(self, share: float) -> float:
        """The nearest-rank percentile of the times."""
        ordered = sorted(self.times)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def aggregate_body(metric_id: str, now: datetime) -> dict[str, Any]:
    """Klaviyo's query of a metric's last 30 whole days, by day: count, value and uniques."""
    end = now.astimezone(UTC).date()
    start = end - timedelta(days=30)
    return {
        "data": {
            "type": "metric-aggregate",
            "attributes": {
                "metric_id": metric_id,
                "measurements": ["count", "sum_value", "unique"],
                "interval": "day",
                "timezone": "UTC",
                "filter": [
                    f"greater-or-equal(datetime,{start.isoformat()}T00:00:00)",
                    f"less-than(datetime,{end.isoformat()}T00:00:00)",
                ],
            },
        }
    }


def measurements(
    services: Services,
    shop: Shop,
    api: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    bare: httpx.AsyncClient,
) -> list[Measured]:
    now = services.clock.now()

    def cycle(targets: list[Any]) -> Callable[[int], Any]:
        return lambda n: targets[n % len(targets)]

    profile, search = cycle(shop.profiles), cycle(shop.searches)
    placed, viewed = cycle(shop.placed_order), cycle(shop.viewed_product)
    placed_bodies = cycle([aggregate_body(m, now) for m in shop.placed_order])
    viewed_bodies = cycle([aggregate_body(m, now) for m in shop.viewed_product])

    async def get(client: httpx.AsyncClient, path: str, **params: Any) -> None:
        response = await client.get(path, params=params)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")

    async def post(client: httpx.AsyncClient, path: str, body: Any) -> None:
        response = await client.post(path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:200]}")

    async def query(_n: int) -> None:
        with services.database.read() as connection:
            connection.execute(text("SELECT 1"))

    async def feed(n: int) -> None:
        with services.database.read() as connection:
            rows, _ = event_page(
                connection, shop.account_id, profile_id=profile(n), limit=FEED_PAGE
            )
            feed_events(rows)  # what the profile page shows

    def events_of(field_name: str, value: str) -> dict[str, str]:
        return {"filter": f'equals({field_name},"{value}")'}

    return [
        Measured("baseline: bare ASGI", lambda n: get(bare, "/")),
        Measured("baseline: SELECT 1", query),
        Measured("baseline: GET /health", lambda n: get(api, "/health")),
        Measured(
            f"feed page, API: GET /api/events profile_id, {FEED_PAGE} events",
            lambda n: get(
                api,
                "/api/events",
                **events_of("profile_id", profile(n)),
                **{"page[size]": FEED_PAGE},
            ),
            goal=20,
        ),
        Measured(f"feed page, store: event_page, {FEED_PAGE} events", feed, goal=20),
        Measured(
            "metric events page, API: GET /api/events metric_id, 200 events",
            lambda n: get(
                api, "/api/events", **events_of("metric_id", viewed(n) if n % 2 else placed(n))
            ),
        ),
        Measured(
            "aggregate, Placed Order: 30 days by day, count sum unique",
            lambda n: post(api, "/api/metric-aggregates", placed_bodies(n)),
            goal=200,
        ),
        Measured(
            "aggregate, Viewed Product (busiest): 30 days by day",
            lambda n: post(api, "/api/metric-aggregates", viewed_bodies(n)),
            goal=200,
        ),
        Measured(
            "web: profile search by email prefix",
            lambda n: get(browser, "/profiles", q=search(n)),
            goal=300,
        ),
        Measured("web: Home", lambda n: get(browser, "/"), goal=300),
        Measured(
            "web: metric page (Placed Order)",
            lambda n: get(browser, f"/metrics/{placed(n)}"),
            goal=300,
        ),
        Measured(
            "web: profile page (its feed)",
            lambda n: get(browser, f"/profiles/{profile(n)}"),
            goal=300,
        ),
    ]


async def measure(services: Services, shop: Shop, samples: int) -> list[Measured]:
    app = create_app(services, run_workers=False)
    transport = httpx.ASGITransport(app=app)
    base = "http://bench.test"
    headers = {"Authorization": f"Klaviyo-API-Key {shop.private_key}", "revision": "2026-07-15"}
    async with (
        httpx.AsyncClient(transport=transport, base_url=base, headers=headers) as api,
        httpx.AsyncClient(transport=transport, base_url=base) as browser,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app), base_url=base) as bare,
    ):
        await sign_in(browser)
        queries = measurements(services, shop, api, browser, bare)
        for each in queries:
            await each.sample(WARMUPS, keep=False)
        per_round = math.ceil(samples / ROUNDS)
        progress = Progress("samples")
        for number in range(ROUNDS):
            for each in queries:
                await each.sample(per_round)
            done = (number + 1) * per_round * len(queries)
            progress.show("measured", done, samples * len(queries))
        progress.show("measured", ROUNDS * per_round * len(queries), None, final=True)
    return queries


async def sign_in(browser: httpx.AsyncClient) -> None:
    form = await browser.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise RuntimeError("the sign-in page has no CSRF token")
    signed = await browser.post(
        "/sign-in", data={"csrf_token": token.group(1), "email": EMAIL, "password": BENCH_PASSWORD}
    )
    if signed.status_code != 303:
        raise RuntimeError(f"signing in: {signed.status_code}")


def report(queries: list[Measured]) -> None:
    by_label = {each.label: each for each in queries}
    bare = by_label["baseline: bare ASGI"]
    health = by_label["baseline: GET /health"]
    bare50, bare99 = bare.percentile(0.5), bare.percentile(0.99)
    health50 = health.percentile(0.5)
    print(
        f"\n{'query':<62} {'p50 ms':>8} {'p99 ms':>8} {'p50 x bare':>11} {'p99 x bare':>11} "
        f"{'p50 x /health':>14}  goal"
    )
    for each in queries:
        p50, p99 = each.percentile(0.5), each.percentile(0.99)
        goal = ""
        if each.goal is not None:
            goal = f"p99 < {each.goal:g} ms: {'met' if p99 < each.goal else 'NOT met'}"
        print(
            f"{each.label:<62} {p50:>8.2f} {p99:>8.2f} {p50 / bare50:>11.1f} {p99 / bare99:>11.1f} "
            f"{p50 / health50:>14.2f}  {goal}"
        )
    print(f"({len(bare.times):,} samples each, after {WARMUPS} warm-ups)")


# --- the database --------------------------------------------------------------------------------


def database_url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def sizes(url: str) -> str:
    with psycopg.connect(url) as connection:
        total = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        tables = connection.execute(
            "SELECT coalesce(p.relname, c.relname), sum(pg_total_relation_size(c.oid)) "
            "FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 6"
        ).fetchall()
    assert total is not None
    parts = ", ".join(f"{name} {size / 2**30:.2f} GB" for name, size in tables)
    return f"database {total[0] / 2**30:.2f} GB ({parts})"


def postgres_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


def machine_line(url: str) -> str:
    load1, load5, _ = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, PostgreSQL {postgres_version(url)}; load average "
        f"{load1:.2f} (1 min), {load5:.2f} (5 min)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events over the days")
    parser.add_argument("--profiles", type=int, help="profiles (default: a tenth of --events)")
    parser.add_argument("--days", type=int, default=400, help="days of history")
    parser.add_argument("--samples", type=int, default=1_000, help="measured samples per query")
    parser.add_argument("--database", default=DATABASE, help="the throwaway database's name")
    parser.add_argument("--keep", action="store_true", help="leave the database when done")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database again")
    options = parser.parse_args()
    options.profiles = options.profiles or max(options.events // 10, 100)
    url = database_url(options.database)
    print(machine_line(ADMIN_URL))
    if not options.reuse:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {options.database} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {options.database}")
    with tempfile.TemporaryDirectory(prefix="shoptrack-bench-scale-") as directory:
        settings = Settings(
            data_dir=Path(directory),
            database_url=url,
            secret_key="bench-secret-key",  # noqa: S106  # a throwaway database
        )
        services = Services.build(settings)
        try:
            filled = "reused" if options.reuse else fill_database(services, url, options)
            stored = sizes(url)
            print(stored)
            shop = shop_of(services)
            print(f"measuring: {options.samples:,} samples per query in {ROUNDS} rounds…")
            queries = asyncio.run(measure(services, shop, options.samples))
            print(f"\n{machine_line(ADMIN_URL)}\nfill: {filled}; {stored}")
            report(queries)
        finally:
            services.close()
            if options.keep:
                print(f"kept: {url}")
            else:
                with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {options.database} WITH (FORCE)")


def fill_database(services: Services, url: str, options: argparse.Namespace) -> str:
    """Migrates and fills the database; says what it holds and how long filling it took."""
    services.upgrade()
    print(
        f"filling {options.database}: about {options.events:,} events over {options.days} "
        f"days, {options.profiles:,} profiles, {len(STORES)} integrations"
    )
    return fill(services, url, options)


if __name__ == "__main__":
    sys.exit(main())
