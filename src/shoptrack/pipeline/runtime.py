"""How a process runs shoptrack's work, built in one place: the processor with its flow hook,
the workers, and the worker process that ``serve`` starts beside its HTTP server.

Every caller that processes the inbox — ``serve``, ``worker``, ``replay``, ``sync``, the API's
replay, the doctor's fixes, test orders — gets its processor here, so none can forget the hook
that starts flows.

``serve`` runs its workers in a child process (``shoptrack worker --wake-fd``): processing is
Python work, and sharing one interpreter with the HTTP server would take its turns away from
acknowledging deliveries. The server wakes the child through a pipe whenever the intake writer
commits; the child ends when the pipe closes, so a server killed outright leaves no orphan
processing behind it. On SQLite the two processes share the single writer lock: the group-commit
writer and the processor take turns, each holding it for one transaction at a time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading

from shoptrack.flows.engine import FlowEngine
from shoptrack.flows.entry import FlowEntry
from shoptrack.pipeline.fetch import OrderFetcher
from shoptrack.pipeline.processing import BatchResult, Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.pipeline.workers import Workers
from shoptrack.services import Services
from shoptrack.settings import Settings

__all__ = ["WorkerProcess", "build_processor", "build_workers", "process_inbox", "wake_reader"]

logger = logging.getLogger(__name__)

# How long a stopping server waits for its worker process to finish its transaction.
_STOP_SECONDS = 30.0


def build_processor(services: Services) -> Processor:
    """The inbox processor, with the hook that starts the flows its events trigger."""
    return Processor(services.database, services.clock, on_recorded=FlowEntry(services.clock))


def process_inbox(services: Services) -> BatchResult:
    """Processes every due inbox row now (commands, replays, the doctor's fixes)."""
    return build_processor(services).run_until_idle()


def build_workers(services: Services) -> Workers:
    """Every background loop of a process: processing, syncs, order fetches, flows, the
    watchdog and maintenance."""
    # The watchdog runs the doctor, whose fixes use this module: imported here, not at the top.
    from shoptrack.alerts import Watchdog  # noqa: PLC0415  # see above

    return Workers(
        services.database,
        services.clock,
        build_processor(services),
        syncer=Syncer(services),
        fetcher=OrderFetcher(services),
        flows=FlowEngine.from_services(services),
        watchdog=Watchdog.from_services(services),
    )


class WorkerProcess:
    """``serve``'s workers, in a child process woken through a pipe."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._wake_fd: int | None = None

    def start(self) -> None:
        if self._process is not None:
            return
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        self._process = subprocess.Popen(  # noqa: S603  # this interpreter, shoptrack's own command
            [sys.executable, "-m", "shoptrack", "worker", "--wake-fd", str(read_end)],
            env=_child_environment(self._settings),
            pass_fds=(read_end,),
        )
        os.close(read_end)
        self._wake_fd = write_end

    def wake(self) -> None:
        """Tells the child that rows were committed (never blocks: a full pipe is awake)."""
        if self._wake_fd is not None:
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(self._wake_fd, b"\0")

    def stop(self) -> None:
        """Closes the pipe — the child finishes its transaction and ends — and waits for it."""
        if self._wake_fd is not None:
            os.close(self._wake_fd)
            self._wake_fd = None
        if self._process is None:
            return
        try:
            self._process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("the worker process did not stop in time; killing it")
            self._process.kill()
            self._process.wait()
        self._process = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid


def _child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with its settings as they are (a demo or a test may have
    changed them after reading the environment)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SHOPTRACK_")}
    return inherited | settings.environment()


def wake_reader(fd: int, workers: Workers, stop: threading.Event) -> threading.Thread:
    """A thread that wakes ``workers`` for each byte read from ``fd`` and sets ``stop`` when
    the writing end is closed (the server stopped, or died)."""

    def read() -> None:
        try:
            while os.read(fd, 4096):
                workers.wake()
        except OSError:
            logger.warning("the wake-up pipe from the server broke")
        stop.set()

    thread = threading.Thread(target=read, name="shoptrack-wake", daemon=True)
    thread.start()
    return thread
