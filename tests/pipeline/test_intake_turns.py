"""Processing shares SQLite's write lock with intake in bounded turns while intake commits."""

from __future__ import annotations

import pytest

from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.workers import IntakeTurns
from shoptrack.services import Services
from shoptrack.testing import make_shop, woo_order
from tests.conftest import START
from tests.helpers import deliver, inbox_states


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_processing_takes_small_turns_only_while_intake_commits() -> None:
    monotonic = Monotonic()
    turns = IntakeTurns(monotonic)
    assert turns.turn() is None  # no intake yet: whole batches

    turns.intake_committed()
    monotonic.now += turns.active_for / 2
    assert turns.turn() == turns.rows
    # Each turn leaves the lock to intake for twice as long as it held it.
    assert turns.pause(0.02) == pytest.approx(0.04)

    monotonic.now += turns.active_for
    assert turns.turn() is None  # intake went quiet: the backlog at full speed


def test_a_turn_takes_no_more_rows_than_its_limit(services: Services) -> None:
    shop = make_shop(services)
    for n in range(5):
        deliver(services, shop, woo_order(n, "processing", START, email=f"t{n}@x.com"), f"{n}")
    processor = Processor(services.database, services.clock)

    assert processor.run_once(limit=2).claimed == 2
    assert inbox_states(services) == {"processed": 2, "pending": 3}
    assert processor.run_once().claimed == 3
