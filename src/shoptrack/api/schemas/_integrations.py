"""Integrations, their sync runs, their stored deliveries and replays."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime

from shoptrack.api.schemas._common import (
    Links,
    OpenModel,
)

__all__ = [
    "DeliveryResponseCollection",
    "IntegrationResponse",
    "IntegrationResponseCollection",
    "ReplayQueued",
    "SyncRunResponse",
    "SyncRunResponseCollection",
]


class SyncRunResponseAttributes(OpenModel):
    integration_id: str
    state: str
    backfill: bool
    window_since: AwareDatetime | None
    window_until: AwareDatetime | None
    started: AwareDatetime | None
    finished: AwareDatetime | None
    pages: int | None
    orders_seen: int | None
    rows_written: int | None
    events_recorded: int | None
    error: dict[str, Any] | None


class SyncRunResource(OpenModel):
    type: Literal["sync-run"]
    id: str
    attributes: SyncRunResponseAttributes
    links: Links


class SyncRunResponseCollection(OpenModel):
    data: list[SyncRunResource]
    links: Links


class SyncRunResponse(OpenModel):
    data: SyncRunResource


class IntegrationResponseAttributes(OpenModel):
    platform: str
    name: str
    enabled: bool
    health: str
    health_detail: dict[str, Any] | None
    settings: dict[str, Any]
    credential_fields: list[str]
    webhook_url: str
    created: AwareDatetime
    updated: AwareDatetime
    removed: AwareDatetime | None
    next_sync_at: AwareDatetime | None
    sync_cursor: Any = None
    last_sync: SyncRunResponseAttributes | None


class IntegrationResource(OpenModel):
    type: Literal["integration"]
    id: str
    attributes: IntegrationResponseAttributes
    links: Links


class IntegrationMeta(OpenModel):
    trimmed_fields: list[str] | None = None
    warnings: list[str] | None = None


class IntegrationResponse(OpenModel):
    data: IntegrationResource
    meta: IntegrationMeta | None = None


class IntegrationResponseCollection(OpenModel):
    data: list[IntegrationResource]
    links: Links


class DeliveryResponseAttributes(OpenModel):
    source: str
    topic: str
    state: str
    reason: str | None
    received: AwareDatetime
    processed: AwareDatetime | None
    attempts: int
    last_error: str | None


class DeliveryResource(OpenModel):
    type: Literal["delivery"]
    id: str
    attributes: DeliveryResponseAttributes


class DeliveryResponseCollection(OpenModel):
    data: list[DeliveryResource]
    links: Links


class ReplayMeta(OpenModel):
    queued: int
    processed: int
    events_recorded: int


class ReplayQueued(OpenModel):
    meta: ReplayMeta
