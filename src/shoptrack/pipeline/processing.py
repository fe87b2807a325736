"""Processing: pending inbox rows → order states → events → profiles and rollups.

Each batch is one transaction: its rows are locked (``SKIP LOCKED`` on PostgreSQL, so workers
take disjoint rows), each row is applied inside its own savepoint so one bad row fails alone,
and the rows' states, events and rollups commit together with their ``processed`` marks.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import psycopg
from sqlalchemy import Connection

from shoptrack.clock import Clock
from shoptrack.connectors import connector_for
from shoptrack.domain.api_events import event_draft, parse_event
from shoptrack.domain.events import EventDraft, Person, order_events, order_person
from shoptrack.domain.lifecycle import transition
from shoptrack.domain.order import Order
from shoptrack.domain.segment import segment_drafts
from shoptrack.store.database import Database
from shoptrack.store.inbox import (
    InboxRow,
    InboxState,
    claim_pending,
    mark_failed,
    mark_processed,
)
from shoptrack.store.integrations import Integration, find_integration
from shoptrack.store.order_fetches import request_fetches
from shoptrack.store.order_states import apply_sighting, kept_orders, load_state
from shoptrack.store.recording import EventRecorder, RecordedEvent
from shoptrack.store.sync_runs import add_events_recorded

__all__ = ["EVENT_SOURCES", "BatchResult", "Processor", "RecordedHook", "reevaluate"]

logger = logging.getLogger(__name__)

# A polled order created longer ago than this is history, not something happening now.
LIVE_WINDOW = timedelta(hours=24)
# Rows a store sent because something happened now: a webhook, or the fetch a webhook asked for.
LIVE_SOURCES = frozenset({"webhook", "fetch"})

RecordedHook = Callable[[Connection, Sequence[RecordedEvent]], None]


@dataclass(slots=True)
class BatchResult:
    """What one batch did."""

    claimed: int = 0
    processed: int = 0
    retried: int = 0
    dead: int = 0
    recorded: list[RecordedEvent] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.claimed += other.claimed
        self.processed += other.processed
        self.retried += other.retried
        self.dead += other.dead
        self.recorded.extend(other.recorded)


@dataclass(frozen=True, slots=True)
class _Work:
    """One inbox row, parsed: the orders it carries, the orders it names for fetching, its
    events (API rows, checkouts), or its error."""

    row: InboxRow
    integration: Integration | None
    orders: tuple[Order, ...] = ()
    drafts: tuple[EventDraft, ...] = ()
    fetch_ids: tuple[str, ...] = ()
    error: str | None = None

    def people_to_record(self, connection: Connection) -> list[tuple[str, Person]]:
        """The people this row will most likely record events for: every API event's, and the
        customers of orders whose sighting would record a stage now. A person whose order
        records nothing (a pending order, an erased customer's old order seen again) gets no
        profile from it."""
        account_id = self.row.account_id
        people = [(account_id, draft.person) for draft in self.drafts]
        if self.integration is not None:
            rules = self.integration.rules
            for order in self.orders:
                previous = load_state(connection, self.integration.id, order.platform_order_id)
                if transition(previous, order, rules).record:
                    people.append((account_id, order_person(order)))
        return people

    @property
    def lock_key(self) -> tuple[str, str, int]:
        first = self.orders[0].platform_order_id if self.orders else ""
        return (self.row.integration_id or "", first, self.row.id)


def _api_event(row: InboxRow) -> list[EventDraft]:
    """A Klaviyo-form event (checked at intake, so this fails only on a changed rule)."""
    event = parse_event(orjson.loads(row.body), now=row.received_at)
    return [event_draft(event, received_at=row.received_at)]


# Rows that carry events rather than orders, by inbox source.
EVENT_SOURCES: dict[str, Callable[[InboxRow], list[EventDraft]]] = {
    "api": _api_event,
    "client": _api_event,
    "segment": lambda row: segment_drafts(row.body, row.received_at),
}


def _store_work(row: InboxRow, integration: Integration) -> _Work:
    """What a row a store sent carries: a polled or fetched order, or a webhook's orders, the
    ids of orders it names, and its other events."""
    connector = connector_for(integration.platform)
    payload = orjson.loads(row.body)
    if row.source != "webhook":
        return _Work(row, integration, (connector.to_order(payload),))
    return _Work(
        row,
        integration,
        tuple(connector.orders_from_webhook(row.topic, payload)),
        drafts=tuple(connector.drafts_from_webhook(row.topic, payload)),
        fetch_ids=tuple(connector.order_ids_from_webhook(row.topic, payload)),
    )


def _is_conflict(error: BaseException) -> bool:
    """A deadlock or serialization failure between concurrent workers: not the row's fault."""
    original = getattr(error, "orig", None)
    return isinstance(
        original, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure
    )


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Processor:
    """Processes the inbox in bounded batches."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        batch_size: int = 200,
        on_recorded: RecordedHook | None = None,
    ) -> None:
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"[:64]
        self._database = database
        self._clock = clock
        self._batch_size = batch_size
        self._on_recorded = on_recorded

    def run_once(self) -> BatchResult:
        """Processes one batch of due rows; ``claimed == 0`` means there was nothing to do."""
        now = self._clock.now()
        result = BatchResult()
        with self._database.write() as connection:
            rows = claim_pending(connection, now, self._batch_size)
            if not rows:
                return result
            result.claimed = len(rows)
            integrations: dict[str, Integration | None] = {}
            work = sorted(
                (self._parse(connection, row, integrations) for row in rows),
                key=lambda item: item.lock_key,
            )
            recorder = EventRecorder(connection, now)
            # Profiles first, sorted, then order states: one lock order for every worker.
            recorder.resolve_profiles(
                person for item in work for person in item.people_to_record(connection)
            )
            done: list[int] = []
            for item in work:
                try:
                    if item.error is not None:
                        raise ValueError(item.error)
                    with recorder.savepoint():
                        self._apply(recorder, item, now)
                    done.append(item.row.id)
                except Exception as error:  # noqa: BLE001  # any failure of one row is that row's: it is retried, then dead-lettered
                    state = mark_failed(
                        connection,
                        item.row,
                        _error_text(error),
                        now,
                        transient=_is_conflict(error),
                    )
                    logger.warning(
                        "inbox row %s failed (%s): %s", item.row.id, state, _error_text(error)
                    )
                    if state is InboxState.DEAD:
                        result.dead += 1
                    else:
                        result.retried += 1
            mark_processed(connection, done, now, self.worker_id)
            recorder.flush()
            runs = {item.row.id: item.row.sync_run_id for item in work if item.row.sync_run_id}
            if runs:
                by_run = Counter(
                    runs[event.inbox_id] for event in recorder.recorded if event.inbox_id in runs
                )
                add_events_recorded(connection, dict(by_run))
            if self._on_recorded is not None and recorder.recorded:
                self._on_recorded(connection, recorder.recorded)
            result.processed = len(done)
            result.recorded = list(recorder.recorded)
        return result

    def run_until_idle(self, max_batches: int = 1_000_000) -> BatchResult:
        """Processes batches until none is due (for commands and tests)."""
        total = BatchResult()
        for _ in range(max_batches):
            batch = self.run_once()
            total.add(batch)
            if batch.claimed == 0:
                break
        return total

    def _parse(
        self, connection: Connection, row: InboxRow, integrations: dict[str, Integration | None]
    ) -> _Work:
        if row.integration_id is not None and row.integration_id not in integrations:
            integrations[row.integration_id] = find_integration(connection, row.integration_id)
        integration = integrations[row.integration_id] if row.integration_id is not None else None
        if row.source in EVENT_SOURCES:
            # Events sent for an integration (the onsite tracker's) go on its metrics.
            try:
                return _Work(row, integration, drafts=tuple(EVENT_SOURCES[row.source](row)))
            except (ValueError, KeyError, TypeError) as error:
                return _Work(row, integration, error=_error_text(error))
        if row.integration_id is None:
            return _Work(row, None, error=f"no handler for {row.source} rows without integration")
        if integration is None:
            return _Work(row, None, error=f"integration {row.integration_id} does not exist")
        try:
            return _store_work(row, integration)
        except (ValueError, KeyError, TypeError) as error:
            return _Work(row, integration, error=_error_text(error))

    def _apply(self, recorder: EventRecorder, item: _Work, now: datetime) -> None:
        integration = item.integration
        for draft in item.drafts:
            recorder.record(
                item.row.account_id,
                draft,
                integration_id=integration.id if integration is not None else None,
                inbox_id=item.row.id,
            )
        if integration is None:
            return
        if item.fetch_ids:
            request_fetches(
                recorder.connection,
                account_id=integration.account_id,
                integration_id=integration.id,
                order_ids=item.fetch_ids,
                now=now,
            )
        rules = integration.rules
        for order in item.orders:
            change = apply_sighting(
                recorder.connection,
                account_id=integration.account_id,
                integration_id=integration.id,
                rules=rules,
                order=order,
                now=now,
            )
            if not change.record:
                continue
            backfill = item.row.backfill or (
                item.row.source not in LIVE_SOURCES and order.created_at < now - LIVE_WINDOW
            )
            for draft in order_events(order, change.record, backfill=backfill):
                if draft.person.identified:
                    recorder.record(
                        integration.account_id,
                        draft,
                        integration_id=integration.id,
                        inbox_id=item.row.id,
                    )


def reevaluate(database: Database, integration: Integration, now: datetime) -> list[RecordedEvent]:
    """Applies the integration's current rules to every kept order; what that records is backfill
    (the orders happened before the rule change)."""
    rules = integration.rules
    with database.write() as connection:
        recorder = EventRecorder(connection, now)
        for order in list(kept_orders(connection, integration.id)):
            change = apply_sighting(
                connection,
                account_id=integration.account_id,
                integration_id=integration.id,
                rules=rules,
                order=order,
                now=now,
            )
            for draft in order_events(order, change.record, backfill=True):
                if draft.person.identified:
                    recorder.record(integration.account_id, draft, integration_id=integration.id)
        recorder.flush()
        return list(recorder.recorded)
