"""The ``event`` resource in Klaviyo's shape, with its links to its profile and metric."""

from __future__ import annotations

from typing import Any

from shoptrack.api.jsonapi import iso, sparse

__all__ = ["EVENT_FIELDS", "event_resource"]

EVENT_FIELDS = ("datetime", "event_properties", "id", "timestamp", "uuid")


def event_resource(row: Any, base_url: str, fields: set[str] | None = None) -> dict[str, Any]:
    """One stored event (``fields``: the sparse fieldset asked for, all when None)."""
    attributes = {
        "timestamp": int(row.time.timestamp()),
        "event_properties": row.properties,
        "datetime": iso(row.time),
        "uuid": row.id,
    }
    return {
        "type": "event",
        "id": row.id,
        "attributes": sparse(attributes, fields),
        "relationships": {
            "profile": {
                "data": {"type": "profile", "id": row.profile_id},
                "links": {
                    "self": f"{base_url}/api/events/{row.id}/relationships/profile/",
                    "related": f"{base_url}/api/events/{row.id}/profile/",
                },
            },
            "metric": {
                "data": {"type": "metric", "id": row.metric_id},
                "links": {
                    "self": f"{base_url}/api/events/{row.id}/relationships/metric/",
                    "related": f"{base_url}/api/events/{row.id}/metric/",
                },
            },
        },
        "links": {"self": f"{base_url}/api/events/{row.id}/"},
    }
