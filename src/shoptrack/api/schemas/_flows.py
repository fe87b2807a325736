"""Flows, their messages, statistics and retargets, a profile's flow activity, the suppression
list, and the flow reports."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from shoptrack.api.schemas._common import (
    CollectionLinks,
    Links,
    ManyReferences,
    ManyRelationship,
    OpenModel,
)

__all__ = [
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
    "SuppressionResponse",
    "SuppressionResponseCollection",
]


class FlowResponseAttributes(OpenModel):
    name: str | None = None
    status: str | None = None
    archived: bool | None = None
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None
    trigger_type: str | None = None
    template: str | None = None
    trigger_metric_id: str | None = None
    definition: dict[str, Any] | None = None


class FlowResource(OpenModel):
    type: Literal["flow"]
    id: str
    attributes: FlowResponseAttributes
    relationships: dict[str, ManyRelationship]
    links: Links


class FlowResponseCollection(OpenModel):
    data: list[FlowResource]
    links: CollectionLinks


class FlowResponse(OpenModel):
    data: FlowResource
    links: Links | None = None


class FlowCreatedMeta(OpenModel):
    warnings: list[dict[str, Any]]


class FlowCreated(OpenModel):
    data: FlowResource
    meta: FlowCreatedMeta


class FlowMessageResource(OpenModel):
    type: Literal["flow-message"]
    id: str
    attributes: dict[str, Any]
    links: Links


class FlowMessageResponseCollection(OpenModel):
    data: list[FlowMessageResource]
    links: Links


class FlowMessageResponse(OpenModel):
    data: FlowMessageResource


class FlowStatisticsResource(OpenModel):
    type: Literal["flow-statistics"]
    id: str
    attributes: dict[str, Any]
    links: Links


class FlowStatisticsResponse(OpenModel):
    data: FlowStatisticsResource


class FlowRetargetResponseAttributes(OpenModel):
    from_metric_id: str
    to_metric_id: str
    flow_ids: list[str]


class FlowRetargetResource(OpenModel):
    type: Literal["flow-retarget"]
    id: str
    attributes: FlowRetargetResponseAttributes


class FlowRetargetResponse(OpenModel):
    data: FlowRetargetResource


class FlowActivityResponseAttributes(OpenModel):
    flow_id: str
    flow_run_id: str | int | None
    step_id: str | None
    kind: str
    reason: str | None
    detail: Any = None
    datetime: AwareDatetime


class FlowActivityResource(OpenModel):
    type: Literal["flow-activity"]
    id: str
    attributes: FlowActivityResponseAttributes


class FlowActivityResponseCollection(OpenModel):
    data: list[FlowActivityResource]
    links: Links


class SuppressionResponseAttributes(OpenModel):
    email: str
    reason: str
    created: AwareDatetime


class SuppressionResource(OpenModel):
    type: Literal["email-suppression"]
    id: str
    attributes: SuppressionResponseAttributes


class SuppressionResponseCollection(OpenModel):
    data: list[SuppressionResource]
    links: Links


class SuppressionResponse(OpenModel):
    data: SuppressionResource


class FlowReportResult(OpenModel):
    groupings: dict[str, Any]
    statistics: dict[str, Any]


class FlowValuesReportAttributes(OpenModel):
    results: list[FlowReportResult]


class FlowSeriesReportAttributes(OpenModel):
    results: list[FlowReportResult]
    date_times: list[AwareDatetime]


class FlowReportRelationships(OpenModel):
    flows: ManyReferences
    flow_messages: ManyReferences = Field(alias="flow-messages")


class FlowValuesReportResource(OpenModel):
    type: Literal["flow-values-report"]
    attributes: FlowValuesReportAttributes
    relationships: FlowReportRelationships


class FlowSeriesReportResource(OpenModel):
    type: Literal["flow-series-report"]
    attributes: FlowSeriesReportAttributes
    relationships: FlowReportRelationships


class FlowValuesReportResponse(OpenModel):
    data: FlowValuesReportResource
    links: Links


class FlowSeriesReportResponse(OpenModel):
    data: FlowSeriesReportResource
    links: Links
