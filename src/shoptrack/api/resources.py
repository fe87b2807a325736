"""JSON:API resources in Klaviyo's shapes, built from stored rows (one place per type, so every
endpoint that returns or includes a type returns the same thing)."""

from __future__ import annotations

from typing import Any

from shoptrack.api.jsonapi import iso, sparse
from shoptrack.store.events import MetricView

__all__ = [
    "EVENT_FIELDS",
    "METRIC_FIELDS",
    "PROFILE_FIELDS",
    "event_resource",
    "metric_resource",
    "profile_resource",
]

EVENT_FIELDS = ("datetime", "event_properties", "id", "timestamp", "uuid")
METRIC_FIELDS = ("created", "id", "integration", "name", "updated")
PROFILE_FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "anonymous_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
    "created",
    "updated",
    "last_event_date",
    "location",
    "properties",
)


def event_resource(row: Any, base_url: str, fields: set[str] | None = None) -> dict[str, Any]:
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


def metric_resource(
    metric: MetricView, base_url: str, fields: set[str] | None = None
) -> dict[str, Any]:
    attributes = {
        "name": metric.name,
        "created": iso(metric.created_at),
        "updated": iso(metric.updated_at),
        "integration": metric.integration,
    }
    return {
        "type": "metric",
        "id": metric.id,
        "attributes": sparse(attributes, fields),
        "links": {"self": f"{base_url}/api/metrics/{metric.id}/"},
    }


def profile_resource(row: Any, base_url: str, fields: set[str] | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        name: getattr(row, name)
        for name in PROFILE_FIELDS
        if name not in ("created", "updated", "last_event_date", "location", "properties")
    }
    attributes |= {
        "location": row.location or {},
        "properties": row.properties,
        "created": iso(row.created_at),
        "updated": iso(row.updated_at),
        "last_event_date": iso(row.last_event_at),
    }
    return {
        "type": "profile",
        "id": row.id,
        "attributes": sparse(attributes, fields),
        "links": {"self": f"{base_url}/api/profiles/{row.id}/"},
    }
