"""How far a sync has read, as people and logs read it: a bar in a terminal, with the store's
total when it reports one (and the orders and pages read so far when it does not, never
``0/?``); in a log (output piped or sent to a file), plain lines with counts — one when the
sync starts reading, one at each further tenth of the total (every tenth page when there is
none), and one when it ends. A long sync's processing, which the command waits for once reading
is done, is shown the same way (``processed``)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from shoptrack.pipeline.sync import SyncProgress

__all__ = ["SyncReport", "counts"]

# Pages between two log lines when the store gives no total.
_PAGES_A_LINE = 10
_TENTHS = 10


def counts(progress: SyncProgress) -> str:
    """``120/400 orders, 3 pages``; ``120 orders, 3 pages`` when the store gives no total (or a
    second pass over orders that changed meanwhile reads more than it)."""
    pages = f"{progress.pages} page{'' if progress.pages == 1 else 's'}"
    if progress.total is not None and progress.orders <= progress.total:
        return f"{progress.orders}/{progress.total} orders, {pages}"
    return f"{progress.orders} orders, {pages}"


class SyncReport:
    """The progress of the syncs of one command, each a line of its own (``start``), told
    through ``update``; a context manager that ends the bars (or says nothing more in a log)."""

    def __init__(self, console: Console, heading: str, *, quiet: bool = False) -> None:
        self._console = console
        self._heading = heading
        self._quiet = quiet
        self._bar: Progress | None = None
        if console.is_terminal and not quiet:
            self._bar = Progress(
                TextColumn(f"{heading}: {{task.description}}"),
                BarColumn(),
                TextColumn("{task.fields[counts]}"),
                console=console,
                transient=True,
            )
        self._tasks: dict[str, TaskID] = {}
        self._logged: dict[str, tuple[int, int]] = {}  # label → (tenths, pages) last logged
        self._last: dict[str, SyncProgress] = {}
        self._processed_tenths: dict[str, int] = {}  # label → tenths last logged

    def __enter__(self) -> SyncReport:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _log(self, text: str) -> None:
        if not self._quiet and self._bar is None:
            self._console.print(
                f"{self._heading}: {text}", markup=False, highlight=False, soft_wrap=True
            )

    def start(self, label: str) -> None:
        """A sync of ``label`` begins."""
        if self._bar is not None:
            self._tasks[label] = self._bar.add_task(label, total=None, counts="starting")
        self._logged[label] = (-1, 0)
        self._log(f"{label}: starting")

    def waiting(self, label: str) -> None:
        """Another process syncs ``label`` now: this one waits for it."""
        if self._bar is not None:
            self._bar.update(self._tasks[label], description=f"{label} (another sync runs…)")
        self._log(f"{label}: waiting for the sync another process runs")

    def update(self, label: str, progress: SyncProgress) -> None:
        """What the sync of ``label`` has read so far."""
        self._last[label] = progress
        if self._bar is not None:
            self._bar.update(
                self._tasks[label],
                completed=progress.orders,
                total=progress.total,
                counts=counts(progress),
            )
            return
        tenths, pages = self._logged[label]
        if progress.total:
            now = min(progress.orders * _TENTHS // progress.total, _TENTHS)
            due = now > tenths
        else:
            now = tenths
            due = pages == 0 or progress.pages - pages >= _PAGES_A_LINE
        if due:
            self._logged[label] = (now, progress.pages)
            self._log(f"{label}: {counts(progress)}")

    def processed(self, label: str, done: int, total: int) -> None:
        """How many of the ``total`` rows the sync of ``label`` stored are processed, while
        the command waits for them (after ``done``): a bar of its own, or a line at each
        further tenth."""
        if self._bar is not None:
            key = f"{label} processed"
            if key not in self._tasks:
                self._tasks[key] = self._bar.add_task(f"{label} processing", counts="")
            self._bar.update(
                self._tasks[key],
                completed=done,
                total=total,
                counts=f"{done}/{total} rows",
                refresh=True,  # told twice a second: shown as told
            )
            return
        tenths = min(done * _TENTHS // total, _TENTHS) if total else _TENTHS
        if tenths > self._processed_tenths.get(label, -1):
            self._processed_tenths[label] = tenths
            self._log(f"{label}: processing, {done}/{total} rows processed")

    def done(self, label: str) -> None:
        """The sync of ``label`` has read everything: its bar goes, a log says what it read."""
        if self._bar is not None:
            self._bar.update(self._tasks[label], visible=False)
        last = self._last.get(label)
        self._log(f"{label}: done, " + ("no orders to read" if last is None else counts(last)))
