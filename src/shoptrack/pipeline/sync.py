"""Syncs: fetch an integration's orders updated within a window and store them raw in the inbox.

- One sync per integration at a time, across processes: a lease on the integration row, renewed
  page by page.
- The window starts at the cursor minus a lookback of at least an hour (or ``backfill_days`` back
  on the first import and for ``--backfill``) and ends at the run's start: the cursor takes the
  platform's own newest updated time seen and never moves past that start.
- Each page is one transaction: its inbox rows, the run's counts, and on the last page the cursor,
  so the cursor is committed only with what it covers. Rows are deduplicated by order and
  updated time, so an overlapping window adds nothing.
- If the store's count of matching orders changed during a pass (an order modified mid-sync
  leaves a window sorted by modified time and shifts later pages), the window is read again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import orjson

from shoptrack.clock import Clock
from shoptrack.connectors import connector_for
from shoptrack.connectors.base import Connector, Window
from shoptrack.connectors.errors import StoreConfigError, StoreError, store_failure
from shoptrack.connectors.http import StoreClient
from shoptrack.errors import ConflictError
from shoptrack.ids import lease_owner
from shoptrack.leases import when_free
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.store.integrations import (
    Integration,
    get_integration,
    integration_row,
    set_health,
)
from shoptrack.store.issued_tokens import StoredTokens
from shoptrack.store.sync_runs import (
    SyncRunRecord,
    claim_lease,
    count_page,
    finish_run,
    release_lease,
    save_cursor,
    start_run,
    take_queued_backfill,
)

__all__ = [
    "LOOKBACK",
    "ClientFactory",
    "StoreRunner",
    "SyncBusyError",
    "SyncProgress",
    "Syncer",
    "default_client",
    "poll_dedupe_key",
    "stored_tokens",
    "sync_interval",
]

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=1)
LEASE = timedelta(minutes=10)
MAX_PASSES = 3
DEFAULT_BACKFILL_DAYS = 90


def sync_interval(integration: Integration) -> timedelta:
    """How often the integration is polled: its setting, else its platform's default."""
    minutes = integration.settings.get("sync_interval_minutes") or (
        connector_for(integration.platform).sync_interval_minutes
    )
    return timedelta(minutes=int(minutes))


class SyncBusyError(ConflictError):
    """Another process is syncing this integration now."""

    code = "sync_running"


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where a running sync is: for progress bars (``orders`` read, ``written`` of them new to
    the inbox, of the store's ``total`` when it says)."""

    run_id: str
    pages: int
    orders: int
    total: int | None
    written: int = 0


ClientFactory = Callable[[Connector, Integration, Services], StoreClient]


def default_client(
    connector: Connector, integration: Integration, services: Services
) -> StoreClient:
    credentials = connector.credentials_model.model_validate(
        integration.credentials(services.cipher)
    )
    return connector.client(
        credentials, guard=services.outbound, tokens=stored_tokens(services, integration.id)
    )


def stored_tokens(services: Services, integration_id: str) -> StoredTokens:
    """The keeper of the access tokens shoptrack obtains for an integration."""
    return StoredTokens(services.database, services.cipher, services.clock, integration_id)


class StoreRunner:
    """Reads stores for one process: with the services, a clock (the services' unless one is
    given) and the factory of store clients; ``owner`` names the process in the leases it
    takes (and the runner too, where ``owner_per_instance``)."""

    owner_per_instance: ClassVar[bool] = False

    def __init__(
        self,
        services: Services,
        *,
        client_factory: ClientFactory = default_client,
        clock: Clock | None = None,
    ) -> None:
        self._services = services
        self._clock = clock or services.clock
        self._client_factory = client_factory
        self.owner = lease_owner(per_instance=self.owner_per_instance)


class Syncer(StoreRunner):
    """Runs syncs of integrations for one process."""

    def run(
        self,
        account_id: str,
        integration_id: str,
        *,
        backfill_days: int | None = None,
        progress: Callable[[SyncProgress], None] | None = None,
    ) -> str:
        """Syncs one integration to the end; returns the run's id. ``SyncBusyError`` if another
        process holds the lease; a store's failure is recorded on the run, not raised."""
        database = self._services.database
        start = self._clock.now()
        with database.write() as connection:
            integration = get_integration(connection, account_id, integration_id)
            if not claim_lease(connection, integration.id, self.owner, start, LEASE):
                raise SyncBusyError(f"integration {integration.id} is being synced right now")
            row = integration_row(connection, integration.id)
            # A backfill queued from the web UI is run by whichever sync comes next.
            queued = take_queued_backfill(connection, integration.id, row.sync_cursor)
            backfill_days = queued if backfill_days is None else backfill_days
            window, backfill = _window(integration, row.sync_cursor, start, backfill_days)
            has_cursor = bool(row.sync_cursor and row.sync_cursor.get("updated_at"))
            run = start_run(
                connection,
                account_id=account_id,
                integration_id=integration.id,
                backfill=backfill,
                since=window.since,
                until=window.until,
                now=start,
            )
        error: StoreError | None = None
        try:
            self._fetch(integration, run, window, progress, has_cursor=has_cursor)
        except StoreError as failure:
            error = failure
            logger.warning("sync of %s failed: %s", integration.id, failure.detail)
        finally:
            with database.write() as connection:
                now = self._clock.now()
                finish_run(connection, run.id, now, error)
                _set_health(connection, integration.id, error, now)
                release_lease(
                    connection, integration.id, self.owner, now + sync_interval(integration)
                )
        return run.id

    def run_when_free(
        self,
        account_id: str,
        integration_id: str,
        *,
        backfill_days: int | None = None,
        progress: Callable[[SyncProgress], None] | None = None,
        waiting: Callable[[], None] | None = None,
    ) -> str:
        """``run``, after waiting out a sync another process holds (``serve``'s scheduler takes
        a newly connected store at once); ``waiting`` is told each time the lease is busy."""
        return when_free(
            lambda: self.run(
                account_id, integration_id, backfill_days=backfill_days, progress=progress
            ),
            SyncBusyError,
            waiting,
        )

    def _fetch(
        self,
        integration: Integration,
        run: SyncRunRecord,
        window: Window,
        progress: Callable[[SyncProgress], None] | None,
        *,
        has_cursor: bool,
    ) -> None:
        connector = connector_for(integration.platform)
        newest: datetime | None = None
        pages = orders = written = 0
        with self._client_factory(connector, integration, self._services) as client:
            # Keys that may not read the whole window read what they may; the cut is reported
            # once the cursor is saved, so later syncs go on while the merchant fixes the keys.
            window, cut = connector.readable_window(client, window)
            for _ in range(MAX_PASSES):
                first_total: int | None = None
                last_total: int | None = None
                for page in connector.order_pages(client, window):
                    if page.waiting:
                        self._store_page(integration, run, None)
                        if progress is not None:
                            progress(SyncProgress(run.id, pages, orders, None, written))
                        continue
                    first_total = page.total if first_total is None else first_total
                    last_total = page.total
                    entries = []
                    for raw in page.records:
                        updated = connector.updated_at(raw)
                        newest = updated if newest is None else max(newest, updated)
                        entries.append(
                            _entry(integration, run, connector.raw_order_id(raw), raw, updated)
                        )
                    pages += 1
                    orders += len(entries)
                    written += self._store_page(integration, run, entries)
                    if progress is not None:
                        progress(SyncProgress(run.id, pages, orders, page.total, written))
                if first_total == last_total:
                    break
                logger.info("orders changed during the sync of %s; reading again", integration.id)
        if newest is not None:
            # The platform's clock, never past the run's start (the signpost).
            self._save_cursor(integration.id, min(newest, window.until))
        elif not has_cursor:
            # A first import that found no orders is over all the same: without a cursor every
            # later run would be a backfill, and the first orders it polls would never trigger
            # flows. The window's start is the one bookmark that hides nothing from the next run
            # whatever the store's clock says.
            self._save_cursor(integration.id, window.since)
        if cut is not None:
            raise cut

    def _store_page(
        self, integration: Integration, run: SyncRunRecord, entries: list[InboxEntry] | None
    ) -> int:
        """Stores one page and renews the lease (only renews it, for ``None``: the store is
        still preparing the orders); returns the rows new to the inbox."""
        now = self._clock.now()
        written = 0
        with self._services.database.write() as connection:
            if entries is not None:
                written = sum(write_entries(connection, entries, now)) if entries else 0
                count_page(connection, run.id, len(entries), written)
            if not claim_lease(connection, integration.id, self.owner, now, LEASE):
                raise StoreError(
                    "the sync lease was lost to another process", code="sync_lease_lost"
                )
        return written

    def _save_cursor(self, integration_id: str, cursor: datetime) -> None:
        with self._services.database.write() as connection:
            save_cursor(connection, integration_id, cursor)


def _window(
    integration: Integration, cursor: Any, start: datetime, backfill_days: int | None
) -> tuple[Window, bool]:
    """The window of a run and whether what it records is backfill."""
    if backfill_days is not None:
        return Window(start - timedelta(days=backfill_days), start, backfill=True), True
    if cursor and cursor.get("updated_at"):
        since = datetime.fromisoformat(cursor["updated_at"]) - LOOKBACK
        return Window(min(since, start - LOOKBACK), start), False
    days = int(integration.settings.get("backfill_days") or DEFAULT_BACKFILL_DAYS)
    return Window(start - timedelta(days=days), start, backfill=True), True


def poll_dedupe_key(integration_id: str, order_id: str, updated: datetime) -> str:
    """The same order at the same updated time is the same sighting, however it was read
    (a poll, a backfill, a webhook's fetch): stored once."""
    return f"poll:{integration_id}:{order_id}:{updated.isoformat()}"


def _entry(
    integration: Integration,
    run: SyncRunRecord,
    order_id: str,
    raw: dict[str, Any],
    updated: datetime,
) -> InboxEntry:
    return InboxEntry(
        account_id=integration.account_id,
        integration_id=integration.id,
        source="backfill" if run.backfill else "poll",
        topic="order",
        body=orjson.dumps(raw),
        dedupe_key=poll_dedupe_key(integration.id, order_id, updated),
        backfill=run.backfill,
        sync_run_id=run.id,
    )


def _set_health(
    connection: Any, integration_id: str, error: StoreError | None, now: datetime
) -> None:
    if error is None:
        health, detail = "ok", None
    else:
        health = "error" if isinstance(error, StoreConfigError) else "degraded"
        detail = {**store_failure(error), "at": now.isoformat()}
    set_health(connection, integration_id, health, detail)
