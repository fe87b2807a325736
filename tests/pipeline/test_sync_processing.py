"""``SyncProcessing``: a sync's worker processes process each page while the sync reads the
next, start only once it has stored enough new rows, and end when it finishes — or when they
cannot start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shoptrack.clock import FrozenClock
from shoptrack.integrations import connect
from shoptrack.pipeline.runtime import SyncProcessing, WorkerProcess, process_inbox
from shoptrack.pipeline.sync import Syncer, SyncProgress
from shoptrack.services import Services
from shoptrack.simulators import WooCommerceSimulator
from shoptrack.simulators.serving import serving
from shoptrack.testing import Shop, make_shop, woo_order
from tests.conftest import START
from tests.helpers import event_counts, inbox_states, store_backfill
from tests.processes import shoptrack_for_children, wait_until

pytestmark = pytest.mark.slow

PAGE = 50


@pytest.fixture
def clock() -> FrozenClock:
    # Near the real time: the store checks OAuth timestamps against its own clock.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _store_page(services: Services, shop: Shop, first: int) -> None:
    """A page of backfilled orders, as a sync stores it."""
    store_backfill(services, shop, (woo_order(first + n, "processing", START) for n in range(PAGE)))


def _started(processing: SyncProcessing) -> bool:
    return processing.started  # read anew each time (a property mypy would take as settled)


def _processed(services: Services) -> int:
    return inbox_states(services).get("processed", 0)


def test_pages_are_processed_while_the_sync_reads_the_next(services: Services) -> None:
    shop = make_shop(services)
    with SyncProcessing(services.settings, start_after=2 * PAGE) as processing:
        _store_page(services, shop, 0)
        processing.stored(PAGE)
        assert not _started(processing)  # too few to be worth a process

        _store_page(services, shop, PAGE)
        processing.stored(2 * PAGE)
        assert _started(processing)
        # Processed before the sync stores another page: beside its reading.
        wait_until(lambda: _processed(services) == 2 * PAGE)

        _store_page(services, shop, 2 * PAGE)
        processing.stored(3 * PAGE)  # wakes them
        wait_until(lambda: _processed(services) == 3 * PAGE)

        processing.finish(done=lambda: _processed(services) == 3 * PAGE)
        assert not _started(processing)
    assert inbox_states(services) == {"processed": 3 * PAGE}
    assert event_counts(services, shop.account_id)["Placed Order"] == 3 * PAGE


def test_a_sync_gives_up_on_processes_that_cannot_start(
    services: Services,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A child whose shoptrack cannot start (here: a broken package first on its path) ends at
    # once each time it is started again: the sync stops waiting for it and processes itself.
    monkeypatch.setenv("PYTHONPATH", shoptrack_for_children(tmp_path, "raise SystemExit(3)\n"))
    shop = make_shop(services)
    with SyncProcessing(services.settings, start_after=PAGE, retry_first=0.01) as processing:
        _store_page(services, shop, 0)
        processing.stored(PAGE)
        assert _started(processing)
        processing.finish(done=lambda: _processed(services) == PAGE)
        assert not _started(processing)
    assert _processed(services) == 0  # nothing was processed by the broken children
    assert "keep ending soon after they start" in caplog.text
    process_inbox(services)  # what `shoptrack sync` does next
    assert inbox_states(services) == {"processed": PAGE}


def test_a_sync_tells_how_many_of_the_orders_it_read_were_new(
    services: Services, clock: FrozenClock
) -> None:
    # What starts the processes: a repeated backfill reads every order again but stores none.
    shop = make_shop(services)
    store = WooCommerceSimulator(clock=clock.now)
    store.add_orders(5, statuses=("processing",), interval=timedelta(hours=1))
    clock.advance(timedelta(minutes=1))  # a sync reads what changed before it started
    with serving(store.app) as base_url:
        integration = connect(
            services,
            account_id=shop.account_id,
            platform="woocommerce",
            name="Again",
            credentials=store.credentials(base_url),
        ).integration
        syncer = Syncer(services)
        for written in (5, 0):
            progress: list[SyncProgress] = []
            syncer.run(shop.account_id, integration.id, backfill_days=30, progress=progress.append)
            assert (progress[-1].orders, progress[-1].written) == (5, written)


def test_a_worker_process_that_runs_well_is_no_longer_counted_as_ending_soon(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A child that ends at its first three starts, then runs until its pipe closes.
    starts = tmp_path / "starts"
    main = (
        "import os, pathlib, sys\n"
        f"starts = pathlib.Path({str(starts)!r})\n"
        "with starts.open('a') as file:\n"
        "    file.write('.')\n"
        "if len(starts.read_text()) <= 3:\n"
        "    sys.exit(3)\n"
        "fd = int(sys.argv[sys.argv.index('--wake-fd') + 1])\n"
        "while os.read(fd, 4096):\n"
        "    pass\n"
    )
    monkeypatch.setenv("PYTHONPATH", shoptrack_for_children(tmp_path, main))
    # "Soon" is 3 s: long enough for the first three to end within it on a loaded machine.
    process = WorkerProcess(services.settings, processing_only=True, retry_first=0.01, ran_well=3)
    process.start()
    try:
        wait_until(lambda: process.ended_soon == 3)
        wait_until(lambda: process.ended_soon == 0)  # the fourth has run well
        assert len(starts.read_text()) == 4
    finally:
        process.stop()


def test_rows_an_interrupted_sync_left_count_towards_starting_processes(
    services: Services,
) -> None:
    shop = make_shop(services)
    _store_page(services, shop, 0)  # left by a sync that was interrupted
    with SyncProcessing(services.settings, waiting=PAGE, start_after=2 * PAGE) as processing:
        _store_page(services, shop, PAGE)
        processing.stored(PAGE)
        assert _started(processing)
        processing.finish(done=lambda: _processed(services) == 2 * PAGE)
    assert inbox_states(services) == {"processed": 2 * PAGE}
