"""The orders credited to a flow email, as the events API includes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from shoptrack.store.schema import flow_attributions

__all__ = ["attributions_of_events"]


def attributions_of_events(
    connection: Connection, account_id: str, event_ids: Sequence[str]
) -> Sequence[Row[Any]]:
    """The attributions of those of ``event_ids`` that were credited to a flow email, by
    event id."""
    if not event_ids:
        return []
    return connection.execute(
        select(flow_attributions)
        .where(
            flow_attributions.c.account_id == account_id,
            flow_attributions.c.event_id.in_(sorted(set(event_ids))),
        )
        .order_by(flow_attributions.c.event_id)
    ).all()
