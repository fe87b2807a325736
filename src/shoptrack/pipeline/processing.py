"""Processing: pending inbox rows → order states → events → profiles and rollups.

Each batch is one transaction: its rows are claimed (``SKIP LOCKED`` on PostgreSQL, so workers
take disjoint rows) and applied as a set, in a handful of statements whatever the batch's size;
one bad row still fails alone (the set is halved until it is found), and the rows' states,
events and rollups commit together with their ``processed`` marks.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

import psycopg
from sqlalchemy import Connection

from shoptrack.clock import Clock
from shoptrack.domain.events import order_events
from shoptrack.domain.lifecycle import Transition
from shoptrack.domain.status import StatusRules
from shoptrack.ids import lease_owner
from shoptrack.pipeline.rows import Work, error_text, parse_row
from shoptrack.store.database import Database
from shoptrack.store.inbox import (
    InboxShare,
    InboxState,
    ShareRun,
    claim_pending,
    claimable,
    mark_failed,
    mark_nul_characters_removed,
    mark_processed,
    peek_pending,
    peek_share,
    pending_before,
)
from shoptrack.store.integrations import Integration
from shoptrack.store.order_fetches import request_fetches
from shoptrack.store.order_states import (
    Sighting,
    SightingsPlan,
    apply_sightings,
    kept_orders,
    plan_sightings,
)
from shoptrack.store.recording import RecordedEvent, Recording, record_events
from shoptrack.store.sync_runs import add_events_recorded

__all__ = ["BatchResult", "Processor", "RecordedHook", "reevaluate"]

logger = logging.getLogger(__name__)

# A polled order created longer ago than this is history, not something happening now.
LIVE_WINDOW = timedelta(hours=24)
# Rows a store sent because something happened now: a webhook, or the fetch a webhook asked for.
LIVE_SOURCES = frozenset({"webhook", "fetch"})
# Kept orders re-evaluated per set when a rule changes.
_REEVALUATION_CHUNK = 500
# A processor with a share of the inbox waits for the rows of other shares before its own: it
# asks this often whether anything was committed (seconds; a batch takes a tenth of a second
# or more to write), looks at the inbox again when so, and if the rows before its own still
# wait after ``_TAKE_OVER_AFTER`` (their process died, stops or starts again, or hangs), writes
# them itself, and every share's rows for ``_TAKEN_OVER_FOR`` — SQLite's one writer keeps that
# safe: rows are claimed under its lock, and taken in order.
_WAIT_POLL = 0.001
_TAKE_OVER_AFTER = 5.0
_TAKEN_OVER_FOR = 5.0

RecordedHook = Callable[[Connection, Sequence[RecordedEvent]], None]


@dataclass(slots=True)
class BatchResult:
    """What one batch did, or many added up.

    ``recorded`` holds one batch's inserted events (flows are handed them); a sum of batches
    keeps only their count, ``events_recorded``, so that processing a backfill of any size to
    its end holds no more than one batch's events in memory.
    """

    claimed: int = 0
    processed: int = 0
    retried: int = 0
    dead: int = 0
    events_recorded: int = 0
    recorded: list[RecordedEvent] = field(default_factory=list)
    # How long the batch's write transaction held the write lock (seconds).
    writing: float = 0.0

    def add(self, other: BatchResult) -> None:
        self.claimed += other.claimed
        self.processed += other.processed
        self.retried += other.retried
        self.dead += other.dead
        self.events_recorded += other.events_recorded
        self.writing += other.writing


def _is_conflict(error: BaseException) -> bool:
    """A deadlock or serialization failure between concurrent workers: not the row's fault."""
    original = getattr(error, "orig", None)
    return isinstance(
        original, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure
    )


@dataclass(slots=True)
class _Outcome:
    """What applying a batch's rows came to: the rows done, their events, and the failures."""

    done: list[int] = field(default_factory=list)
    recorded: list[RecordedEvent] = field(default_factory=list)
    failed: list[tuple[Work, BaseException]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Found:
    """SQLite: the rows a batch found, parsed and worked out at ``now``, before the lock."""

    parsed: list[Work]
    prepared: _Prepared | None
    now: datetime


class _Waited(Enum):
    WRITTEN = "the rows before were written"
    INTERRUPTED = "told to stop waiting"
    TOO_LONG = "the rows before still wait"


class Processor:
    """Processes the inbox in bounded batches, each in a handful of statements.

    On PostgreSQL a batch's rows are claimed first, with ``SKIP LOCKED``, so that concurrent
    workers parse disjoint rows, and parsed inside the write transaction. On SQLite, whose one
    writer would otherwise wait for the work, they are read and parsed before it — and their
    order states and events worked out too, from the states stored at that moment, and written
    as worked out if the transaction finds those states unchanged (``plan_sightings``): the
    write lock is held about a quarter less. The rows are then applied together: order states
    read and written per batch, events, keys, profiles and rollups with multi-row statements.
    If that fails, the batch is split in halves, each tried in its own savepoint, down to the
    one row that fails — which alone is retried, then dead-lettered.

    With ``share`` (SQLite), it takes only that share of the inbox's rows (``InboxShare``):
    processors in several processes, one working its next rows out while another writes, each
    writing its rows only once every row before them is written.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        batch_size: int = 200,
        on_recorded: RecordedHook | None = None,
        share: InboxShare | None = None,
    ) -> None:
        self.worker_id = lease_owner()
        self._database = database
        self._clock = clock
        self._batch_size = batch_size
        self._on_recorded = on_recorded
        # PostgreSQL's workers claim disjoint rows with SKIP LOCKED: shares are SQLite's.
        sharing = database.is_sqlite and share is not None and share.count > 1
        self._share = share if sharing else None
        self._taken_over_until = 0.0  # time.monotonic(): until then it takes every share's rows

    @property
    def takes_turns(self) -> bool:
        """Whether this processor takes the turns while intake commits (``IntakeTurns``): the
        only one, or the first share's — the others leave the cores to acknowledging then."""
        return self._share is None or self._share.index == 0

    def run_once(
        self,
        limit: int | None = None,
        *,
        shared: bool = True,
        interrupted: Callable[[], bool] | None = None,
    ) -> BatchResult:
        """Processes one batch of due rows (at most ``limit`` when given, a shorter hold of the
        write lock; with ``shared`` False the next rows whatever their share); ``claimed == 0``
        means there was nothing to do — or, while it waited for another share's rows, that
        ``interrupted`` said to stop waiting (its worker stops, or intake began to commit)."""
        size = min(limit, self._batch_size) if limit else self._batch_size
        if not self._database.is_sqlite:
            return self._write(size, self._clock.now(), None)
        while True:
            found = self._work_out(size, shared=shared, interrupted=interrupted)
            if found is None:
                return BatchResult()
            result = self._write(size, found.now, found)
            if result.claimed:
                return result
            # Every row was taken by another processor meanwhile: the next ones.

    def _work_out(
        self, size: int, *, shared: bool, interrupted: Callable[[], bool] | None
    ) -> _Found | None:
        """SQLite: the next rows, read, parsed and worked out before the write lock is taken
        (which then is held for writing what they come to) — with a share, once every row
        before them is written; None when there are none, or the wait was ``interrupted``."""
        taking_over = time.monotonic() < self._taken_over_until
        share = self._share if shared and not taking_over else None
        integrations: dict[str, Integration | None] = {}
        while True:
            now = self._clock.now()
            with self._database.read() as connection:
                run = self._peek(connection, now, size, share)
                parsed = [parse_row(connection, row, integrations) for row in run.rows]
                prepared = _prepare(connection, _valid(parsed), now)
            if run.after is None:
                return _Found(parsed, prepared, now) if parsed else None
            waited = self._wait_until_written_before(run.after, interrupted)
            if waited is _Waited.INTERRUPTED:
                return None
            if waited is _Waited.TOO_LONG:
                # Their process died, stops or starts again: its rows are this one's for a while.
                share = None
                self._taken_over_until = time.monotonic() + _TAKEN_OVER_FOR
            elif parsed:
                return _Found(parsed, prepared, now)
            # The rows before were written, and none of this share's were among the next: or
            # they are taken over. Another look.

    def _write(self, size: int, now: datetime, found: _Found | None) -> BatchResult:
        """Claims the rows ``found`` (SQLite), or the next ``size`` rows (PostgreSQL), and
        applies them in one write transaction."""
        integrations: dict[str, Integration | None] = {}
        prepared: _Prepared | None = None
        # Derived from the durable inbox rows: a commit lost to a power cut is processed again.
        with self._database.write(derived=True) as connection:
            began = time.perf_counter()
            if found is not None:
                # Anything that changed a row since it was read (a replay) wins: skip it.
                claimed = claimable(connection, [item.row.id for item in found.parsed], now)
                work = [item for item in found.parsed if item.row.id in claimed]
                prepared = found.prepared
            else:
                rows = claim_pending(connection, now, size)
                work = [parse_row(connection, row, integrations) for row in rows]
            result = self._process(connection, work, now, prepared)
        result.writing = time.perf_counter() - began
        return result

    def _process(
        self,
        connection: Connection,
        work: list[Work],
        now: datetime,
        prepared: _Prepared | None = None,
    ) -> BatchResult:
        result = BatchResult(claimed=len(work))
        if not work:
            return result
        outcome = _Outcome()
        for item in work:
            if item.error is not None:
                outcome.failed.append((item, ValueError(item.error)))
        valid = _valid(work)
        if prepared is not None and prepared.rows != tuple(item.row.id for item in valid):
            prepared = None  # a row was taken by another processor meanwhile: worked out anew
        _apply_halving(connection, valid, now, outcome, prepared)
        for item, error in sorted(outcome.failed, key=lambda failure: failure[0].row.id):
            state = mark_failed(
                connection, item.row, error_text(error), now, transient=_is_conflict(error)
            )
            logger.warning("inbox row %s failed (%s): %s", item.row.id, state, error_text(error))
            if state is InboxState.DEAD:
                result.dead += 1
            else:
                result.retried += 1
        mark_processed(connection, outcome.done, now, self.worker_id)
        mark_nul_characters_removed(
            connection,
            {
                item.row.id: item.nul_characters_removed
                for item in work
                if item.nul_characters_removed
            },
        )
        runs = {item.row.id: item.row.sync_run_id for item in work if item.row.sync_run_id}
        if runs:
            by_run = Counter(
                runs[event.inbox_id] for event in outcome.recorded if event.inbox_id in runs
            )
            add_events_recorded(connection, dict(by_run))
        if self._on_recorded is not None and outcome.recorded:
            self._on_recorded(connection, outcome.recorded)
        result.processed = len(outcome.done)
        result.events_recorded = len(outcome.recorded)
        result.recorded = outcome.recorded
        return result

    @staticmethod
    def _peek(
        connection: Connection, now: datetime, size: int, share: InboxShare | None
    ) -> ShareRun:
        """The next rows to process, and what must be written before them."""
        if share is None:
            return ShareRun(peek_pending(connection, now, size), None)
        return peek_share(connection, now, size, share)

    def _wait_until_written_before(
        self, key: tuple[datetime, int], interrupted: Callable[[], bool] | None
    ) -> _Waited:
        """Waits until no pending row comes before ``key`` (another share's process writes
        them), looking again whenever a write is committed."""
        deadline = time.monotonic() + _TAKE_OVER_AFTER
        with self._database.commit_watch() as committed:
            look = True
            while True:
                if look:
                    with self._database.read() as connection:
                        if not pending_before(connection, *key):
                            return _Waited.WRITTEN
                if interrupted is not None and interrupted():
                    return _Waited.INTERRUPTED
                if time.monotonic() >= deadline:
                    logger.warning(
                        "inbox rows of another share still wait after %.0f s: processing them here",
                        _TAKE_OVER_AFTER,
                    )
                    return _Waited.TOO_LONG
                time.sleep(_WAIT_POLL)
                look = committed()

    def run_until_idle(self, max_batches: int = 1_000_000) -> BatchResult:
        """Processes batches until none is due (for commands and tests)."""
        total = BatchResult()
        for _ in range(max_batches):
            batch = self.run_once()
            total.add(batch)
            if batch.claimed == 0:
                break
        return total


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A batch's rows worked out before its write transaction, from the states stored then
    (SQLite): what ``_apply`` writes if the transaction finds those states unchanged."""

    rows: tuple[int, ...]  # the inbox rows, by id
    fetches: dict[tuple[str, str], list[str]]
    sightings: list[Sighting]
    plan: SightingsPlan
    recordings: list[Recording]


def _valid(work: Sequence[Work]) -> list[Work]:
    """The rows that parsed."""
    return [item for item in work if item.error is None]


def _prepare(connection: Connection, work: Sequence[Work], now: datetime) -> _Prepared | None:
    """The batch worked out from the states stored now (read, not locked); None if that fails,
    which the write transaction then finds row by row."""
    try:
        fetches, sightings = _sightings(work)
        plan = plan_sightings(connection, sightings, now)
        recordings = _recordings(work, plan.transitions, now)
    except Exception:  # noqa: BLE001  # some row's failure: halving in the transaction finds it
        return None
    rows = tuple(item.row.id for item in work)
    return _Prepared(rows, fetches, sightings, plan, recordings)


def _apply_halving(
    connection: Connection,
    work: Sequence[Work],
    now: datetime,
    outcome: _Outcome,
    prepared: _Prepared | None = None,
) -> None:
    """Applies ``work`` in one savepoint; if that fails, each half in its own, down to the row
    that fails. A conflict with another worker fails every row of the set, as a transient
    failure (they are retried at once): it is no row's fault."""
    if not work:
        return
    try:
        with connection.begin_nested():
            recorded = _apply(connection, work, now, prepared)
    except Exception as error:  # noqa: BLE001  # any failure is some row's: halving finds whose
        if len(work) == 1 or _is_conflict(error):
            outcome.failed.extend((item, error) for item in work)
            return
        middle = len(work) // 2
        _apply_halving(connection, work[:middle], now, outcome)
        _apply_halving(connection, work[middle:], now, outcome)
        return
    outcome.done.extend(item.row.id for item in work)
    outcome.recorded.extend(recorded)


def _sightings(
    work: Sequence[Work],
) -> tuple[dict[tuple[str, str], list[str]], list[Sighting]]:
    """The orders the rows name for fetching (by account and integration), and their
    sightings."""
    fetches: dict[tuple[str, str], list[str]] = {}
    sightings: list[Sighting] = []
    rules: dict[str, StatusRules] = {}  # each integration's, worked out once per batch
    for item in work:
        integration = item.integration
        if integration is None:
            continue
        if item.fetch_ids:
            fetches.setdefault((integration.account_id, integration.id), []).extend(item.fetch_ids)
        if integration.id not in rules:
            rules[integration.id] = integration.rules
        sightings.extend(
            Sighting(integration.account_id, integration.id, rules[integration.id], order)
            for order in item.orders
        )
    return fetches, sightings


def _recordings(
    work: Sequence[Work], transitions: Sequence[Transition], now: datetime
) -> list[Recording]:
    """The events of the rows: their own, and those their orders' transitions record."""
    changes = iter(transitions)
    recordings: list[Recording] = []
    for item in work:
        integration = item.integration
        owner = integration.id if integration is not None else None
        recordings.extend(
            Recording(item.row.account_id, draft, owner, item.row.id) for draft in item.drafts
        )
        if integration is None:
            continue
        for order in item.orders:
            change = next(changes)
            if not change.record:
                continue
            backfill = item.row.backfill or (
                item.row.source not in LIVE_SOURCES and order.created_at < now - LIVE_WINDOW
            )
            recordings.extend(
                Recording(integration.account_id, draft, integration.id, item.row.id)
                for draft in order_events(order, change.record, backfill=backfill)
                if draft.person.identified
            )
    return recordings


def _apply(
    connection: Connection, work: Sequence[Work], now: datetime, prepared: _Prepared | None
) -> list[RecordedEvent]:
    """The rows' fetch requests, order states and events, in a few statements; what
    ``prepared`` worked out for these rows is used where the stored states still agree."""
    if prepared is None:
        fetches, sightings = _sightings(work)
    else:
        fetches, sightings = prepared.fetches, prepared.sightings
    for (account_id, integration_id), order_ids in sorted(fetches.items()):
        request_fetches(
            connection,
            account_id=account_id,
            integration_id=integration_id,
            order_ids=order_ids,
            now=now,
        )
    changes = apply_sightings(
        connection, sightings, now, prepared.plan if prepared is not None else None
    )
    if prepared is not None and changes == prepared.plan.transitions:
        recordings = prepared.recordings
    else:
        recordings = _recordings(work, changes, now)
    return record_events(connection, recordings, now)


def reevaluate(database: Database, integration: Integration, now: datetime) -> list[RecordedEvent]:
    """Applies the integration's current rules to every kept order; what that records is backfill
    (the orders happened before the rule change)."""
    rules = integration.rules
    recorded: list[RecordedEvent] = []
    with database.write() as connection:
        orders = list(kept_orders(connection, integration.id))
        for start in range(0, len(orders), _REEVALUATION_CHUNK):
            chunk = orders[start : start + _REEVALUATION_CHUNK]
            sightings = [
                Sighting(integration.account_id, integration.id, rules, order) for order in chunk
            ]
            changes = apply_sightings(connection, sightings, now)
            recordings = [
                Recording(integration.account_id, draft, integration.id)
                for order, change in zip(chunk, changes, strict=True)
                for draft in order_events(order, change.record, backfill=True)
                if draft.person.identified
            ]
            recorded.extend(record_events(connection, recordings, now))
    return recorded
