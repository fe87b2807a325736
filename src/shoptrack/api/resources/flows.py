"""Flows as resources: ``flow`` in Klaviyo's shape (plus shoptrack's ``template`` and
``trigger_metric_id``), its messages, its statistics, a new flow's document and a retarget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoptrack.api.jsonapi import iso, sparse
from shoptrack.flows.model import SendEmail, SendWebhook, public_step
from shoptrack.flows.service import CreatedFlow
from shoptrack.store.flows import FlowRecord

__all__ = [
    "FLOW_FIELDS",
    "created_flow_document",
    "flow_resource",
    "message_resource",
    "retarget_resource",
    "statistics_resource",
]

FLOW_FIELDS = (
    "name",
    "status",
    "archived",
    "created",
    "updated",
    "trigger_type",
    "template",
    "trigger_metric_id",
)


def flow_resource(
    flow: FlowRecord,
    base: str,
    fields: set[str] | None = None,
    *,
    definition: bool = False,
    webhook_secrets: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``flow`` resource: Klaviyo's attributes, plus shoptrack's ``template`` and
    ``trigger_metric_id`` (and ``definition`` when asked for: webhook secrets only as
    ``secret_set``, except ``webhook_secrets`` in the answer that made them)."""
    attributes: dict[str, Any] = {
        "name": flow.name,
        "status": flow.status.value,
        "archived": flow.archived,
        "created": iso(flow.created_at),
        "updated": iso(flow.updated_at),
        "trigger_type": "Metric",
        "template": flow.template,
        "trigger_metric_id": flow.trigger_metric_id,
    }
    attributes = sparse(attributes, fields)
    if definition:
        attributes["definition"] = flow.definition.public_document(webhook_secrets)
    self_link = f"{base}/api/flows/{flow.id}/"
    return {
        "type": "flow",
        "id": flow.id,
        "attributes": attributes,
        "relationships": {
            "flow-actions": {
                "data": [{"type": "flow-action", "id": a.id} for a in flow.definition.actions],
                "links": {
                    "self": f"{self_link}relationships/flow-actions/",
                    "related": f"{self_link}flow-actions/",
                },
            },
            "tags": {
                "data": [],
                "links": {
                    "self": f"{self_link}relationships/tags/",
                    "related": f"{self_link}tags/",
                },
            },
        },
        "links": {"self": self_link},
    }


def message_resource(flow: FlowRecord, step: SendEmail | SendWebhook, base: str) -> dict[str, Any]:
    """One message of a flow (an email or a webhook step) and what may be edited in it."""
    attributes = public_step(step)
    for name in ("type", "id", "next"):
        del attributes[name]
    attributes["channel"] = "email" if isinstance(step, SendEmail) else "webhook"
    return {
        "type": "flow-message",
        "id": step.id,
        "attributes": attributes,
        "links": {"self": f"{base}/api/flows/{flow.id}/flow-messages/{step.id}/"},
    }


def statistics_resource(flow: FlowRecord, statistics: dict[str, Any], base: str) -> dict[str, Any]:
    """What profiles did in the flow (``flow_statistics``)."""
    return {
        "type": "flow-statistics",
        "id": flow.id,
        "attributes": statistics,
        "links": {"self": f"{base}/api/flows/{flow.id}/statistics/"},
    }


def created_flow_document(created: CreatedFlow, base: str) -> dict[str, Any]:
    """The answer to creating a flow: the flow with its definition, its creation warnings in
    ``meta.warnings`` (and its webhook steps' secrets, the one time they are shown)."""
    return {
        "data": flow_resource(
            created.flow, base, definition=True, webhook_secrets=created.webhook_secrets
        ),
        "meta": {"warnings": created.warnings},
    }


def retarget_resource(
    from_metric_id: str, to_metric_id: str, flow_ids: list[str]
) -> dict[str, Any]:
    """The flows moved from one metric to another (after a platform switch)."""
    return {
        "type": "flow-retarget",
        "id": f"{from_metric_id}-{to_metric_id}",
        "attributes": {
            "from_metric_id": from_metric_id,
            "to_metric_id": to_metric_id,
            "flow_ids": flow_ids,
        },
    }
