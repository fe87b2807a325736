"""The per-process group-commit writer of the intake path.

Request handlers hand it inbox entries and wait; one thread writes whatever has queued up in a
single transaction and resolves every waiting handler once that transaction is committed, so
under load many deliveries share one commit (one fsync on SQLite, one round of WAL flush on
PostgreSQL) while an idle server still answers at once. If a batch fails, its entries are written
again one transaction each, so one bad row never fails its batch-mates.

When the database cannot take writes — unreachable, shut down, read-only, out of space — the
writer does not refuse: it appends the batch to the spool (``pipeline/spool.py``), fsync'd, and
acknowledges. It tries the database again every few seconds, drains the spool into the inbox in
order once a write succeeds, and only then writes new entries directly again. Only when the
spool is full or cannot be written does it refuse, with 503 ``unavailable``. Rejected
deliveries (forgeries, mostly) never take spool space: they are counted instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from shoptrack.clock import Clock
from shoptrack.errors import UnavailableError
from shoptrack.pipeline.spool import Spool, SpooledEntry, SpoolError, SpoolState
from shoptrack.store.database import Database, database_unavailable
from shoptrack.store.inbox import (
    InboxAppender,
    InboxEntry,
    InboxState,
    write_entries,
    write_entry,
)
from shoptrack.store.rejections import UnstoredKey, add_unstored

__all__ = ["GroupCommitWriter", "WriterState", "WriterStoppedError"]

logger = logging.getLogger(__name__)

INBOX_CHANNEL = "shoptrack_inbox"
# What a refusal tells the client to wait before trying again (seconds).
RETRY_AFTER_SECONDS = 30
# How often the state of an outage is logged while it lasts (seconds).
_LOG_EVERY = 30.0
# How many batches a drain writes before the writer answers what came in meanwhile.
_DRAIN_BATCHES_PER_ROUND = 4
# How often a write is tried on request (``request_probe``) while nothing else is written
# (seconds).
_PROBE_EVERY = 2.0


class WriterStoppedError(UnavailableError):
    """The writer is not running, so nothing can be acknowledged."""


@dataclass(frozen=True, slots=True)
class WriterState:
    """How intake's writes stand: ``outage`` says why the database took none lately (None
    while it does), ``spool`` what waits in the spool (None without one)."""

    outage: str | None
    outage_since: datetime | None
    spool: SpoolState | None
    stuck_seconds: float | None = None  # how long the write under way has taken, if too long

    @property
    def degraded(self) -> str | None:
        """Why intake is not writing to the database now, in one sentence; None when it is."""
        spooled = self.spool.entries if self.spool is not None else 0
        if self.outage is not None:
            return f"the database cannot take writes ({self.outage}); {spooled} deliveries spooled"
        if self.stuck_seconds is not None:
            return f"a write to the database has not finished in {self.stuck_seconds:.0f} s"
        if spooled:
            return f"{spooled} spooled deliveries are being drained into the database"
        return None


class _Signal(enum.Enum):
    STOP = "stop"
    WAKE = "wake"  # counts of unstored refusals wait to be written
    PROBE = "probe"  # a write transaction is wanted, to learn whether the database takes one


class _Outcome(Protocol):
    """Where the writer thread sets what became of an entry."""

    def set_result(self, result: bool) -> None: ...
    def set_exception(self, exception: BaseException | None) -> None: ...
    def done(self) -> bool: ...


@dataclass(slots=True, eq=False)
class _LoopOutcome:
    """The outcome for a handler that waits on an event loop (``write``). Set in the writer
    thread and handed to the loop with the rest of its round (``_hand_over``): one wake-up of
    the loop a commit, where a future per entry woke it once an entry."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[bool]
    round_outcomes: list[_LoopOutcome]  # the writer's outcomes of the round under way
    result: bool = False
    exception: BaseException | None = None
    settled: bool = False

    def set_result(self, result: bool) -> None:
        self.result = result
        self._settle()

    def set_exception(self, exception: BaseException | None) -> None:
        self.exception = exception
        self._settle()

    def done(self) -> bool:
        return self.settled

    def _settle(self) -> None:
        self.settled = True
        self.round_outcomes.append(self)


def _resolve(outcomes: list[_LoopOutcome]) -> None:
    """Resolves the handlers' futures, on their loop (a handler gone meanwhile is skipped)."""
    for outcome in outcomes:
        if outcome.future.done():
            continue
        if outcome.exception is not None:
            outcome.future.set_exception(outcome.exception)
        else:
            outcome.future.set_result(outcome.result)


@dataclass(slots=True)
class _Pending:
    entry: InboxEntry
    future: _Outcome
    verdict: str | None = None  # a rejected entry's verdict, counted if it cannot be stored


class GroupCommitWriter:
    """Writes inbox entries in group commits; ``write()`` resolves to False for a duplicate."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        spool: Spool | None = None,
        max_batch: int = 500,
        on_commit: Callable[[], None] | None = None,
        first_retry: float = 0.5,
        max_retry: float = 5.0,
        stuck_after: float = 10.0,
    ) -> None:
        self._database = database
        self._clock = clock
        self._spool = spool
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._first_retry = first_retry
        self._max_retry = max_retry
        # How long a probe may wait before the database counts as stuck (seconds).
        self._stuck_after = stuck_after
        self._appender = InboxAppender(database, INBOX_CHANNEL)
        self._queue: queue.SimpleQueue[_Pending | _Signal] = queue.SimpleQueue()
        # Outcomes for handlers on event loops, set this round; the writer thread's alone.
        self._round_outcomes: list[_LoopOutcome] = []
        self._thread: threading.Thread | None = None
        # Entries handed over before start() wait for it; after stop() they are refused.
        self._accepting = True
        self.batches_committed = 0
        # Refusals not stored, by integration and verdict, until a transaction records them.
        self._unstored: Counter[UnstoredKey] = Counter()
        self._unstored_lock = threading.Lock()
        # The outage, while the database takes no writes: why, since when, when to try again.
        self._outage: str | None = None
        self._outage_since: datetime | None = None
        self._retry_delay = first_retry
        self._next_attempt = 0.0
        self._last_log = 0.0
        # Probes: when the last round of writing ended, and when one was asked for since.
        self._probe_lock = threading.Lock()
        self._round_ended = 0.0
        self._probe_asked: float | None = None

    # -- the handlers' side ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        if self._spool is not None:
            self._spool.open()
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="shoptrack-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Writes (or spools) what has been handed over, then stops."""
        self._accepting = False
        if self._thread is None:
            return
        self._queue.put(_Signal.STOP)
        self._thread.join()
        self._thread = None

    def submit(self, entry: InboxEntry, *, verdict: str | None = None) -> Future[bool]:
        """Hands the entry over from a thread; the future resolves as ``write`` returns."""
        future: Future[bool] = Future()
        if not self._accepting:
            future.set_exception(_stopped())
            return future
        self._queue.put(_Pending(entry, future, verdict))
        return future

    async def write(self, entry: InboxEntry) -> bool:
        """Stores the entry; returns once it is committed or spooled (False: a duplicate,
        nothing added)."""
        return await self._handed_over(entry, None)

    async def write_rejected(self, entry: InboxEntry, verdict: str) -> bool:
        """Stores a rejected entry if the database takes it now; else only counts it (False)."""
        return await self._handed_over(entry, verdict)

    async def _handed_over(self, entry: InboxEntry, verdict: str | None) -> bool:
        if not self._accepting:
            raise _stopped()
        loop = asyncio.get_running_loop()
        outcome = _LoopOutcome(loop, loop.create_future(), self._round_outcomes)
        self._queue.put(_Pending(entry, outcome, verdict))
        return await outcome.future

    def count_unstored(self, integration_id: str, verdict: str) -> None:
        """Counts a refused delivery that is not stored; written with the next transaction."""
        with self._unstored_lock:
            first = not self._unstored
            self._unstored[(integration_id, verdict)] += 1
        if first:
            self._queue.put(_Signal.WAKE)

    def state(self) -> WriterState:
        asked = self._probe_asked
        waited = time.monotonic() - asked if asked is not None else 0.0
        return WriterState(
            self._outage,
            self._outage_since,
            self._spool.state() if self._spool is not None else None,
            waited if waited > self._stuck_after else None,
        )

    def request_probe(self) -> None:
        """Asks for a write transaction soon, so that ``state()`` tells whether the database
        takes writes even while nothing is being written; at most one every ``_PROBE_EVERY``
        seconds, and never waited for (``/health`` must answer fast, whatever the database
        does)."""
        if self._thread is None:
            return
        now = time.monotonic()
        with self._probe_lock:
            if self._probe_asked is not None or now - self._round_ended < _PROBE_EVERY:
                return
            self._probe_asked = now
        self._queue.put(_Signal.PROBE)

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._idle_timeout())
            except queue.Empty:
                self._write([])  # time to try the database again
                continue
            batch: list[_Pending] = []
            item: _Pending | _Signal = first
            while True:
                if isinstance(item, _Pending):
                    batch.append(item)
                elif item is _Signal.STOP:
                    stopping = True
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:  # a bug must not end the thread: every handler would hang
                logger.exception("the intake writer failed on a batch of %d entries", len(batch))
                self._refuse([p for p in batch if not p.future.done()], "the intake writer failed")
            self._hand_over()
            with self._probe_lock:
                self._round_ended = time.monotonic()
                self._probe_asked = None
        self._finish()

    def _hand_over(self) -> None:
        """Passes the round's outcomes to the loops their handlers wait on, one call a loop."""
        if not self._round_outcomes:
            return
        by_loop: dict[asyncio.AbstractEventLoop, list[_LoopOutcome]] = {}
        for outcome in self._round_outcomes:
            by_loop.setdefault(outcome.loop, []).append(outcome)
        self._round_outcomes.clear()
        for loop, outcomes in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits there
                loop.call_soon_threadsafe(_resolve, outcomes)

    def _idle_timeout(self) -> float | None:
        if not self._waiting():
            return None
        return max(0.0, self._next_attempt - time.monotonic())

    def _waiting(self) -> bool:
        """Whether the database is away, or spooled entries wait: new ones must not pass them."""
        return self._outage is not None or (self._spool is not None and self._spool.pending)

    def _finish(self) -> None:
        try:
            if self._waiting():
                self._next_attempt = 0.0
                self._write([])  # a last try; what stays spooled waits for the next process
        finally:
            self._appender.close()
            if self._spool is not None:
                self._spool.close()

    def _write(self, batch: list[_Pending]) -> None:
        if self._waiting() and (time.monotonic() < self._next_attempt or not self._drain()):
            self._hold(batch)
            return
        self._write_direct(batch)

    def _write_direct(self, batch: list[_Pending]) -> None:
        """Writes the batch in one transaction (an empty one when there is none: a probe)."""
        results: list[bool] = []
        try:
            if batch:
                results = self._appender.append([p.entry for p in batch], self._clock.now())
            else:
                with self._database.write() as connection:
                    self._database.check_writable(connection)
        except Exception as error:  # one of the database's or one of a row's: told apart below
            if database_unavailable(error):
                self._enter_outage(error)
                self._hold(batch)
                return
            logger.exception(
                "group commit of %d entries failed; writing them one by one", len(batch)
            )
            self._write_one_by_one(batch)
            return
        self._recovered()
        self._flush_unstored()
        if not batch:
            return
        self.batches_committed += 1
        for pending, inserted in zip(batch, results, strict=True):
            pending.future.set_result(inserted)
        if self._on_commit is not None:
            self._on_commit()

    def _write_one_by_one(self, batch: list[_Pending]) -> None:
        for index, pending in enumerate(batch):
            try:
                with self._database.write() as connection:
                    inserted = write_entry(connection, pending.entry, self._clock.now())
                    self._notify(connection)
            except Exception as error:  # noqa: BLE001  # this entry alone is refused; its handler answers with an error
                if database_unavailable(error):
                    self._enter_outage(error)
                    self._hold(batch[index:])
                    break
                pending.future.set_exception(error)
            else:
                pending.future.set_result(inserted)
        if self._on_commit is not None:
            self._on_commit()

    def _notify(self, connection: Connection) -> None:
        self._database.notify(connection, INBOX_CHANNEL)

    # -- outages -----------------------------------------------------------------------------

    def _hold(self, batch: list[_Pending]) -> None:
        """Acknowledges the batch from the spool, as far as it takes it; refuses the rest."""
        accepted: list[_Pending] = []
        for pending in batch:
            if pending.entry.state is InboxState.REJECTED:
                # Anyone can send these: they are counted, never given spool space.
                self._count(pending.entry.integration_id, pending.verdict)
                pending.future.set_result(False)
            else:
                accepted.append(pending)
        if not accepted:
            return
        reason = self._outage or "the database is unavailable"
        if self._spool is None:
            self._refuse(accepted, f"the database cannot take writes ({reason})")
            return
        now = self._clock.now()
        entries = [
            replace(
                p.entry,
                received_at=p.entry.received_at or now,
                # Drained twice after a crash, an entry is still stored once.
                dedupe_key=p.entry.dedupe_key or f"spool:{uuid.uuid4().hex}",
            )
            for p in accepted
        ]
        try:
            stored = self._spool.append(entries)
            problem = "the spool is full"
        except SpoolError as error:
            stored, problem = 0, str(error)
        for pending in accepted[:stored]:
            pending.future.set_result(True)
        if stored < len(accepted):
            logger.error(
                "spool: %d deliveries refused with 503: the database cannot take writes (%s) "
                "and %s (%s)",
                len(accepted) - stored,
                reason,
                problem,
                self._spool_summary(),
            )
            self._refuse(
                accepted[stored:], f"the database cannot take writes ({reason}) and {problem}"
            )

    def _refuse(self, batch: list[_Pending], why: str) -> None:
        for pending in batch:
            pending.future.set_exception(
                UnavailableError(f"{why}; try again later", retry_after=RETRY_AFTER_SECONDS)
            )

    def _drain(self) -> bool:
        """Writes spooled entries to the database, oldest first, a few batches a round (new
        deliveries meanwhile go to the spool, behind them, and are answered at once); True
        once none is left."""
        spool = self._spool
        if spool is None or not spool.pending:
            return True
        drained = 0
        try:
            for _round in range(_DRAIN_BATCHES_PER_ROUND):
                chunk = spool.peek(self._max_batch)
                if not chunk:
                    break
                self._drain_chunk(spool, chunk)
                drained += len(chunk)
        except Exception as error:  # the database away, or the spool unreadable: tried again later
            if not database_unavailable(error):
                logger.exception("spool: draining failed")
            self._enter_outage(error)
            return False
        finally:
            if drained:
                logger.warning(
                    "spool: drained %d deliveries into the inbox, %d left",
                    drained,
                    spool.state().entries,
                )
                if self._on_commit is not None:
                    self._on_commit()
        if spool.state().entries:
            self._recovered()
            self._next_attempt = 0.0  # the next round follows at once
            return False
        return True

    def _drain_chunk(self, spool: Spool, chunk: list[SpooledEntry]) -> None:
        now = self._clock.now()
        try:
            with self._database.write() as connection:
                write_entries(connection, [s.entry for s in chunk], now)
                self._notify(connection)
        except Exception as error:
            if database_unavailable(error):
                raise
            logger.exception("spooled entries failed together; writing them one by one")
        else:
            spool.consume(chunk)
            return
        for spooled in chunk:
            try:
                with self._database.write() as connection:
                    write_entry(connection, spooled.entry, now)
                    self._notify(connection)
            except Exception as error:
                if database_unavailable(error):
                    raise
                path = spool.set_aside(spooled, repr(error))
                logger.exception(
                    "spool: an acknowledged delivery the database refuses was set aside in %s",
                    path,
                )
            else:
                spool.consume([spooled])

    def _enter_outage(self, error: BaseException) -> None:
        reason = _one_line(error)
        now = time.monotonic()
        if self._outage is None:
            self._outage_since = self._clock.now()
            self._retry_delay = self._first_retry
            logger.warning(
                "database cannot take writes (%s): intake acknowledges into the spool (%s)",
                reason,
                self._spool_summary(),
            )
            self._last_log = now
        else:
            self._retry_delay = min(self._retry_delay * 2, self._max_retry)
            if now - self._last_log >= _LOG_EVERY:
                logger.warning(
                    "database still cannot take writes (%s) since %s (%s)",
                    reason,
                    self._outage_since,
                    self._spool_summary(),
                )
                self._last_log = now
        self._outage = reason
        self._next_attempt = now + self._retry_delay

    def _recovered(self) -> None:
        if self._outage is None:
            return
        logger.warning(
            "database takes writes again (it did not since %s): %s",
            self._outage_since,
            self._spool_summary(),
        )
        self._outage = None
        self._outage_since = None

    def _spool_summary(self) -> str:
        if self._spool is None:
            return "no spool: deliveries are refused with 503 meanwhile"
        state = self._spool.state()
        return (
            f"spool {self._spool.directory}: {state.entries} deliveries, "
            f"{state.bytes} of {state.max_bytes} bytes"
        )

    # -- unstored refusals -------------------------------------------------------------------

    def _count(self, integration_id: str | None, verdict: str | None) -> None:
        if integration_id is not None:
            with self._unstored_lock:
                self._unstored[(integration_id, verdict or InboxState.REJECTED.value)] += 1

    def _flush_unstored(self) -> None:
        """Records the counted refusals in a transaction of their own: a failure there never
        touches acknowledged entries."""
        with self._unstored_lock:
            counts, self._unstored = self._unstored, Counter()
        if not counts:
            return
        try:
            with self._database.write() as connection:
                add_unstored(connection, counts, self._clock.now())
        except Exception as error:  # counts only: kept for the next transaction, or dropped
            if database_unavailable(error):
                with self._unstored_lock:
                    self._unstored.update(counts)
                return
            logger.exception("counts of refused deliveries could not be recorded")


def _stopped() -> WriterStoppedError:
    return WriterStoppedError("the intake writer is not running", retry_after=RETRY_AFTER_SECONDS)


def _one_line(error: BaseException) -> str:
    """The database's own words for ``error``, on one line."""
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split())
    return text[:300] or type(original).__name__
