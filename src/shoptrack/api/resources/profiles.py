"""The ``profile`` resource in Klaviyo's shape."""

from __future__ import annotations

from typing import Any

from shoptrack.api.jsonapi import iso, sparse
from shoptrack.store.profiles import PROFILE_DETAILS

__all__ = ["PROFILE_FIELDS", "profile_resource"]

PROFILE_FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "anonymous_id",
    *PROFILE_DETAILS,
    "created",
    "updated",
    "last_event_date",
    "location",
    "properties",
)


def profile_resource(row: Any, base_url: str, fields: set[str] | None = None) -> dict[str, Any]:
    """One stored profile (``fields``: the sparse fieldset asked for, all when None)."""
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
