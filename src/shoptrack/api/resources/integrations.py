"""Connected stores as resources: ``integration`` (never its credentials, only which fields
are set) and ``sync-run``, and the answer to connecting or changing a store."""

from __future__ import annotations

from typing import Any

from shoptrack.api.jsonapi import iso
from shoptrack.integrations import ConnectResult, IntegrationView

__all__ = ["connected_document", "integration_resource", "sync_run_resource"]


def integration_resource(view: IntegrationView, base: str) -> dict[str, Any]:
    """One integration: its settings with the status rules in force, its health, its webhook
    URL and its latest sync run."""
    row = view.row
    return {
        "type": "integration",
        "id": row.id,
        "attributes": {
            "platform": row.platform,
            "name": row.name,
            "enabled": row.enabled,
            "health": row.health,
            "health_detail": row.health_detail,
            "settings": {**view.integration.rules.to_settings(), **row.settings},
            "credential_fields": list(view.credential_fields),
            "webhook_url": view.webhook_url,
            "created": iso(row.created_at),
            "updated": iso(row.updated_at),
            "removed": iso(row.removed_at),
            "next_sync_at": iso(row.next_sync_at),
            "sync_cursor": row.sync_cursor,
            "last_sync": None
            if view.last_run is None
            else sync_run_resource(view.last_run, base)["attributes"],
        },
        "links": {"self": f"{base}/api/integrations/{row.id}/"},
    }


def connected_document(view: IntegrationView, result: ConnectResult, base: str) -> dict[str, Any]:
    """The answer to connecting or changing a store: the integration, and in ``meta`` the
    credential fields trimmed and the warnings (a store that could not be asked yet)."""
    document: dict[str, Any] = {"data": integration_resource(view, base)}
    meta = {
        name: value
        for name, value in (
            ("trimmed_fields", result.trimmed_fields),
            ("warnings", result.warnings),
        )
        if value
    }
    if meta:
        document["meta"] = meta
    return document


def sync_run_resource(row: Any, base: str) -> dict[str, Any]:
    """One sync run: its window, what it read and wrote, and how it ended."""
    return {
        "type": "sync-run",
        "id": row.id,
        "attributes": {
            "integration_id": row.integration_id,
            "state": row.state,
            "backfill": row.backfill,
            "window_since": iso(row.window_since),
            "window_until": iso(row.window_until),
            "started": iso(row.started_at),
            "finished": iso(row.finished_at),
            "pages": row.pages,
            "orders_seen": row.orders_seen,
            "rows_written": row.rows_written,
            "events_recorded": row.events_recorded,
            # Fetched, not processed yet: its events are recorded once this is 0.
            "pending_rows": row.pending_rows,
            "error": None
            if row.error_code is None
            else {
                "code": row.error_code,
                "kind": row.error_kind,
                "detail": row.error_detail,
                "store_answer": row.error_answer,
            },
        },
        "links": {"self": f"{base}/api/integrations/{row.integration_id}/sync-runs/{row.id}/"},
    }
