"""JSON:API resources built from stored rows and models: pure functions, rows in and dicts
out, one place per type, so that every endpoint that returns or includes a type — and the CLI's
``--json`` — returns the same thing. Klaviyo's types (``event``, ``metric``, ``profile``,
``flow``) in Klaviyo's shapes; shoptrack's own (``integration``, ``sync-run``, ``finding``,
``alert``…) in the same style."""

from shoptrack.api.resources.alerts import (
    ALERT_TYPE,
    SUBSCRIPTION_TYPE,
    alert_resource,
    subscription_resource,
)
from shoptrack.api.resources.diagnostics import (
    diagnostics_url,
    finding_resource,
    fix_document,
    report_document,
)
from shoptrack.api.resources.events import EVENT_FIELDS, event_resource
from shoptrack.api.resources.flows import (
    FLOW_FIELDS,
    created_flow_document,
    flow_resource,
    message_resource,
    retarget_resource,
    statistics_resource,
)
from shoptrack.api.resources.integrations import (
    connected_document,
    integration_resource,
    sync_run_resource,
)
from shoptrack.api.resources.metrics import METRIC_FIELDS, metric_resource
from shoptrack.api.resources.profiles import PROFILE_FIELDS, profile_resource

__all__ = [
    "ALERT_TYPE",
    "EVENT_FIELDS",
    "FLOW_FIELDS",
    "METRIC_FIELDS",
    "PROFILE_FIELDS",
    "SUBSCRIPTION_TYPE",
    "alert_resource",
    "connected_document",
    "created_flow_document",
    "diagnostics_url",
    "event_resource",
    "finding_resource",
    "fix_document",
    "flow_resource",
    "integration_resource",
    "message_resource",
    "metric_resource",
    "profile_resource",
    "report_document",
    "retarget_resource",
    "statistics_resource",
    "subscription_resource",
    "sync_run_resource",
]
