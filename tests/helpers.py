"""Shared test steps: deliveries into the inbox of a ``shoptrack.testing`` shop, reads of what
processing recorded, and a client of the ASGI app with its runtime started."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, TypeVar

import httpx
import orjson
from anyio.from_thread import start_blocking_portal
from sqlalchemy import func, select

from shoptrack.api.app import ShoptrackApp
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, write_entries, write_entry
from shoptrack.store.schema import events, inbox, metrics, profiles
from shoptrack.testing import WEBHOOK_SECRET, Shop, woo_webhook

__all__ = [
    "AppClient",
    "deliver",
    "event_counts",
    "inbox_states",
    "profile_count",
]

T = TypeVar("T")


def deliver(services: Services, shop: Shop, order: dict[str, Any], delivery_id: str) -> bool:
    """Stores a webhook delivery of ``order`` as intake would; False for a duplicate."""
    headers, body = woo_webhook(order, secret=WEBHOOK_SECRET, delivery_id=delivery_id)
    with services.database.write() as connection:
        return write_entry(
            connection,
            InboxEntry(
                account_id=shop.account_id,
                integration_id=shop.integration.id,
                source="webhook",
                topic=headers["x-wc-webhook-topic"],
                body=body,
                headers=headers,
                dedupe_key=f"webhook:{shop.integration.id}:{delivery_id}",
            ),
            services.clock.now(),
        )


def store_backfill(services: Services, shop: Shop, orders: Iterable[dict[str, Any]]) -> None:
    """Stores ``orders`` (WooCommerce REST bodies) as a backfill's page: what a sync commits."""
    entries = [
        InboxEntry(
            account_id=shop.account_id,
            integration_id=shop.integration.id,
            source="backfill",
            topic="order",
            body=orjson.dumps(order),
            dedupe_key=f"backfill:{order['id']}",
            backfill=True,
        )
        for order in orders
    ]
    with services.database.write() as connection:
        write_entries(connection, entries, services.clock.now())


def event_counts(services: Services, account_id: str) -> dict[str, int]:
    """How many events each metric has, by metric name."""
    with services.database.read() as connection:
        rows = connection.execute(
            select(metrics.c.name, func.count(events.c.id))
            .join(events, events.c.metric_id == metrics.c.id)
            .where(events.c.account_id == account_id)
            .group_by(metrics.c.name)
        )
        return {row[0]: row[1] for row in rows}


def inbox_states(services: Services) -> dict[str, int]:
    with services.database.read() as connection:
        rows = connection.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state))
        return {row[0]: row[1] for row in rows}


def profile_count(services: Services, account_id: str) -> int:
    with services.database.read() as connection:
        return connection.execute(
            select(func.count()).select_from(profiles).where(profiles.c.account_id == account_id)
        ).scalar_one()


class AppClient:
    """A synchronous client of the ASGI app through ``httpx.ASGITransport``, with the app's
    runtime (writer, and workers when enabled) started for its lifetime."""

    def __init__(self, app: ShoptrackApp) -> None:
        self.app = app
        self._portal_context = start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shoptrack.test"
        )
        app.runtime.start()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def call(self, function: Callable[[], Awaitable[T]]) -> T:
        """Runs a coroutine function on the client's event loop (where the app runs)."""
        return self._portal.call(function)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.app.runtime.stop()
        self._portal.call(self._client.aclose)
        self._portal_context.__exit__(None, None, None)
