"""The account's settings, its Shopify app, and the process's health."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from shoptrack.api.schemas._common import (
    Links,
    OpenModel,
)

__all__ = ["AccountSettingsResponse", "Health", "ShopifyAppResponse"]


class AccountSettingsResponseAttributes(OpenModel):
    time_zone: str
    test_sends: bool
    attribution_window_days: int
    attribution_clicks_only: bool
    email_tracking: bool
    utm_parameters: bool


class AccountSettingsResource(OpenModel):
    type: Literal["account-settings"]
    id: str
    attributes: AccountSettingsResponseAttributes
    links: Links


class AccountSettingsResponse(OpenModel):
    data: AccountSettingsResource


class ShopifyAppResponseAttributes(OpenModel):
    client_id: str
    api_base_url: str | None
    scopes: list[str]
    callback_url: str
    compliance_webhooks_url: str
    previous_secrets_kept: int
    updated: AwareDatetime | None


class ShopifyAppResource(OpenModel):
    type: Literal["shopify-app"]
    id: str
    attributes: ShopifyAppResponseAttributes
    links: Links


class ShopifyAppResponse(OpenModel):
    data: ShopifyAppResource


class SpoolState(OpenModel):
    deliveries: int
    bytes: int
    max_bytes: int


class Health(OpenModel):
    """``GET /health``: ``ok`` while this process writes deliveries to its database."""

    status: Literal["ok", "degraded"]
    version: str
    reason: str | None = None
    spool: SpoolState | None = None
    # Why this process's workers do not process, while they do not: deliveries are still taken
    # in (``status`` stays ``ok``), their events wait.
    processing: str | None = None
