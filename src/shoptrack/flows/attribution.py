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
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Connection, select, update

from shoptrack.domain.account_settings import AccountSettings
from shoptrack.domain.events import Metric
from shoptrack.store.accounts import account_settings
from shoptrack.store.engagement import add_attribution, last_touch
from shoptrack.store.recording import RecordedEvent
from shoptrack.store.schema import events

__all__ = ["CONVERSION_METRIC", "attribute_orders"]

logger = logging.getLogger(__name__)

CONVERSION_METRIC = Metric.PLACED_ORDER.value


def attribute_orders(connection: Connection, recorded: Sequence[RecordedEvent]) -> int:
    """Credits the live Placed Orders among ``recorded`` to the flow emails that earned them;
    how many were credited. One order's failure is logged and leaves the others alone."""
    orders = [
        event
        for event in recorded
        if event.metric == CONVERSION_METRIC and not event.backfill and not event.test
    ]
    settings: dict[str, AccountSettings] = {}
    credited = 0
    for order in orders:
        if order.account_id not in settings:
            settings[order.account_id] = account_settings(connection, order.account_id)
        try:
            with connection.begin_nested():
                credited += _attribute(connection, order, settings[order.account_id])
        except Exception:  # logged; the order stays recorded, uncredited
            logger.exception("crediting order event %s to a flow failed", order.id)
    return credited


def _attribute(connection: Connection, order: RecordedEvent, settings: AccountSettings) -> bool:
    kinds = ("clicked",) if settings.attribution_clicks_only else ("opened", "clicked")
    touch = last_touch(
        connection,
        order.account_id,
        order.profile_id,
        since=order.time - timedelta(days=settings.attribution_window_days),
        until=order.time,
        kinds=kinds,
    )
    if touch is None:
        return False
    key = (events.c.id == order.id, events.c.time == order.time)
    row = connection.execute(
        select(events.c.value, events.c.value_currency, events.c.properties).where(*key)
    ).one()
    if not add_attribution(
        connection,
        event_id=order.id,
        account_id=order.account_id,
        metric_id=order.metric_id,
        profile_id=order.profile_id,
        time=order.time,
        value=row.value,
        currency=row.value_currency,
        touch=touch,
    ):
        return False
    properties = {
        **(row.properties or {}),
        "$attributed_flow": touch.flow_id,
        "$attributed_message": touch.step_id,
    }
    connection.execute(update(events).where(*key).values(properties=properties))
    return True
