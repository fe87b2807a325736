"""The doctor's findings, and the alerts the watchdog opens from them (with who hears of
them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from shoptrack.api.schemas._common import (
    CollectionLinks,
    Links,
    OpenModel,
)

__all__ = [
    "AlertResponse",
    "AlertResponseCollection",
    "AlertSubscriptionCreated",
    "AlertSubscriptionResponseCollection",
    "FindingResponse",
    "ReportResponse",
]


class FindingResponseAttributes(OpenModel):
    code: str
    severity: Literal["ok", "info", "warning", "error"]
    summary: str
    evidence: dict[str, Any]
    fix: dict[str, Any] | None
    integration_id: str | None


class FindingResource(OpenModel):
    type: Literal["finding"]
    id: str
    attributes: FindingResponseAttributes
    links: dict[str, str] | None = None


class ReportMeta(OpenModel):
    worst: str
    counts: dict[str, int]
    order: dict[str, Any] | None = None


class ReportResponse(OpenModel):
    data: list[FindingResource]
    meta: ReportMeta
    links: Links


class FixMeta(OpenModel):
    done: Any
    worst: str


class FindingResponse(OpenModel):
    data: FindingResource
    meta: FixMeta


class AlertResponseAttributes(OpenModel):
    code: str
    severity: str
    summary: str
    integration_id: str | None
    opened: AwareDatetime
    last_seen: AwareDatetime
    resolved: AwareDatetime | None
    finding: dict[str, Any]


class AlertResource(OpenModel):
    type: Literal["alert"]
    id: str
    attributes: AlertResponseAttributes
    links: Links


class AlertResponseCollection(OpenModel):
    data: list[AlertResource]
    links: CollectionLinks


class AlertResponse(OpenModel):
    data: AlertResource


class AlertSubscriptionResponseAttributes(OpenModel):
    channel: Literal["email", "webhook"]
    email: str | None
    url: str | None
    created: AwareDatetime
    secret: str | None = Field(
        default=None, description="a webhook's signing secret: in the answer that makes it only"
    )


class AlertSubscriptionResource(OpenModel):
    type: Literal["alert-subscription"]
    id: str
    attributes: AlertSubscriptionResponseAttributes
    links: Links


class AlertSubscriptionResponseCollection(OpenModel):
    data: list[AlertSubscriptionResource]
    links: Links


class AlertSubscriptionCreated(OpenModel):
    data: AlertSubscriptionResource
