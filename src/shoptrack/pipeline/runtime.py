"""How a process runs shoptrack's work, built in one place: the processor with its flow hook,
the workers, and the worker processes that ``serve`` starts beside its HTTP server.

Every caller that processes the inbox — ``serve``, ``worker``, ``replay``, ``sync``, the API's
replay, the doctor's fixes, test orders — gets its processor here, so none can forget the hook
that starts flows.

``serve`` runs its workers in child processes (``shoptrack worker --wake-fd``): processing is
Python work, and sharing one interpreter with the HTTP server would take its turns away from
acknowledging deliveries. The server wakes the children through pipes whenever the intake writer
commits; a child ends when its pipe closes, so a server killed outright leaves no orphan
processing behind it; a child that ends while the server runs (killed, out of memory) is started
again. Worker processes — these children and ``shoptrack worker`` — run at a lower scheduling
priority than the server: when both are busy on one machine, a store's delivery is
acknowledged first and processing takes the cores' rest. On SQLite there are two children, each
processing its share of the inbox (``WorkerProcesses``), and they share the single writer lock
with the group-commit writer, each holding it for one transaction at a time.

A worker that starts while the database is away waits for it rather than ending: the server
acknowledges into its spool meanwhile, and the backlog is processed once the database is back.

``sync`` processes a long sync beside its reading, in worker processes of its own that only
process (``SyncProcessing``); they too end when their pipe closes, with ``sync`` or without it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

from shoptrack.flows.engine import FlowEngine
from shoptrack.flows.entry import FlowEntry
from shoptrack.pipeline.fetch import OrderFetcher
from shoptrack.pipeline.processing import BatchResult, Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.pipeline.workers import Workers
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.database import database_unavailable
from shoptrack.store.inbox import InboxShare

__all__ = [
    "SyncProcessing",
    "WorkerProcess",
    "WorkerProcesses",
    "build_processor",
    "build_workers",
    "freeze_start_up_objects",
    "process_inbox",
    "process_when_woken",
    "upgrade_when_reachable",
    "wake_reader",
]

logger = logging.getLogger(__name__)

# How long a stopping server waits for its worker process to finish its transaction.
_STOP_SECONDS = 30.0
# How often ``sync`` asks whether its worker processes have processed its rows, and says how far
# they are (seconds).
_WAITING_EVERY = 0.5
# Waits before a worker process that ended is started again, and before a starting worker asks
# an unreachable database again: doubling from the first to the last (seconds).
_RETRY_FIRST = 1.0
_RETRY_MOST = 30.0
# A worker process that ran this long before it ended is started again after the first wait.
_RAN_WELL = 60.0
# Worker processes one of which ended this many times in a row, each soon after it started (a
# child that cannot start: a broken install, settings only the parent can read), are failing:
# serve's ``/health`` says so, and ``sync`` processes the rest itself rather than wait for them.
_FAILING_AFTER = 3
# How much lower a worker process's scheduling priority is than that of the process that
# started it (niceness added): with a server on the same machine busy too, the cores go to
# acknowledging deliveries first — a store waits for that answer — and processing takes the
# rest; on an idle machine, or one of its own, it changes nothing.
_WORKER_NICENESS = 5
# serve's worker processes on SQLite, each with its share of the inbox (``WorkerProcesses``).
_SQLITE_WORKER_PROCESSES = 2
# The new rows a sync stores before it starts worker processes beside it (``SyncProcessing``):
# starting one takes about as much CPU as processing a thousand rows.
_SYNC_PROCESSES_AFTER = 1_000


def lower_priority() -> None:
    """Lowers this worker process's scheduling priority below the server's (``serve``'s own
    worker process and ``shoptrack worker`` alike)."""
    with contextlib.suppress(OSError):  # a platform or sandbox that refuses: the same work
        os.nice(_WORKER_NICENESS)


def build_processor(services: Services, share: InboxShare | None = None) -> Processor:
    """The inbox processor (of ``share`` of the rows, when given), with the hook that starts
    the flows its events trigger."""
    return Processor(
        services.database, services.clock, on_recorded=FlowEntry(services.clock), share=share
    )


def freeze_start_up_objects() -> None:
    """Leaves what a command's start-up allocated out of the cyclic garbage collector's passes.

    A long-running process (``serve``, ``worker``, ``sync``) holds for its whole life the
    objects its start-up made — modules, the schema, the structures pydantic, FastAPI and
    SQLAlchemy compile — and each full collection would walk them all again. Frozen, collections
    walk only what the work allocates: about a fifth less CPU per processed row, measured on
    SQLite. Called once by the commands, never by an app factory: a test process builds many
    apps, whose frozen objects would never be collected.
    """
    gc.collect()
    gc.freeze()


def process_inbox(services: Services) -> BatchResult:
    """Processes every due inbox row now (commands, replays, the doctor's fixes)."""
    return build_processor(services).run_until_idle()


def build_workers(services: Services, share: InboxShare | None = None) -> Workers:
    """Every background loop of a process: processing (of ``share`` of the inbox, when given),
    syncs, order fetches, flows, the watchdog and maintenance."""
    # The watchdog runs the doctor, whose fixes use this module: imported here, not at the top.
    from shoptrack.alerts import Watchdog  # noqa: PLC0415  # see above

    return Workers(
        services.database,
        services.clock,
        build_processor(services, share),
        syncer=Syncer(services),
        fetcher=OrderFetcher(services),
        flows=FlowEngine.from_services(services),
        watchdog=Watchdog.from_services(services),
    )


def upgrade_when_reachable(services: Services, stop: threading.Event) -> bool:
    """Brings the schema up to date, waiting while the database cannot be reached (a worker
    started during an outage, or before its database); False when ``stop`` was set first."""
    wait = _RETRY_FIRST
    while not stop.is_set():
        try:
            services.upgrade()
        except Exception as error:
            if not database_unavailable(error):
                raise
            logger.warning(
                "the database cannot be reached (%s); asking again in %.0f s", error, wait
            )
            stop.wait(wait)
            wait = min(wait * 2, _RETRY_MOST)
            continue
        return True
    return False


class WorkerProcess:
    """One of ``serve``'s worker processes (processing ``share`` of the inbox, when given),
    woken through a pipe, and started again if it ends while the server runs.

    With ``processing_only``, one of ``sync``'s instead (``process_when_woken``): it only
    processes, at full speed whenever woken, in a process group of its own — Ctrl-C at the
    terminal reaches ``sync``, which ends it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        share: InboxShare | None = None,
        processing_only: bool = False,
        retry_first: float = _RETRY_FIRST,
        ran_well: float = _RAN_WELL,
    ) -> None:
        self._settings = settings
        self._share = share
        self._processing_only = processing_only
        self._retry_first = retry_first
        self._ran_well = ran_well
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._wake_fd: int | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._ended_soon = 0  # times in a row the child ended before it ran well

    @property
    def ended_soon(self) -> int:
        """How many times in a row the child ended soon after it started."""
        return self._ended_soon

    def start(self) -> None:
        if self._supervisor is not None:
            return
        self._stopping.clear()
        self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name="shoptrack-worker-process", daemon=True
        )
        self._supervisor.start()

    def _spawn(self) -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        command = [sys.executable, "-m", "shoptrack", "worker", "--wake-fd", str(read_end)]
        if self._share is not None:
            command += ["--inbox-share", str(self._share)]
        if self._processing_only:
            command.append("--only-processing")
        try:
            process = subprocess.Popen(  # noqa: S603  # this interpreter, shoptrack's own command
                command,
                env=_child_environment(self._settings),
                pass_fds=(read_end,),
                process_group=0 if self._processing_only else None,
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        with self._lock:
            if self._stopping.is_set():  # stopped meanwhile: this child ends at the closed pipe
                os.close(write_end)
                return
            self._process, self._wake_fd = process, write_end
        # Rows committed before this child could be woken are due now.
        self.wake()

    def _supervise(self) -> None:
        """Waits for the child; if it ends while the server runs, starts another after a wait
        that doubles while children keep ending soon after they start."""
        wait = self._retry_first
        while not self._stopping.is_set():
            with self._lock:
                process = self._process
            if process is None:
                return
            try:
                code = process.wait(timeout=self._ran_well)
            except subprocess.TimeoutExpired:
                # It runs well: whatever ended before it is forgotten, now.
                wait = self._retry_first
                self._ended_soon = 0
                code = process.wait()
            else:
                self._ended_soon += 1
            if self._stopping.is_set():
                return
            logger.warning(
                "the worker process ended (exit status %s); starting it again in %.0f s", code, wait
            )
            self._close_pipe()
            if self._stopping.wait(wait):
                return
            wait = min(wait * 2, _RETRY_MOST)
            try:
                self._spawn()
            except OSError:
                logger.exception("the worker process could not be started; trying again")

    def wake(self) -> None:
        """Tells the child that rows were committed (never blocks: a full pipe is awake)."""
        with self._lock:
            if self._wake_fd is not None:
                with contextlib.suppress(BlockingIOError, BrokenPipeError):
                    os.write(self._wake_fd, b"\0")

    def _close_pipe(self) -> None:
        with self._lock:
            if self._wake_fd is not None:
                os.close(self._wake_fd)
                self._wake_fd = None

    def end(self) -> None:
        """Closes the pipe: the child finishes its transaction and ends."""
        self._stopping.set()
        self._close_pipe()

    def terminate(self) -> None:
        """Ends the child now (SIGTERM): its transaction is rolled back, and its rows wait for
        the next processor."""
        with self._lock:
            process = self._process
        if process is not None:
            process.terminate()

    def stop(self, *, at_once: bool = False) -> None:
        """Closes the pipe (``end``) and waits for the child — ``at_once``, ends it first. The
        child is forgotten only once it has ended: after an exception while waiting (Ctrl-C),
        ``stop(at_once=True)`` still ends it."""
        self.end()
        if at_once:
            self.terminate()
        with self._lock:
            process = self._process
        if process is not None:
            try:
                process.wait(timeout=_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("the worker process did not stop in time; killing it")
                process.kill()
                process.wait()
            with self._lock:
                self._process = None
        if self._supervisor is not None:
            self._supervisor.join(timeout=_STOP_SECONDS)
            self._supervisor = None


class WorkerProcesses:
    """``serve``'s worker processes: on SQLite one for each of two shares of the inbox (on a
    machine with a core for each), elsewhere one.

    SQLite's processing holds the write lock about two thirds of its time and spends the rest
    reading its next rows and working them out: with two processes, one works its block out
    while the other writes, in the order one process would write them (``InboxShare``), and
    the backlog a burst leaves is processed faster; a third would only wait for the lock. On
    PostgreSQL, more processing is more ``shoptrack worker`` processes, on any machine.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        processing_only: bool = False,
        retry_first: float = _RETRY_FIRST,
    ) -> None:
        count = min(_SQLITE_WORKER_PROCESSES, _cores()) if settings.is_sqlite else 1
        shares = [InboxShare(index, count) for index in range(count)] if count > 1 else [None]
        self._processes = [
            WorkerProcess(
                settings, share=share, processing_only=processing_only, retry_first=retry_first
            )
            for share in shares
        ]

    def start(self) -> None:
        for process in self._processes:
            process.start()

    def wake(self) -> None:
        """Tells every worker process that rows were committed."""
        for process in self._processes:
            process.wake()

    def failing(self) -> str | None:
        """Why they do not process, while one keeps ending soon after it starts; else None."""
        ended = max(process.ended_soon for process in self._processes)
        if ended < _FAILING_AFTER:
            return None
        return (
            f"a worker process ended {ended} times in a row soon after it started: deliveries "
            "are taken in but not processed (the log says why it ends)"
        )

    def stop(self, *, at_once: bool = False) -> None:
        """Tells every worker process to end (``at_once``: ends them all now), then waits for
        each."""
        for process in self._processes:
            process.end()
            if at_once:
                process.terminate()
        for process in self._processes:
            process.stop()


class SyncProcessing:
    """``sync``'s processing beside its reading: worker processes that only process
    (``processing_only``; on SQLite one for each of two shares of the inbox, as ``serve``'s),
    started once the sync has stored ``start_after`` new rows (with those ``waiting`` when it
    started) — a small sync is processed in its own process sooner than processes start — and
    woken at each stored page. ``finish`` waits until the sync's rows are processed, then ends
    them.

    A backfill of 200,000 orders stores its pages for minutes: processing beside it, on the
    other core, brings it to its last Placed Order sooner than reading everything first
    (``bench/backfill.py``). A context manager: leaving it by an exception (Ctrl-C) ends the
    processes at once. A ``sync`` that dies outright closes their pipes, and they end after the
    batch they are writing.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        waiting: int = 0,
        start_after: int = _SYNC_PROCESSES_AFTER,
        retry_first: float = _RETRY_FIRST,
    ) -> None:
        self._settings = settings
        self._waiting = waiting
        self._start_after = start_after
        self._retry_first = retry_first
        self._processes: WorkerProcesses | None = None

    @property
    def started(self) -> bool:
        """Whether worker processes were started (the sync stored enough new rows)."""
        return self._processes is not None

    def stored(self, rows: int) -> None:
        """The sync has stored ``rows`` new to the inbox in all so far, each page committed as
        read. Orders stored already, as in a repeated backfill, do not count — but for the
        integration's rows that were ``waiting`` when it started (an interrupted sync's)."""
        if self._processes is None:
            if self._waiting + rows < self._start_after:
                return
            self._processes = WorkerProcesses(
                self._settings, processing_only=True, retry_first=self._retry_first
            )
            self._processes.start()  # a started child is woken for what is already there
            logger.info("%d rows to process: processing them beside the sync", self._waiting + rows)
            return
        self._processes.wake()

    def finish(self, done: Callable[[], bool], waiting: Callable[[], None] | None = None) -> None:
        """Once the sync has read everything: asks ``done`` every ``_WAITING_EVERY`` seconds
        (are the sync's rows processed, but for those waiting to be retried?), telling
        ``waiting`` meanwhile (progress), then ends the worker processes — sooner if one keeps
        ending soon after it starts. Rows the processes left are the caller's to process."""
        if self._processes is None:
            return
        while not done():
            if self._processes.failing() is not None:
                logger.warning(
                    "the sync's worker processes keep ending soon after they start (see above):"
                    " the sync processes the rest of its rows itself"
                )
                break
            if waiting is not None:
                waiting()
            time.sleep(_WAITING_EVERY)
        self._processes.stop()
        self._processes = None

    def __enter__(self) -> SyncProcessing:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._processes is not None:
            self._processes.stop(at_once=error is not None)
            self._processes = None


def process_when_woken(services: Services, share: InboxShare | None, wake_fd: int) -> None:
    """The loop of one of ``sync``'s worker processes: processes due rows in full batches each
    time it is woken through ``wake_fd`` (a page was stored) until none is due — with
    ``share``, its share's first, as ``serve``'s workers do — and ends after the batch it is
    writing once the pipe closes (``sync`` ended, or died).

    Unlike ``serve``'s workers it takes no turns and runs no other work: flows, syncs and the
    watchdog are ``serve``'s and ``worker``'s.
    """
    processor = build_processor(services, share)
    woken = threading.Event()
    closed = threading.Event()
    wake_reader(wake_fd, woken.set, closed)
    while not closed.is_set():
        woken.wait()
        woken.clear()
        while not closed.is_set() and processor.run_once(interrupted=closed.is_set).claimed:
            pass


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with its settings as they are (a demo or a test may have
    changed them after reading the environment)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SHOPTRACK_")}
    return inherited | settings.environment()


def wake_reader(fd: int, wake: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """A thread that calls ``wake`` for each read from ``fd`` and sets ``stop`` when the
    writing end is closed (the server stopped, or died) — then calls ``wake`` once more, for a
    loop that sleeps until woken to see it."""

    def read() -> None:
        try:
            while os.read(fd, 4096):
                wake()
        except OSError:
            logger.warning("the wake-up pipe from the server broke")
        stop.set()
        wake()

    thread = threading.Thread(target=read, name="shoptrack-wake", daemon=True)
    thread.start()
    return thread
