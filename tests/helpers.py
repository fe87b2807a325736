"""Shared test steps: an account with a WooCommerce integration, deliveries into the inbox,
and reads of what processing recorded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
from anyio.from_thread import start_blocking_portal
from sqlalchemy import func, select, update

from shoptrack.api.app import ShoptrackApp
from shoptrack.outbound import OutboundGuard, host_networks
from shoptrack.services import Services
from shoptrack.store.accounts import create_account
from shoptrack.store.inbox import InboxEntry, write_entry
from shoptrack.store.integrations import Integration, create_integration
from shoptrack.store.schema import events, inbox, integrations, metrics, profiles
from tests.payloads import woo_webhook

WEBHOOK_SECRET = "whsec-test-secret"
# Simulated stores listen on 127.0.0.1: tests allow exactly that address, as the demo does.
SIMULATOR_NETWORKS = "127.0.0.1/32"
SIMULATOR_GUARD = OutboundGuard(host_networks("127.0.0.1"))
T = TypeVar("T")


@dataclass(frozen=True)
class Shop:
    account_id: str
    private_key: str
    public_key: str
    integration: Integration

    def headers(self) -> dict[str, str]:
        """The API headers of this shop's private key, as Klaviyo's SDK sends them."""
        return {"Authorization": f"Klaviyo-API-Key {self.private_key}", "revision": "2026-07-15"}


def make_shop(services: Services, *, settings: dict[str, Any] | None = None) -> Shop:
    now = services.clock.now()
    with services.database.write() as connection:
        account, key = create_account(connection, "Test shop", now)
        integration = create_integration(
            connection,
            services.cipher,
            account_id=account.id,
            platform="woocommerce",
            name="Woo",
            credentials={
                "store_url": "https://shop.example.com",
                "api_base_url": "http://127.0.0.1:9",
                "consumer_key": "ck_x",
                "consumer_secret": "cs_x",
                "webhook_secret": WEBHOOK_SECRET,
            },
            settings=settings or {},
            now=now,
        )
        # The test shop's orders arrive as the test's deliveries: its store is never polled
        # (and if something tried, the address is a closed local port, never the internet).
        connection.execute(
            update(integrations)
            .where(integrations.c.id == integration.id)
            .values(next_sync_at=None)
        )
    return Shop(account.id, key.key, account.public_key, integration)


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
