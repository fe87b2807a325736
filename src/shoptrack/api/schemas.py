"""The documents the API answers with, as models for its OpenAPI description: FastAPI writes
their schemas into ``/openapi.json``, and the schemathesis test checks every answer against
them. The handlers build the documents themselves (``api.resources`` and the routes); these
models say what those documents hold, so they are open (extra members allowed) where a
resource may grow, and exact where clients rely on a type.

Attributes are all optional because sparse fieldsets (``fields[event]=…``) may leave any out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "AccountSettingsResponse",
    "AlertResponse",
    "AlertResponseCollection",
    "AlertSubscriptionCreated",
    "AlertSubscriptionResponseCollection",
    "DeliveryResponseCollection",
    "ErrorDocument",
    "EventResponse",
    "EventResponseCollection",
    "FindingResponse",
    "FlowActivityResponseCollection",
    "FlowCreated",
    "FlowMessageResponse",
    "FlowMessageResponseCollection",
    "FlowResponse",
    "FlowResponseCollection",
    "FlowRetargetResponse",
    "FlowSeriesReportResponse",
    "FlowStatisticsResponse",
    "FlowValuesReportResponse",
    "Health",
    "IntegrationResponse",
    "IntegrationResponseCollection",
    "MetricAggregateResponse",
    "MetricResponse",
    "MetricResponseCollection",
    "ProfileResponse",
    "ProfileResponseCollection",
    "ReplayQueued",
    "ReportResponse",
    "ShopifyAppResponse",
    "SuppressionResponse",
    "SuppressionResponseCollection",
    "SyncRunResponse",
    "SyncRunResponseCollection",
    "error_responses",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- errors ----------------------------------------------------------------------------------


class ErrorSource(_Open):
    """The member of the request at fault: a body's JSON ``pointer`` or a ``parameter``."""

    pointer: str | None = None
    parameter: str | None = None


class Error(_Open):
    id: str
    status: int
    code: str = Field(description="stable; listed in the README's error codes")
    title: str
    detail: str
    source: ErrorSource
    meta: dict[str, Any] | None = None


class ErrorDocument(_Open):
    """Every error answer: ``{"errors": [{id, status, code, title, detail, source}]}``."""

    errors: list[Error] = Field(min_length=1)


_ERRORS = {
    400: "invalid input: `source` names the field or parameter at fault",
    401: "the key is missing, unknown or revoked",
    404: "no such resource in this account",
    409: "a conflict with what exists",
    413: "the body is over 5 MB",
    422: "the store refused, or the address may not be reached (`address_not_allowed`)",
    429: "too many requests for this key: `Retry-After` says when to try again",
    502: "the store answered something shoptrack cannot use",
    503: "the database cannot be reached now: `Retry-After` says when to try again",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an operation, for FastAPI's ``responses``."""
    return {status: {"model": ErrorDocument, "description": _ERRORS[status]} for status in statuses}


# --- shared members --------------------------------------------------------------------------


class Links(_Open):
    self: str


class CollectionLinks(_Open):
    self: str
    next: str | None = None


class Reference(_Open):
    type: str
    id: str


class Relationship(_Open):
    data: Reference
    links: dict[str, str]


class ManyReferences(_Open):
    data: list[Reference]


class ManyRelationship(_Open):
    data: list[Reference]
    links: dict[str, str]


# --- events, metrics, profiles ----------------------------------------------------------------


class EventResponseAttributes(_Open):
    timestamp: int | None = None
    event_properties: dict[str, Any] | None = None
    datetime: AwareDatetime | None = None
    uuid: str | None = None


class EventResource(_Open):
    type: Literal["event"]
    id: str
    attributes: EventResponseAttributes
    relationships: dict[str, Relationship]
    links: Links


class MetricResponseAttributes(_Open):
    name: str | None = None
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None
    integration: dict[str, Any] | None = None


class MetricResource(_Open):
    type: Literal["metric"]
    id: str
    attributes: MetricResponseAttributes
    links: Links


class ProfileResponseAttributes(_Open):
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    anonymous_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    locale: str | None = None
    title: str | None = None
    image: str | None = None
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None
    last_event_date: AwareDatetime | None = None
    location: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None


class ProfileResource(_Open):
    type: Literal["profile"]
    id: str
    attributes: ProfileResponseAttributes
    links: Links


class EventResponseCollection(_Open):
    data: list[EventResource]
    links: CollectionLinks
    included: list[MetricResource | ProfileResource] | None = None


class EventResponse(_Open):
    data: EventResource
    included: list[MetricResource | ProfileResource] | None = None


class MetricResponseCollection(_Open):
    data: list[MetricResource]
    links: CollectionLinks


class MetricResponse(_Open):
    data: MetricResource
    links: Links | None = None


class ProfileResponseCollection(_Open):
    data: list[ProfileResource]
    links: CollectionLinks


class ProfileResponse(_Open):
    data: ProfileResource


class AggregateRow(_Open):
    dimensions: list[str]
    measurements: dict[str, list[float]]


class MetricAggregateResponseAttributes(_Open):
    dates: list[AwareDatetime] | None = None
    data: list[AggregateRow] | None = None


class MetricAggregateResource(_Open):
    type: Literal["metric-aggregate"]
    id: str
    attributes: MetricAggregateResponseAttributes
    links: Links


class MetricAggregateResponse(_Open):
    data: MetricAggregateResource
    links: CollectionLinks


# --- integrations -----------------------------------------------------------------------------


class SyncRunResponseAttributes(_Open):
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


class SyncRunResource(_Open):
    type: Literal["sync-run"]
    id: str
    attributes: SyncRunResponseAttributes
    links: Links


class SyncRunResponseCollection(_Open):
    data: list[SyncRunResource]
    links: Links


class SyncRunResponse(_Open):
    data: SyncRunResource


class IntegrationResponseAttributes(_Open):
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


class IntegrationResource(_Open):
    type: Literal["integration"]
    id: str
    attributes: IntegrationResponseAttributes
    links: Links


class IntegrationMeta(_Open):
    trimmed_fields: list[str] | None = None
    warnings: list[str] | None = None


class IntegrationResponse(_Open):
    data: IntegrationResource
    meta: IntegrationMeta | None = None


class IntegrationResponseCollection(_Open):
    data: list[IntegrationResource]
    links: Links


class DeliveryResponseAttributes(_Open):
    source: str
    topic: str
    state: str
    reason: str | None
    received: AwareDatetime
    processed: AwareDatetime | None
    attempts: int
    last_error: str | None


class DeliveryResource(_Open):
    type: Literal["delivery"]
    id: str
    attributes: DeliveryResponseAttributes


class DeliveryResponseCollection(_Open):
    data: list[DeliveryResource]
    links: Links


class ReplayMeta(_Open):
    queued: int
    processed: int
    events_recorded: int


class ReplayQueued(_Open):
    meta: ReplayMeta


# --- the doctor -------------------------------------------------------------------------------


class FindingResponseAttributes(_Open):
    code: str
    severity: Literal["ok", "info", "warning", "error"]
    summary: str
    evidence: dict[str, Any]
    fix: dict[str, Any] | None
    integration_id: str | None


class FindingResource(_Open):
    type: Literal["finding"]
    id: str
    attributes: FindingResponseAttributes
    links: dict[str, str] | None = None


class ReportMeta(_Open):
    worst: str
    counts: dict[str, int]
    order: dict[str, Any] | None = None


class ReportResponse(_Open):
    data: list[FindingResource]
    meta: ReportMeta
    links: Links


class FixMeta(_Open):
    done: Any
    worst: str


class FindingResponse(_Open):
    data: FindingResource
    meta: FixMeta


# --- flows ------------------------------------------------------------------------------------


class FlowResponseAttributes(_Open):
    name: str | None = None
    status: str | None = None
    archived: bool | None = None
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None
    trigger_type: str | None = None
    template: str | None = None
    trigger_metric_id: str | None = None
    definition: dict[str, Any] | None = None


class FlowResource(_Open):
    type: Literal["flow"]
    id: str
    attributes: FlowResponseAttributes
    relationships: dict[str, ManyRelationship]
    links: Links


class FlowResponseCollection(_Open):
    data: list[FlowResource]
    links: CollectionLinks


class FlowResponse(_Open):
    data: FlowResource
    links: Links | None = None


class FlowCreatedMeta(_Open):
    warnings: list[dict[str, Any]]


class FlowCreated(_Open):
    data: FlowResource
    meta: FlowCreatedMeta


class FlowMessageResource(_Open):
    type: Literal["flow-message"]
    id: str
    attributes: dict[str, Any]
    links: Links


class FlowMessageResponseCollection(_Open):
    data: list[FlowMessageResource]
    links: Links


class FlowMessageResponse(_Open):
    data: FlowMessageResource


class FlowStatisticsResource(_Open):
    type: Literal["flow-statistics"]
    id: str
    attributes: dict[str, Any]
    links: Links


class FlowStatisticsResponse(_Open):
    data: FlowStatisticsResource


class FlowRetargetResponseAttributes(_Open):
    from_metric_id: str
    to_metric_id: str
    flow_ids: list[str]


class FlowRetargetResource(_Open):
    type: Literal["flow-retarget"]
    id: str
    attributes: FlowRetargetResponseAttributes


class FlowRetargetResponse(_Open):
    data: FlowRetargetResource


class FlowActivityResponseAttributes(_Open):
    flow_id: str
    flow_run_id: str | int | None
    step_id: str | None
    kind: str
    reason: str | None
    detail: Any = None
    datetime: AwareDatetime


class FlowActivityResource(_Open):
    type: Literal["flow-activity"]
    id: str
    attributes: FlowActivityResponseAttributes


class FlowActivityResponseCollection(_Open):
    data: list[FlowActivityResource]
    links: Links


class SuppressionResponseAttributes(_Open):
    email: str
    reason: str
    created: AwareDatetime


class SuppressionResource(_Open):
    type: Literal["email-suppression"]
    id: str
    attributes: SuppressionResponseAttributes


class SuppressionResponseCollection(_Open):
    data: list[SuppressionResource]
    links: Links


class SuppressionResponse(_Open):
    data: SuppressionResource


# --- flow reports -----------------------------------------------------------------------------


class FlowReportResult(_Open):
    groupings: dict[str, Any]
    statistics: dict[str, Any]


class FlowValuesReportAttributes(_Open):
    results: list[FlowReportResult]


class FlowSeriesReportAttributes(_Open):
    results: list[FlowReportResult]
    date_times: list[AwareDatetime]


class FlowReportRelationships(_Open):
    flows: ManyReferences
    flow_messages: ManyReferences = Field(alias="flow-messages")


class FlowValuesReportResource(_Open):
    type: Literal["flow-values-report"]
    attributes: FlowValuesReportAttributes
    relationships: FlowReportRelationships


class FlowSeriesReportResource(_Open):
    type: Literal["flow-series-report"]
    attributes: FlowSeriesReportAttributes
    relationships: FlowReportRelationships


class FlowValuesReportResponse(_Open):
    data: FlowValuesReportResource
    links: Links


class FlowSeriesReportResponse(_Open):
    data: FlowSeriesReportResource
    links: Links


# --- account settings -------------------------------------------------------------------------


class AccountSettingsResponseAttributes(_Open):
    time_zone: str
    test_sends: bool
    attribution_window_days: int
    attribution_clicks_only: bool
    email_tracking: bool
    utm_parameters: bool


class AccountSettingsResource(_Open):
    type: Literal["account-settings"]
    id: str
    attributes: AccountSettingsResponseAttributes
    links: Links


class AccountSettingsResponse(_Open):
    data: AccountSettingsResource


# --- the account's Shopify app -----------------------------------------------------------------


class ShopifyAppResponseAttributes(_Open):
    client_id: str
    api_base_url: str | None
    scopes: list[str]
    callback_url: str
    compliance_webhooks_url: str
    previous_secrets_kept: int
    updated: AwareDatetime | None


class ShopifyAppResource(_Open):
    type: Literal["shopify-app"]
    id: str
    attributes: ShopifyAppResponseAttributes
    links: Links


class ShopifyAppResponse(_Open):
    data: ShopifyAppResource


# --- alerts -----------------------------------------------------------------------------------


class AlertResponseAttributes(_Open):
    code: str
    severity: str
    summary: str
    integration_id: str | None
    opened: AwareDatetime
    last_seen: AwareDatetime
    resolved: AwareDatetime | None
    finding: dict[str, Any]


class AlertResource(_Open):
    type: Literal["alert"]
    id: str
    attributes: AlertResponseAttributes
    links: Links


class AlertResponseCollection(_Open):
    data: list[AlertResource]
    links: CollectionLinks


class AlertResponse(_Open):
    data: AlertResource


class AlertSubscriptionResponseAttributes(_Open):
    channel: Literal["email", "webhook"]
    email: str | None
    url: str | None
    created: AwareDatetime
    secret: str | None = Field(
        default=None, description="a webhook's signing secret: in the answer that makes it only"
    )


class AlertSubscriptionResource(_Open):
    type: Literal["alert-subscription"]
    id: str
    attributes: AlertSubscriptionResponseAttributes
    links: Links


class AlertSubscriptionResponseCollection(_Open):
    data: list[AlertSubscriptionResource]
    links: Links


class AlertSubscriptionCreated(_Open):
    data: AlertSubscriptionResource


# --- health -----------------------------------------------------------------------------------


class SpoolState(_Open):
    deliveries: int
    bytes: int
    max_bytes: int


class Health(_Open):
    """``GET /health``: ``ok`` while this process writes deliveries to its database."""

    status: Literal["ok", "degraded"]
    version: str
    reason: str | None = None
    spool: SpoolState | None = None
