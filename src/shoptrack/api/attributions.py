"""Klaviyo's ``attribution`` resources: what ``GET /api/events?include=attributions`` adds for
the orders credited to a flow email (``flows.attribution``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from shoptrack.store.attributions import attributions_of_events

__all__ = ["attribution_resources"]


def attribution_resources(
    connection: Connection, account_id: str, event_ids: Sequence[str], base: str
) -> list[dict[str, Any]]:
    """The attributions of those of ``event_ids`` that were credited to a flow email."""
    rows = attributions_of_events(connection, account_id, event_ids)
    return [
        {
            "type": "attribution",
            "id": row.event_id,
            "relationships": {
                "event": {"data": {"type": "event", "id": row.event_id}},
                "flow": {"data": {"type": "flow", "id": row.flow_id}},
                "flow-message": {"data": {"type": "flow-message", "id": row.step_id}},
            },
            "links": {"self": f"{base}/api/events/{row.event_id}/"},
        }
        for row in rows
    ]
