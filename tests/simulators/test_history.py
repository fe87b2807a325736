"""A simulated store's past: a weekly and daily rhythm, customers who come back, reproducible."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from shoptrack.simulators.catalog import store_life
from shoptrack.simulators.history import SOON, PastOrder, past_orders
from shoptrack.simulators.woocommerce import WooCommerceSimulator

NOW = datetime(2026, 12, 6, 18, 30, tzinfo=UTC)


def _plan(seed: int = 7) -> list[PastOrder]:
    return past_orders(NOW, days=90, per_day=20, rng=random.Random(seed))


def test_the_past_has_a_weekly_and_a_daily_rhythm() -> None:
    orders = _plan()
    assert 90 * 20 * 0.8 < len(orders) < 90 * 20 * 1.2
    assert [order.created for order in orders] == sorted(order.created for order in orders)
    assert NOW - timedelta(days=90, hours=1) <= orders[0].created
    assert orders[-1].created < NOW - timedelta(hours=1) + timedelta(hours=1)
    by_weekday = Counter(order.created.weekday() for order in orders)
    weekend = (by_weekday[5] + by_weekday[6]) / 2
    midweek = (by_weekday[1] + by_weekday[2]) / 2
    assert weekend > 1.3 * midweek
    by_hour = Counter(order.created.hour for order in orders)
    assert by_hour[20] > 5 * by_hour[3]


def test_many_customers_and_some_come_back_soon() -> None:
    orders = _plan()
    per_customer = Counter(order.email for order in orders)
    assert len(per_customer) > 0.6 * len(orders)
    assert sum(1 for count in per_customer.values() if count > 1) > 0.1 * len(per_customer)
    last: dict[str, datetime] = {}
    soon = 0
    for order in orders:
        if order.email in last and order.created - last[order.email] <= SOON:
            soon += 1
        last[order.email] = order.created
    assert soon > 0.05 * len(orders)


def test_the_same_generator_plans_the_same_past() -> None:
    assert _plan(3) == _plan(3)
    assert _plan(3) != _plan(4)


def test_a_store_is_seeded_with_the_plan_in_its_usual_mix() -> None:
    life = store_life("woocommerce")
    shop = WooCommerceSimulator(webhook_delivery="manual")
    plan = past_orders(NOW, days=14, per_day=5, rng=random.Random(1))
    life.seed_history(shop, plan)
    statuses = shop.statuses()
    assert len(statuses) == len(plan)
    assert set(statuses.values()) <= set(life.history)
    assert len(set(statuses.values())) > 2
