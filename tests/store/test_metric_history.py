"""The drop checks' reading of a metric's history: each span's count summed in the database from
the hourly rollups, the first hour, and metrics without events or unknown answered empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shoptrack.clock import FrozenClock
from shoptrack.domain.drops import window_spans
from shoptrack.domain.events import Metric
from shoptrack.services import Services
from shoptrack.store.metric_history import MetricHistory, metric_histories
from shoptrack.testing import Shop
from tests.watch_support import order_history

START = datetime(2026, 10, 1, 6, tzinfo=UTC)
EVERY = timedelta(hours=5)  # not a divisor of a day or a week: every span counts differently


def test_each_span_counts_the_orders_inside_it(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    end = START + timedelta(days=40)
    placed = [
        START + n * EVERY
        for n in range(order_history(services, shop, since=START, until=end, every=EVERY))
    ]
    spans = window_spans(end.replace(minute=0))
    with services.database.read() as connection:
        histories = metric_histories(
            connection,
            shop.account_id,
            shop.integration.id,
            [Metric.PLACED_ORDER, Metric.ADDED_TO_CART, "Not A Metric"],
            spans,
        )
    history = histories[Metric.PLACED_ORDER]
    assert history.metric_id is not None
    assert history.first_hour == START
    assert history.counts == {
        (since, until): sum(since <= moment < until for moment in placed) for since, until in spans
    }
    assert len(set(history.counts.values())) > 10  # the spans differ, so each sum is its own
    quiet = histories[Metric.ADDED_TO_CART]  # the integration's metric, never recorded
    assert quiet.first_hour is None
    assert set(quiet.counts.values()) == {0}
    assert histories["Not A Metric"] == MetricHistory()
