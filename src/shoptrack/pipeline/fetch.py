"""Fetching the orders that id-only webhooks name (BigCommerce).

Processing turns such a webhook into an order fetch (``store/order_fetches.py``): one row per
order, however many webhooks name it. The fetcher reads each due order through the store's API
and stores it raw in the inbox like a polled order (the same dedupe key, so the webhook's fetch
and the next poll of the same change are one row), in the transaction that ends the fetch.
Failures are retried with backoff; the scheduled poll behind the webhooks covers an order
whose fetch keeps failing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

import orjson

from shoptrack.connectors import connector_for
from shoptrack.connectors.errors import StoreError
from shoptrack.pipeline.sync import StoreRunner, poll_dedupe_key
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.store.integrations import Integration, find_integration
from shoptrack.store.order_fetches import OrderFetch, claim_fetches, fail_fetch, finish_fetch

__all__ = ["FETCH_LEASE", "MAX_ATTEMPTS", "OrderFetcher", "retry_delay"]

logger = logging.getLogger(__name__)

FETCH_LEASE = timedelta(minutes=5)
MAX_RETRY_DELAY = timedelta(hours=1)
# Failures after which a fetch is given up: the scheduled poll reads the order instead, and a
# store that keeps failing shows in its sync runs (the doctor's sync_failing).
MAX_ATTEMPTS = 30


def retry_delay(attempts: int) -> timedelta | None:
    """How long a fetch that failed ``attempts`` times waits: 30 s, doubling, at most an hour;
    None once it failed ``MAX_ATTEMPTS`` times (about a day), when it is given up."""
    if attempts + 1 >= MAX_ATTEMPTS:
        return None
    delay: timedelta = timedelta(seconds=30) * 2 ** min(attempts, 10)
    return min(delay, MAX_RETRY_DELAY)


class OrderFetcher(StoreRunner):
    """Runs due order fetches for one process."""

    # Unique per fetcher, so two fetchers of one process never share a lease.
    owner_per_instance = True

    def run_due(self, limit: int = 50) -> int:
        """Fetches the orders that are due; returns how many were stored."""
        database = self._services.database
        with database.write() as connection:
            claimed = claim_fetches(connection, self.owner, self._clock.now(), FETCH_LEASE, limit)
            by_integration: dict[str, list[OrderFetch]] = defaultdict(list)
            for fetch in claimed:
                by_integration[fetch.integration_id].append(fetch)
            targets = {
                integration_id: find_integration(connection, integration_id)
                for integration_id in by_integration
            }
        stored = 0
        for integration_id, fetches in by_integration.items():
            integration = targets[integration_id]
            if integration is None or integration.removed_at is not None:
                self._end(fetches)  # nothing left to fetch for
                continue
            stored += self._fetch(integration, fetches)
        return stored

    def _fetch(self, integration: Integration, fetches: list[OrderFetch]) -> int:
        connector = connector_for(integration.platform)
        stored = 0
        try:
            client = self._client_factory(connector, integration, self._services)
        except Exception as error:  # noqa: BLE001  # unreadable credentials: every fetch fails alike
            self._fail(fetches, f"{type(error).__name__}: {error}")
            return 0
        with client:
            for fetch in fetches:
                try:
                    raw = connector.fetch_order(client, fetch.platform_order_id)
                except StoreError as error:
                    logger.warning(
                        "fetching order %s of %s failed: %s",
                        fetch.platform_order_id,
                        integration.id,
                        error.detail,
                    )
                    self._fail([fetch], f"{error.code}: {error.detail}")
                    continue
                entries = []
                if raw is not None:  # None: the order is gone from the store
                    updated = connector.updated_at(raw)
                    entries.append(
                        InboxEntry(
                            account_id=integration.account_id,
                            integration_id=integration.id,
                            source="fetch",
                            topic="order",
                            body=orjson.dumps(raw),
                            dedupe_key=poll_dedupe_key(
                                integration.id, fetch.platform_order_id, updated
                            ),
                        )
                    )
                now = self._clock.now()
                with self._services.database.write() as connection:
                    if entries:
                        stored += sum(write_entries(connection, entries, now))
                    finish_fetch(connection, fetch, self.owner)
        return stored

    def _fail(self, fetches: list[OrderFetch], error: str) -> None:
        now = self._clock.now()
        with self._services.database.write() as connection:
            for fetch in fetches:
                delay = retry_delay(fetch.attempts)
                if delay is None:
                    logger.warning(
                        "giving up fetching order %s of %s after %s attempts: %s",
                        fetch.platform_order_id,
                        fetch.integration_id,
                        fetch.attempts + 1,
                        error,
                    )
                fail_fetch(
                    connection, fetch, self.owner, error, None if delay is None else now + delay
                )

    def _end(self, fetches: list[OrderFetch]) -> None:
        with self._services.database.write() as connection:
            for fetch in fetches:
                finish_fetch(connection, fetch, self.owner)
