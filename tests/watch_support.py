"""Shared steps of the watchdog's tests: a store's order history delivered as the store would
send it, and processed into events."""

from __future__ import annotations

from datetime import datetime, timedelta

from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from tests.helpers import Shop, deliver
from tests.payloads import woo_order


def order_history(
    services: Services,
    shop: Shop,
    *,
    since: datetime,
    until: datetime,
    every: timedelta,
    first_id: int = 1,
    email: str | None = None,
) -> int:
    """Delivers a paid WooCommerce order created at ``since`` and then every ``every`` before
    ``until`` (each by its own webhook), processes them, and returns how many there were."""
    order_id = first_id
    moment = since
    while moment < until:
        order = woo_order(
            order_id,
            "processing",
            moment,
            email=email or f"buyer{order_id}@example.com",
        )
        deliver(services, shop, order, f"history-{order_id}")
        order_id += 1
        moment += every
    Processor(services.database, services.clock).run_until_idle()
    return order_id - first_id
