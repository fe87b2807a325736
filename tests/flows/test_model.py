"""The flow model and its conditions, without a database: what a definition may be, and how
conditions read profiles, events and metric counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shoptrack.flows.conditions import ConditionContext, describe, failing_condition, holds
from shoptrack.flows.library import LIBRARY
from shoptrack.flows.model import (
    EventPropertyCondition,
    FlowDefinition,
    ProfileMetricCondition,
    ProfilePropertyCondition,
    Reentry,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _context(count: int = 0, **properties: Any) -> tuple[ConditionContext, list[tuple[Any, ...]]]:
    asked: list[tuple[Any, ...]] = []

    def counter(
        profile_id: str,
        *,
        metric: str,
        metric_id: str | None,
        since: datetime | None,
        excluding_event_id: str | None,
    ) -> int:
        asked.append((profile_id, metric, metric_id, since, excluding_event_id))
        return count

    context = ConditionContext(
        profile={"id": "p1", "email": "a@x.com", "properties": {"Tier": "gold", "Visits": 3}},
        event_properties=properties,
        event_value=Decimal("49.90"),
        trigger_event_id="e1",
        trigger_time=NOW,
        count=counter,
    )
    return context, asked


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"property": "$value", "operator": "greater-than", "value": 49}, True),
        ({"property": "$value", "operator": "less-than", "value": "49.9"}, False),
        ({"property": "Country", "operator": "equals", "value": "DE"}, True),
        ({"property": "Country", "operator": "not-equals", "value": "DE"}, False),
        ({"property": "Missing", "operator": "not-equals", "value": "DE"}, True),
        ({"property": "Missing", "operator": "equals", "value": "DE"}, False),
        ({"property": "Missing", "operator": "exists"}, False),
        ({"property": "Missing", "operator": "not-exists"}, True),
        ({"property": "ItemNames", "operator": "contains", "value": "Mug"}, True),
        ({"property": "ItemNames", "operator": "contains", "value": "mug"}, False),
        ({"property": "Note", "operator": "contains", "value": "GIFT"}, True),
        ({"property": "Items.0.Quantity", "operator": "greater-or-equal", "value": 2}, True),
        ({"property": "Items.3.Quantity", "operator": "exists"}, False),
        ({"property": "Note", "operator": "greater-than", "value": 1}, False),
    ],
)
def test_event_property_conditions(condition: dict[str, Any], expected: bool) -> None:
    context, _ = _context(
        Country="DE", ItemNames=["Mug", "Towel"], Note="a gift", Items=[{"Quantity": 2}]
    )
    parsed = EventPropertyCondition.model_validate({"type": "event-property", **condition})
    assert holds(parsed, context) is expected


def test_profile_conditions_read_attributes_and_count_metrics() -> None:
    context, asked = _context(count=1)
    tier = ProfilePropertyCondition(
        type="profile-property", property="properties.Tier", operator="equals", value="gold"
    )
    assert holds(tier, context)
    first_order = ProfileMetricCondition(
        type="profile-metric", metric="Placed Order", operator="equals", value=1
    )
    assert holds(first_order, context)
    since_start = ProfileMetricCondition(
        type="profile-metric",
        metric="Placed Order",
        operator="equals",
        value=0,
        timeframe="flow-start",
    )
    assert failing_condition([tier, since_start], context) is since_start
    # All time counts everything; since the flow started counts after the trigger, without it.
    assert asked == [
        ("p1", "Placed Order", None, None, None),
        ("p1", "Placed Order", None, NOW, "e1"),
    ]
    assert describe(since_start) == "has done Placed Order equals 0 times since starting this flow"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"actions": [{"type": "exit", "id": "a"}, {"type": "exit", "id": "a"}], "entry": "a"},
            "unique",
        ),
        ({"actions": [{"type": "exit", "id": "a"}]}, "entry must name"),
        (
            {
                "actions": [
                    {"type": "time-delay", "id": "a", "unit": "hours", "value": 1, "next": "z"}
                ],
                "entry": "a",
            },
            "leads to no step",
        ),
        (
            {
                "actions": [
                    {"type": "time-delay", "id": "a", "unit": "hours", "value": 1, "next": "b"},
                    {
                        "type": "conditional-split",
                        "id": "b",
                        "conditions": [
                            {
                                "type": "profile-metric",
                                "metric": "X",
                                "operator": "equals",
                                "value": 0,
                            }
                        ],
                        "yes": "c",
                        "no": "a",
                    },
                    {"type": "exit", "id": "c"},
                ],
                "entry": "a",
            },
            "may not loop",
        ),
        (
            {
                "actions": [
                    {
                        "type": "send-webhook",
                        "id": "a",
                        "url": "ftp://x",
                        "secret_encrypted": "sealed",
                    }
                ],
                "entry": "a",
            },
            "pattern",
        ),
        (
            {
                "profile_filters": [
                    {"type": "event-property", "property": "x", "operator": "exists"}
                ]
            },
            "profile_filters",
        ),
    ],
)
def test_bad_definitions_are_refused(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FlowDefinition.model_validate(document)


def test_a_split_that_joins_again_is_no_loop() -> None:
    FlowDefinition.model_validate(
        {
            "actions": [
                {
                    "type": "conditional-split",
                    "id": "s",
                    "conditions": [
                        {"type": "profile-property", "property": "email", "operator": "exists"}
                    ],
                    "yes": "d",
                    "no": "d",
                },
                {"type": "time-delay", "id": "d", "unit": "days", "value": 1},
            ],
            "entry": "s",
        }
    )


def test_reentry_windows() -> None:
    assert Reentry().window is None
    assert Reentry(unit="alltime", duration=1).window == timedelta.max
    assert Reentry(unit="day", duration=2).window == timedelta(days=2)


def test_every_library_flow_is_a_valid_definition() -> None:
    for template in LIBRARY.values():
        definition = template.build()
        assert FlowDefinition.model_validate(definition.model_dump(mode="json")) == definition
        assert definition.messages(), template.key
