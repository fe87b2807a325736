"""Attribution: a live Placed Order — of any of the account's stores, or sent through the API —
is credited to the flow email its profile last opened or clicked within the account's window
before it (5 days by default; clicks only if the account says so): Klaviyo's default model.

It happens as the order is recorded, in the same transaction (the flows hook of processing):
the event gets ``$attributed_flow`` and ``$attributed_message`` and a row in
``flow_attributions``, once — the event is new, and the row is keyed by it. Backfill and test
orders are never credited, nor is an open or click a machine made (a mail privacy proxy's
prefetch, a link scanner).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from shoptrack.domain.events import Metric
from shoptrack.store.accounts import account_settings
from shoptrack.store.engagement import Touch, credit_order, touches
from shoptrack.store.recording import RecordedEvent

__all__ = ["CONVERSION_METRIC", "attribute_orders"]

logger = logging.getLogger(__name__)

CONVERSION_METRIC = Metric.PLACED_ORDER.value


def attribute_orders(connection: Connection, recorded: Sequence[RecordedEvent]) -> int:
    """Credits the live Placed Orders among ``recorded`` to the flow emails that earned them;
    how many were credited. The touches of a batch's orders are read in one statement per
    account (most orders have none); one order's failure is logged and leaves the others alone."""
    by_account: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in recorded:
        if event.metric == CONVERSION_METRIC and not event.backfill and not event.test:
            by_account[event.account_id].append(event)
    credited = 0
    for account_id, orders in sorted(by_account.items()):
        settings = account_settings(connection, account_id)
        window = timedelta(days=settings.attribution_window_days)
        found = touches(
            connection,
            account_id,
            [order.profile_id for order in orders],
            since=min(order.time for order in orders) - window,
            until=max(order.time for order in orders),
            kinds=("clicked",) if settings.attribution_clicks_only else ("opened", "clicked"),
        )
        for order in orders:
            touch = _last_touch(found.get(order.profile_id, ()), order.time - window, order.time)
            if touch is None:
                continue
            try:
                with connection.begin_nested():
                    credited += credit_order(connection, order, touch)
            except Exception:  # logged; the order stays recorded, uncredited
                logger.exception("crediting order event %s to a flow failed", order.id)
    return credited


def _last_touch(touched: Sequence[Touch], since: datetime, until: datetime) -> Touch | None:
    """The last of ``touched`` (oldest first) in ``[since, until]``."""
    within = [touch for touch in touched if since <= touch.at <= until]
    return within[-1] if within else None
