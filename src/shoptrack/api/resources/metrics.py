"""The ``metric`` resource in Klaviyo's shape, with shoptrack's ``integration`` attribute."""

from __future__ import annotations

from typing import Any

from shoptrack.api.jsonapi import iso, sparse
from shoptrack.store.events import MetricView

__all__ = ["METRIC_FIELDS", "metric_resource"]

METRIC_FIELDS = ("created", "id", "integration", "name", "updated")


def metric_resource(
    metric: MetricView, base_url: str, fields: set[str] | None = None
) -> dict[str, Any]:
    """One metric (``fields``: the sparse fieldset asked for, all when None)."""
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
