"""Events sent by custom shops in Klaviyo's ``POST /api/events`` form, checked and mapped to
event drafts. Limits are Klaviyo's: a metric name of at most 128 characters, at most 400
properties, strings of at most 100 KB, a time after 1990 and at most a year ahead."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shoptrack.domain.events import EventDraft, Person
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.domain.properties import Properties

__all__ = [
    "EventCreate",
    "EventPayloadError",
    "ProfileAttributes",
    "event_draft",
    "parse_event",
    "pointer_of",
]

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=365)


class EventPayloadError(ValueError):
    """An event that cannot be recorded; ``pointer`` is the JSON pointer of the field at fault."""

    def __init__(self, detail: str, pointer: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProfileLocation(_Model):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    country: str | None = None
    region: str | None = None
    zip: str | None = None
    timezone: str | None = None
    ip: str | None = None
    latitude: float | str | None = None
    longitude: float | str | None = None


class ProfileAttributes(_Model):
    """A profile's identifiers and standard attributes, as Klaviyo names them."""

    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = Field(default=None, max_length=200)
    anonymous_id: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=32)
    title: str | None = Field(default=None, max_length=200)
    image: str | None = Field(default=None, max_length=2000)
    location: ProfileLocation | None = None
    properties: Properties | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        try:
            return normalize_email(value)
        except InvalidIdentifierError as error:
            raise ValueError(str(error)) from error

    @field_validator("phone_number")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        try:
            return normalize_phone(value)
        except InvalidIdentifierError as error:
            raise ValueError(str(error)) from error

    def person(self) -> Person:
        standard = {
            name: value
            for name in ("organization", "locale", "title", "image", "anonymous_id")
            if (value := getattr(self, name)) is not None
        }
        if self.location is not None:
            standard["location"] = self.location.model_dump(exclude_none=True)
        return Person(
            profile_id=None,
            overwrite=True,
            email=self.email,
            phone_number=self.phone_number,
            external_id=self.external_id or None,
            first_name=self.first_name,
            last_name=self.last_name,
            properties=self.properties or {},
            attributes=standard,
        )


class EventProfileData(_Model):
    type: Literal["profile"]
    id: str | None = None
    attributes: ProfileAttributes = ProfileAttributes()


class EventProfileRef(_Model):
    data: EventProfileData


class EventMetricAttributes(_Model):
    name: str = Field(min_length=1, max_length=128)
    service: str | None = None


class EventMetricData(_Model):
    type: Literal["metric"]
    attributes: EventMetricAttributes


class EventMetricRef(_Model):
    data: EventMetricData


class EventAttributes(_Model):
    properties: Properties
    metric: EventMetricRef
    profile: EventProfileRef
    time: datetime | None = None
    value: Decimal | None = Field(
        default=None, allow_inf_nan=False, max_digits=20, decimal_places=4
    )
    value_currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    unique_id: str | None = Field(default=None, min_length=1, max_length=255)
    backfill: bool = False

    @field_validator("time")
    @classmethod
    def _time(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # Klaviyo reads a time without offset as UTC
        try:
            return value.astimezone(UTC).replace(microsecond=0)
        except OverflowError:
            # Year 1 east of UTC (or 9999 west of it) has no UTC time; either is out of range.
            raise ValueError("time must be after 1990 and at most one year ahead") from None


class EventData(_Model):
    type: Literal["event"]
    attributes: EventAttributes


class EventCreate(_Model):
    """The body of ``POST /api/events`` and ``POST /client/events``."""

    data: EventData


def pointer_of(location: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(part) for part in location)


def parse_event(document: Any, *, now: datetime) -> EventCreate:
    """Checks an event document against Klaviyo's rules; ``EventPayloadError`` names the field."""
    try:
        event = EventCreate.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        pointer = pointer_of(tuple(first["loc"]))
        message = first["msg"].removeprefix("Value error, ")
        raise EventPayloadError(f"{pointer}: {message}", pointer) from error
    attributes = event.data.attributes
    profile = attributes.profile.data
    if profile.id is None and not profile.attributes.person().identified:
        raise EventPayloadError(
            "the profile needs an email, a phone_number, an external_id or an id",
            "/data/attributes/profile/data/attributes",
        )
    if attributes.time is not None and not (EARLIEST <= attributes.time <= now + LATEST_AHEAD):
        raise EventPayloadError(
            "time must be after 1990 and at most one year ahead", "/data/attributes/time"
        )
    return event


def event_draft(
    event: EventCreate, *, received_at: datetime, default_unique: str | None = None
) -> EventDraft:
    """The draft of a checked event. Without a ``unique_id`` the event is unique per profile,
    metric and second (Klaviyo's rule), which ``default_unique`` spells for the caller's profile."""
    attributes = event.data.attributes
    time = attributes.time or received_at.replace(microsecond=0)
    profile = attributes.profile.data
    person = replace(profile.attributes.person(), profile_id=profile.id)
    unique_id = (
        attributes.unique_id or f"{default_unique or _identity(person)}@{int(time.timestamp())}"
    )
    return EventDraft(
        metric=attributes.metric.data.attributes.name,
        person=person,
        time=time,
        unique_id=unique_id,
        properties=attributes.properties,
        value=attributes.value,
        value_currency=attributes.value_currency.upper() if attributes.value_currency else None,
        backfill=attributes.backfill,
    )


def _identity(person: Person) -> str:
    for value in (person.profile_id, person.email, person.phone_number, person.external_id):
        if value:
            return value
    return "anonymous"
