"""The per-process group-commit writer of the intake path.

Request handlers hand it inbox entries and wait; one thread writes whatever has queued up in a
single transaction and resolves every waiting handler once that transaction is committed, so
under load many deliveries share one commit (one fsync on SQLite, one round of WAL flush on
PostgreSQL) while an idle server still answers at once. If a batch fails, its entries are written
again one transaction each, so one bad row never fails its batch-mates. Refusals that are not
stored (past the integration's limit) are counted, and the counts written in a transaction of
their own.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy import Connection

from shoptrack.clock import Clock
from shoptrack.errors import ShoptrackError
from shoptrack.store.database import Database
from shoptrack.store.inbox import InboxEntry, write_entries, write_entry
from shoptrack.store.rejections import UnstoredKey, add_unstored

__all__ = ["GroupCommitWriter", "WriterStoppedError"]

logger = logging.getLogger(__name__)

INBOX_CHANNEL = "shoptrack_inbox"


class WriterStoppedError(ShoptrackError):
    """The writer is not running, so nothing can be acknowledged."""

    code = "unavailable"
    status = 503
    title = "Service unavailable."


class _Signal(enum.Enum):
    STOP = "stop"
    WAKE = "wake"  # counts of unstored refusals wait to be written


@dataclass(slots=True)
class _Pending:
    entry: InboxEntry
    future: Future[bool]


class GroupCommitWriter:
    """Writes inbox entries in group commits; ``write()`` resolves to False for a duplicate."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        max_batch: int = 500,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | _Signal] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Entries handed over before start() wait for it; after stop() they are refused.
        self._accepting = True
        self.batches_committed = 0
        # Refusals not stored, by integration and verdict, until a transaction records them.
        self._unstored: Counter[UnstoredKey] = Counter()
        self._unstored_lock = threading.Lock()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="shoptrack-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Writes what has been handed over, then stops."""
        self._accepting = False
        if self._thread is None:
            return
        self._queue.put(_Signal.STOP)
        self._thread.join()
        self._thread = None

    def submit(self, entry: InboxEntry) -> Future[bool]:
        future: Future[bool] = Future()
        if not self._accepting:
            future.set_exception(WriterStoppedError("the intake writer is not running"))
            return future
        self._queue.put(_Pending(entry, future))
        return future

    async def write(self, entry: InboxEntry) -> bool:
        """Stores the entry; returns once it is committed (False: a duplicate, nothing added)."""
        return await asyncio.wrap_future(self.submit(entry))

    def count_unstored(self, integration_id: str, verdict: str) -> None:
        """Counts a refused delivery that is not stored; written with the next transaction."""
        with self._unstored_lock:
            first = not self._unstored
            self._unstored[(integration_id, verdict)] += 1
        if first:
            self._queue.put(_Signal.WAKE)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch: list[_Pending] = []
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
            if batch:
                self._write(batch)
            self._flush_unstored()

    def _write(self, batch: list[_Pending]) -> None:
        now = self._clock.now()
        try:
            with self._database.write() as connection:
                results = write_entries(connection, [p.entry for p in batch], now)
                self._notify(connection)
        except Exception:  # a failed batch is retried entry by entry below
            logger.exception(
                "group commit of %d entries failed; writing them one by one", len(batch)
            )
            self._write_one_by_one(batch)
            return
        self.batches_committed += 1
        for pending, inserted in zip(batch, results, strict=True):
            pending.future.set_result(inserted)
        if self._on_commit is not None:
            self._on_commit()

    def _write_one_by_one(self, batch: list[_Pending]) -> None:
        for pending in batch:
            try:
                with self._database.write() as connection:
                    inserted = write_entry(connection, pending.entry, self._clock.now())
                    self._notify(connection)
            except Exception as error:  # noqa: BLE001  # this entry alone is refused; its handler answers with an error
                pending.future.set_exception(error)
            else:
                pending.future.set_result(inserted)
        if self._on_commit is not None:
            self._on_commit()

    def _notify(self, connection: Connection) -> None:
        self._database.notify(connection, INBOX_CHANNEL)

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
        except Exception:  # counts only: logged and dropped, never a reason to stop the writer
            logger.exception("counts of refused deliveries could not be recorded")
