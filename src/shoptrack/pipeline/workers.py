"""The background loops of a process: processing the inbox, running due syncs and order
fetches, and keeping the schema maintained.

``serve`` runs them in processes of their own beside the HTTP server (two on SQLite, each
processing its share of the inbox); on PostgreSQL ``worker`` processes run them too, on any
number of machines. Workers sleep until woken: by the intake
writer of their ``serve`` at each commit, across machines by PostgreSQL ``LISTEN/NOTIFY``, and
otherwise after ``idle_wait`` seconds — a notification only hurries them, the rows are the record.

While intake commits, processing takes bounded turns (``IntakeTurns``): a small batch, then a
pause ten times as long as its write transaction held the database, so that acknowledging
keeps its pace during a burst; the backlog is processed at full speed once intake is quiet. On
SQLite the intake writer and the processor share the one write lock, handed over in turn (the
write queue of ``store/database.py``), and a delivery waits for at most one small batch. On
PostgreSQL workers learn of intake's commits by their notifications; the turns leave the
database server (and the cores of a machine shared with ``serve``) to acknowledging first —
measured with ``bench/intake.py``, a worker processing flat out halved what ``serve``
acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import psycopg

from shoptrack.clock import Clock
from shoptrack.flows.engine import FlowEngine
from shoptrack.pipeline.fetch import OrderFetcher
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import SyncBusyError, Syncer
from shoptrack.pipeline.writer import INBOX_CHANNEL
from shoptrack.store.database import Database
from shoptrack.store.inbox import REJECTED_KEPT, prune_rejected
from shoptrack.store.integrations import find_integration
from shoptrack.store.partitions import ensure_event_partitions
from shoptrack.store.sync_runs import due_integrations

__all__ = ["IntakeTurns", "Workers"]

logger = logging.getLogger(__name__)

MAINTENANCE_EVERY = timedelta(hours=6)


class IntakeTurns:
    """How processing shares the database (SQLite's write lock, PostgreSQL's server) with
    intake: while intake is committing, in turns of at most ``rows`` rows, each followed by a
    pause of ``pause_factor`` times as long as the turn's write transaction took (on SQLite a
    turn parses its rows before that, holding nothing); otherwise in full batches, no pause.

    Measured with ``bench/intake.py`` on 2 cores: with full batches (200 rows) the processor
    held the lock for up to 500 ms at a time and the intake writer waited for it most of a burst,
    acknowledging about a third of what ``serve --no-workers`` does.
    """

    # Intake counts as committing for this long after its last commit (seconds): under load it
    # commits every few milliseconds.
    active_for = 0.05
    rows = 50
    # During a burst on SQLite the intake writer alone holds the lock about three quarters of
    # the time (2 cores, bench/intake.py): with turns handed over in order, a pause twice the
    # turn gave processing a third of the lock and cost acknowledging a third; six times left
    # it about a seventh. Since SQLite's processor works a batch out before it takes the lock,
    # a turn holds it a quarter less for the same rows, and with six times processing took more
    # of the cores during a burst: ten times acknowledged 1.1 times as much at the same
    # sustained rate (3 alternating runs of each). Workers on PostgreSQL take the same turns.
    pause_factor = 10.0

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._committed_at: float | None = None

    def intake_committed(self) -> None:
        self._committed_at = self._monotonic()

    def turn(self) -> int | None:
        """The rows the next batch may take: ``rows`` while intake commits, else None (all)."""
        if self._committed_at is None:
            return None
        return self.rows if self._monotonic() - self._committed_at < self.active_for else None

    def pause(self, writing_seconds: float) -> float:
        """How long to leave the lock to intake after a turn whose write transaction took
        ``writing_seconds``."""
        return self.pause_factor * writing_seconds


class ScheduledRun(Protocol):
    """Work that runs when its own schedule says so (the watchdog, ``shoptrack.alerts``)."""

    def run_if_due(self) -> object: ...


class Workers:
    """Starts and stops the worker threads of one process."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        processor: Processor,
        *,
        syncer: Syncer | None = None,
        fetcher: OrderFetcher | None = None,
        flows: FlowEngine | None = None,
        watchdog: ScheduledRun | None = None,
        processing_threads: int | None = None,
        idle_wait: float = 1.0,
        sync_check_every: float = 5.0,
        watch_check_every: float = 30.0,
    ) -> None:
        self._database = database
        self._clock = clock
        self._processor = processor
        # SQLite has one writer: a second processing thread would only wait for the lock.
        self._processing_threads = processing_threads or (1 if database.is_sqlite else 2)
        self._idle_wait = idle_wait
        self._syncer = syncer
        self._fetcher = fetcher
        self._flows = flows
        self._watchdog = watchdog
        self._watch_check_every = watch_check_every
        # Set when processing recorded events (flows may have been entered), and idle rounds.
        self._flows_wake = threading.Event()
        self._sync_check_every = sync_check_every
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_maintenance: datetime | None = None
        self._turns = IntakeTurns()

    def failing(self) -> None:
        """Never: a round that fails is logged, and the next one runs (``WorkerProcesses`` may
        fail to start)."""

    def wake(self) -> None:
        """Intake committed rows: process them, in turns while intake goes on."""
        self._turns.intake_committed()
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        loops: list[tuple[str, Callable[[], None]]] = [
            (f"shoptrack-processing-{n}", self._processing_loop)
            for n in range(self._processing_threads)
        ]
        loops.append(("shoptrack-maintenance", self._maintenance_loop))
        if self._syncer is not None:
            loops.append(("shoptrack-sync", self._sync_loop))
        if self._fetcher is not None:
            loops.append(("shoptrack-fetch", self._fetch_loop))
        if self._flows is not None:
            loops.append(("shoptrack-flows", self._flows_loop))
        if self._watchdog is not None:
            loops.append(("shoptrack-watchdog", self._watch_loop))
        if not self._database.is_sqlite:
            loops.append(("shoptrack-listen", self._listen_loop))
        for name, target in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._flows_wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def _processing_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                turn = self._turns.turn()
                if turn is not None and not self._processor.takes_turns:
                    # One process takes the turns, whatever the rows' shares: two would give
                    # processing twice the lock during a burst (one writing as the other pauses).
                    self._stop.wait(self._turns.active_for)
                    continue
                batch = self._processor.run_once(
                    limit=turn, shared=turn is None, interrupted=self._stop_waiting
                )
                if turn is not None and batch.claimed:
                    self._stop.wait(self._turns.pause(batch.writing))
                claimed = batch.claimed
                failures = 0
                if batch.recorded:
                    self._flows_wake.set()  # committed: runs it started are due now
            except Exception:  # the database may be briefly away; the loop must outlive it
                failures += 1
                logger.exception("processing batch failed")
                self._stop.wait(min(2.0**failures, 30.0))
                continue
            if claimed == 0:
                self._wake.wait(self._idle_wait)
                self._wake.clear()

    def _stop_waiting(self) -> bool:
        """Whether a processor waiting for another share's rows stops waiting: this worker
        stops, or intake commits (its turns are taken whatever the rows' shares)."""
        return self._stop.is_set() or self._turns.turn() is not None

    def _flows_loop(self) -> None:
        """Takes due flow steps; sleeps until processing records events or ``idle_wait`` passes
        (a delay's end is found by the next idle round)."""
        engine = self._flows
        if engine is None:
            return
        failures = 0
        while not self._stop.is_set():
            try:
                claimed = engine.run_once().claimed
                failures = 0
            except Exception:  # the database may be briefly away; the loop must outlive it
                failures += 1
                logger.exception("flow steps failed")
                self._stop.wait(min(2.0**failures, 30.0))
                continue
            if claimed == 0:
                self._flows_wake.wait(self._idle_wait)
                self._flows_wake.clear()

    def run_due_syncs(self) -> int:
        """Runs every sync that is due now, one after another; returns how many ran."""
        if self._syncer is None:
            return 0
        with self._database.read() as connection:
            due = due_integrations(connection, self._clock.now())
            targets = [find_integration(connection, integration_id) for integration_id in due]
        ran = 0
        for integration in targets:
            if integration is None:
                continue
            try:
                self._syncer.run(integration.account_id, integration.id)
                ran += 1
            except SyncBusyError:
                continue  # another process took it between the query and the lease
        if ran:
            self._wake.set()  # what the syncs stored is waiting to be processed
        return ran

    def run_due_fetches(self) -> int:
        """Fetches every order that webhooks named and that is due now; returns how many new
        inbox rows that stored."""
        if self._fetcher is None:
            return 0
        stored = 0
        while batch := self._fetcher.run_due():
            stored += batch
        if stored:
            self._wake.set()
        return stored

    def _fetch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due_fetches()
            except Exception:  # one failed round must not end the loop
                logger.exception("order fetches failed")
            self._stop.wait(self._idle_wait)

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due_syncs()
            except Exception:  # one failed round must not end the loop
                logger.exception("scheduled syncs failed")
            self._stop.wait(self._sync_check_every)

    def _watch_loop(self) -> None:
        """Asks the watchdog whether its run is due (its schedule and lease are rows: one run
        at a time across processes)."""
        watchdog = self._watchdog
        if watchdog is None:
            return
        while not self._stop.is_set():
            try:
                watchdog.run_if_due()
            except Exception:  # one failed run must not end the loop; the next one retries
                logger.exception("the watchdog's run failed")
            self._stop.wait(self._watch_check_every)

    def _maintenance_loop(self) -> None:
        while not self._stop.is_set():
            now = self._clock.now()
            if self._last_maintenance is None or now - self._last_maintenance >= MAINTENANCE_EVERY:
                try:
                    with self._database.write() as connection:
                        ensure_event_partitions(connection, now)
                        prune_rejected(connection, now - REJECTED_KEPT)
                    self._last_maintenance = now
                except Exception:  # retried on the next round
                    logger.exception("maintenance failed")
            self._stop.wait(60)

    def _listen_loop(self) -> None:
        url = self._database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {INBOX_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except psycopg.Error:
                logger.warning("LISTEN connection lost; workers fall back on polling for now")
                self._stop.wait(5)
