"""The drop checks' reading of a metric's history: each slice's count summed in the database from
the hourly rollups, as the domain places an hour, the first hour, and metrics without events or
unknown answered empty."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from shoptrack.clock import FrozenClock
from shoptrack.domain.drops import history_range, slice_of
from shoptrack.domain.events import Metric
from shoptrack.services import Services
from shoptrack.store.metric_history import MetricHistory, metric_histories
from shoptrack.testing import Shop
from tests.watch_support import order_history

START = datetime(2026, 10, 1, 6, tzinfo=UTC)
EVERY = timedelta(hours=5)  # not a divisor of a day or a week: the slices count differently


def test_each_slice_counts_the_orders_the_domain_places_in_it(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    # More than the five weeks read: older orders are left out. Orders start on the hour.
    end = START + timedelta(days=40)
    placed = [
        START + n * EVERY
        for n in range(order_history(services, shop, since=START, until=end, every=EVERY))
    ]
    with services.database.read() as connection:
        histories = metric_histories(
            connection,
            shop.account_id,
            shop.integration.id,
            [Metric.PLACED_ORDER, Metric.ADDED_TO_CART, "Not A Metric"],
            end,
        )
    since, _ = history_range(end)
    expected: Counter[tuple[int, int]] = Counter(
        slice_of((end - moment) // timedelta(hours=1)) for moment in placed if moment >= since
    )
    history = histories[Metric.PLACED_ORDER]
    assert history.metric_id is not None
    assert history.first_hour == START
    assert history.slices == dict(expected)
    assert len(expected) > 40  # most of the 60 slices (5 weeks of 12) have orders
    quiet = histories[Metric.ADDED_TO_CART]  # the integration's metric, never recorded
    assert quiet == MetricHistory(quiet.metric_id, None, {})
    assert quiet.metric_id is not None
    assert histories["Not A Metric"] == MetricHistory()
