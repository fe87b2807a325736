"""What a flow step sees of its profile and trigger event, read from the store."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from shoptrack.flows.conditions import ConditionContext, MetricCounter
from shoptrack.store._rows import from_row
from shoptrack.store.events import events_by_id, profiles_by_id
from shoptrack.store.flows import count_profile_events
from shoptrack.store.profiles import PROFILE_DETAILS

__all__ = [
    "TriggerEvent",
    "condition_context",
    "load_profiles",
    "load_triggers",
    "metric_counter",
    "profile_document",
]

_PROFILE_FIELDS = ("id", "email", "phone_number", "external_id", *PROFILE_DETAILS)


@dataclass(frozen=True, slots=True)
class TriggerEvent:
    """The event that started a run: what conditions, templates and webhooks read."""

    id: str
    metric: str
    metric_id: str
    time: datetime
    value: Decimal | None
    currency: str | None
    properties: Mapping[str, Any]

    def document(self) -> dict[str, Any]:
        """The event as JSON for webhooks."""
        return {
            "id": self.id,
            "metric": {"id": self.metric_id, "name": self.metric},
            "time": self.time.isoformat(),
            "value": None if self.value is None else float(self.value),
            "value_currency": self.currency,
            "properties": dict(self.properties),
        }


def profile_document(row: Any) -> dict[str, Any]:
    """A profile as conditions and templates see it."""
    document = {name: getattr(row, name) for name in _PROFILE_FIELDS}
    document["location"] = row.location or {}
    document["properties"] = row.properties or {}
    return document


def load_profiles(
    connection: Connection, account_id: str, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    return {
        profile_id: profile_document(row)
        for profile_id, row in profiles_by_id(connection, account_id, ids).items()
    }


def load_triggers(
    connection: Connection, account_id: str, ids: Sequence[str]
) -> dict[str, TriggerEvent]:
    return {
        row.id: from_row(
            TriggerEvent,
            row,
            metric=row.metric_name,
            currency=row.value_currency,
            properties=row.properties or {},
        )
        for row in events_by_id(connection, account_id, ids)
    }


def metric_counter(connection: Connection, account_id: str) -> MetricCounter:
    """Counts the account's events of a profile in the caller's transaction."""
    return functools.partial(count_profile_events, connection, account_id)


def condition_context(
    connection: Connection, account_id: str, profile: Mapping[str, Any], trigger: TriggerEvent
) -> ConditionContext:
    return ConditionContext(
        profile=profile,
        event_properties=trigger.properties,
        event_value=trigger.value,
        trigger_event_id=trigger.id,
        trigger_time=trigger.time,
        count=metric_counter(connection, account_id),
    )
