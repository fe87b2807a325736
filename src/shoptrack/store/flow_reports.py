"""What flow reports read: the engagement, failures and credited conversions of an account's
flow emails in a timeframe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, and_, exists, func, select

from shoptrack.domain.flow_reports import Conversion, Engagement, Failure
from shoptrack.store.schema import email_engagements, flow_attributions, flow_deliveries, metrics

__all__ = [
    "Credit",
    "attributed_revenue",
    "credited_orders",
    "metric_exists",
    "report_items",
    "revenue_by_flow",
]


def metric_exists(connection: Connection, account_id: str, metric_id: str) -> bool:
    found = connection.execute(
        select(metrics.c.id).where(metrics.c.account_id == account_id, metrics.c.id == metric_id)
    ).first()
    return found is not None


def report_items(
    connection: Connection,
    account_id: str,
    start: datetime,
    end: datetime,
    conversion_metric_id: str | None,
) -> list[Engagement | Failure | Conversion]:
    """Everything flow reports count in ``[start, end)``: engagement by when it happened,
    failures by when they were attempted, conversions (of ``conversion_metric_id``, or of any
    metric with None) by the time of the event credited."""
    items: list[Engagement | Failure | Conversion] = []
    engagement = email_engagements
    items.extend(
        Engagement(
            row.flow_id, row.step_id, row.kind, row.machine, row.delivery_id, row.profile_id, row.at
        )
        for row in connection.execute(
            select(
                engagement.c.flow_id,
                engagement.c.step_id,
                engagement.c.kind,
                engagement.c.machine,
                engagement.c.delivery_id,
                engagement.c.profile_id,
                engagement.c.at,
            ).where(
                engagement.c.account_id == account_id,
                engagement.c.at >= start,
                engagement.c.at < end,
            )
        )
    )
    bounced = exists().where(
        and_(engagement.c.delivery_id == flow_deliveries.c.id, engagement.c.kind == "bounced")
    )
    items.extend(
        Failure(row.flow_id, row.step_id, row.id, row.created_at)
        for row in connection.execute(
            select(
                flow_deliveries.c.flow_id,
                flow_deliveries.c.step_id,
                flow_deliveries.c.id,
                flow_deliveries.c.created_at,
            ).where(
                flow_deliveries.c.account_id == account_id,
                flow_deliveries.c.channel == "email",
                flow_deliveries.c.state == "failed",
                flow_deliveries.c.created_at >= start,
                flow_deliveries.c.created_at < end,
                ~bounced,
            )
        )
    )
    credited = flow_attributions
    conversions = [
        credited.c.account_id == account_id,
        credited.c.time >= start,
        credited.c.time < end,
    ]
    if conversion_metric_id is not None:
        conversions.append(credited.c.metric_id == conversion_metric_id)
    items.extend(
        Conversion(row.flow_id, row.step_id, row.profile_id, row.time, row.value)
        for row in connection.execute(
            select(
                credited.c.flow_id,
                credited.c.step_id,
                credited.c.profile_id,
                credited.c.time,
                credited.c.value,
            ).where(*conversions)
        )
    )
    return items


def attributed_revenue(
    connection: Connection, account_id: str, start: datetime, end: datetime
) -> dict[str, Decimal]:
    """The value of the orders in ``[start, end)`` credited to flow emails, per currency
    (``""`` for orders without one): amounts in different currencies are never added."""
    rows = connection.execute(
        select(flow_attributions.c.currency, func.sum(flow_attributions.c.value))
        .where(
            flow_attributions.c.account_id == account_id,
            flow_attributions.c.time >= start,
            flow_attributions.c.time < end,
        )
        .group_by(flow_attributions.c.currency)
    )
    totals: dict[str, Decimal] = {}
    for currency, total in rows:
        key = currency or ""
        totals[key] = totals.get(key, Decimal(0)) + Decimal(total or 0)
    return dict(sorted(totals.items()))


def revenue_by_flow(
    connection: Connection, account_id: str, start: datetime, end: datetime
) -> dict[str, dict[str, Decimal]]:
    """Each flow's credited revenue in ``[start, end)`` per currency (``""`` for orders
    without one), as ``attributed_revenue`` counts the account's."""
    rows = connection.execute(
        select(
            flow_attributions.c.flow_id,
            flow_attributions.c.currency,
            func.sum(flow_attributions.c.value),
        )
        .where(
            flow_attributions.c.account_id == account_id,
            flow_attributions.c.time >= start,
            flow_attributions.c.time < end,
        )
        .group_by(flow_attributions.c.flow_id, flow_attributions.c.currency)
    )
    found: dict[str, dict[str, Decimal]] = {}
    for flow_id, currency, total in rows:
        by_currency = found.setdefault(flow_id, {})
        key = currency or ""
        by_currency[key] = by_currency.get(key, Decimal(0)) + Decimal(total or 0)
    return {flow_id: dict(sorted(totals.items())) for flow_id, totals in found.items()}


@dataclass(frozen=True, slots=True)
class Credit:
    """An order credited to one of a flow's emails: when, how much and in what currency
    (``""`` for none)."""

    step_id: str
    time: datetime
    value: Decimal
    currency: str


def credited_orders(
    connection: Connection, account_id: str, flow_id: str, start: datetime, end: datetime
) -> list[Credit]:
    """The orders in ``[start, end)`` credited to the emails of one flow, by time."""
    credited = flow_attributions
    rows = connection.execute(
        select(credited.c.step_id, credited.c.time, credited.c.value, credited.c.currency)
        .where(
            credited.c.account_id == account_id,
            credited.c.flow_id == flow_id,
            credited.c.time >= start,
            credited.c.time < end,
        )
        .order_by(credited.c.time)
    )
    return [
        Credit(row.step_id, row.time, Decimal(row.value or 0), row.currency or "") for row in rows
    ]
