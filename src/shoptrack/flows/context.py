"""What a flow step sees of its profile and trigger event, read from the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from shoptrack.flows.conditions import ConditionContext, MetricCounter
from shoptrack.store.flows import count_profile_events
from shoptrack.store.schema import events, metrics, profiles

__all__ = [
    "TriggerEvent",
    "condition_context",
    "load_profiles",
    "load_triggers",
    "metric_counter",
    "profile_document",
]

_PROFILE_FIELDS = (
    "id",
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
)


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
    if not ids:
        return {}
    rows = connection.execute(
        select(profiles).where(profiles.c.account_id == account_id, profiles.c.id.in_(list(ids)))
    )
    return {row.id: profile_document(row) for row in rows}


def load_triggers(
    connection: Connection, account_id: str, ids: Sequence[str]
) -> dict[str, TriggerEvent]:
    if not ids:
        return {}
    rows = connection.execute(
        select(events, metrics.c.name.label("metric_name"))
        .join(metrics, metrics.c.id == events.c.metric_id)
        .where(events.c.account_id == account_id, events.c.id.in_(list(ids)))
    )
    return {
        row.id: TriggerEvent(
            id=row.id,
            metric=row.metric_name,
            metric_id=row.metric_id,
            time=row.time,
            value=row.value,
            currency=row.value_currency,
            properties=row.properties or {},
        )
        for row in rows
    }


def metric_counter(connection: Connection, account_id: str) -> MetricCounter:
    def count(
        profile_id: str,
        metric: str,
        metric_id: str | None,
        since: datetime | None,
        excluding_event_id: str | None,
    ) -> int:
        return count_profile_events(
            connection,
            account_id,
            profile_id,
            metric=metric,
            metric_id=metric_id,
            since=since,
            excluding_event_id=excluding_event_id,
        )

    return count


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
