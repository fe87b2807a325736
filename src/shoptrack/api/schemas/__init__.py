"""The documents the API answers with, as models for its OpenAPI description: FastAPI writes
their schemas into ``/openapi.json``, and the schemathesis test checks every answer against
them. The handlers build the documents themselves (``api.resources`` and the routes); these
models say what those documents hold, so they are open (extra members allowed) where a
resource may grow, and exact where clients rely on a type.

Attributes are all optional because sparse fieldsets (``fields[event]=…``) may leave any out.

One module per kind of resource, all of it imported from here: ``_common`` (errors, links,
relationships), ``_events`` (events, metrics, profiles), ``_integrations``, ``_diagnostics``
(findings and alerts), ``_flows`` (flows, suppressions, flow reports), ``_account`` (settings,
the Shopify app, health).
"""

from shoptrack.api.schemas._account import AccountSettingsResponse, Health, ShopifyAppResponse
from shoptrack.api.schemas._common import ErrorDocument, error_responses
from shoptrack.api.schemas._diagnostics import (
    AlertResponse,
    AlertResponseCollection,
    AlertSubscriptionCreated,
    AlertSubscriptionResponseCollection,
    FindingResponse,
    ReportResponse,
)
from shoptrack.api.schemas._events import (
    EventResponse,
    EventResponseCollection,
    MetricAggregateResponse,
    MetricResponse,
    MetricResponseCollection,
    ProfileResponse,
    ProfileResponseCollection,
)
from shoptrack.api.schemas._flows import (
    FlowActivityResponseCollection,
    FlowCreated,
    FlowMessageResponse,
    FlowMessageResponseCollection,
    FlowResponse,
    FlowResponseCollection,
    FlowRetargetResponse,
    FlowSeriesReportResponse,
    FlowStatisticsResponse,
    FlowValuesReportResponse,
    SuppressionResponse,
    SuppressionResponseCollection,
)
from shoptrack.api.schemas._integrations import (
    DeliveryResponseCollection,
    IntegrationResponse,
    IntegrationResponseCollection,
    ReplayQueued,
    SyncRunResponse,
    SyncRunResponseCollection,
)

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
