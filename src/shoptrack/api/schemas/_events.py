"""Events, metrics (and their aggregates) and profiles: the Klaviyo-compatible resources."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime

from shoptrack.api.schemas._common import (
    CollectionLinks,
    Links,
    OpenModel,
    Relationship,
)

__all__ = [
    "EventResponse",
    "EventResponseCollection",
    "MetricAggregateResponse",
    "MetricResponse",
    "MetricResponseCollection",
    "ProfileResponse",
    "ProfileResponseCollection",
]


class EventResponseAttributes(OpenModel):
    timestamp: int | None = None
    event_properties: dict[str, Any] | None = None
    datetime: AwareDatetime | None = None
    uuid: str | None = None


class EventResource(OpenModel):
    type: Literal["event"]
    id: str
    attributes: EventResponseAttributes
    relationships: dict[str, Relationship]
    links: Links


class MetricResponseAttributes(OpenModel):
    name: str | None = None
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None
    integration: dict[str, Any] | None = None


class MetricResource(OpenModel):
    type: Literal["metric"]
    id: str
    attributes: MetricResponseAttributes
    links: Links


class ProfileResponseAttributes(OpenModel):
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


class ProfileResource(OpenModel):
    type: Literal["profile"]
    id: str
    attributes: ProfileResponseAttributes
    links: Links


class EventResponseCollection(OpenModel):
    data: list[EventResource]
    links: CollectionLinks
    included: list[MetricResource | ProfileResource] | None = None


class EventResponse(OpenModel):
    data: EventResource
    included: list[MetricResource | ProfileResource] | None = None


class MetricResponseCollection(OpenModel):
    data: list[MetricResource]
    links: CollectionLinks


class MetricResponse(OpenModel):
    data: MetricResource
    links: Links | None = None


class ProfileResponseCollection(OpenModel):
    data: list[ProfileResource]
    links: CollectionLinks


class ProfileResponse(OpenModel):
    data: ProfileResource


class AggregateRow(OpenModel):
    dimensions: list[str]
    measurements: dict[str, list[float]]


class MetricAggregateResponseAttributes(OpenModel):
    dates: list[AwareDatetime] | None = None
    data: list[AggregateRow] | None = None


class MetricAggregateResource(OpenModel):
    type: Literal["metric-aggregate"]
    id: str
    attributes: MetricAggregateResponseAttributes
    links: Links


class MetricAggregateResponse(OpenModel):
    data: MetricAggregateResource
    links: CollectionLinks
