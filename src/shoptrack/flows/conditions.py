"""Evaluating a flow's conditions against a profile and its trigger event.

Property conditions are pure; metric counts come from a :class:`MetricCounter` (the store's
count of the profile's events), so the rules can be tested without a database.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from shoptrack.flows.model import (
    EventPropertyCondition,
    ProfileMetricCondition,
    ProfilePropertyCondition,
)

__all__ = ["ConditionContext", "MetricCounter", "describe", "failing_condition", "holds"]

_MISSING = object()


class MetricCounter(Protocol):
    """Counts a profile's events of a metric (by name, or one metric id), optionally only after
    a time and leaving one event (the trigger) out."""

    def __call__(
        self,
        profile_id: str,
        *,
        metric: str,
        metric_id: str | None,
        since: datetime | None,
        excluding_event_id: str | None,
    ) -> int: ...


@dataclass(frozen=True, slots=True)
class ConditionContext:
    """What conditions look at: the profile's stored attributes, the trigger event, and how to
    count the profile's events."""

    profile: Mapping[str, Any]
    event_properties: Mapping[str, Any]
    event_value: Decimal | None
    trigger_event_id: str
    trigger_time: datetime
    count: MetricCounter


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _equals(actual: Any, expected: Any) -> bool:
    left, right = _number(actual), _number(expected)
    return left == right if left is not None and right is not None else bool(actual == expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected.lower() in actual.lower()
    return isinstance(actual, list) and expected in actual


def _ordered(test: Callable[[Decimal, Decimal], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: Any) -> bool:
        left, right = _number(actual), _number(expected)
        return left is not None and right is not None and test(left, right)

    return compare


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equals,
    "not-equals": lambda actual, expected: not _equals(actual, expected),
    "contains": _contains,
    "not-contains": lambda actual, expected: not _contains(actual, expected),
    "greater-than": _ordered(operator.gt),
    "greater-or-equal": _ordered(operator.ge),
    "less-than": _ordered(operator.lt),
    "less-or-equal": _ordered(operator.le),
}


def _compare(actual: Any, test: str, expected: Any) -> bool:
    present = actual is not _MISSING and actual is not None
    if test == "exists":
        return present
    if test == "not-exists":
        return not present
    if actual is _MISSING:
        # A property the profile or event does not have is "not equal" to anything, and fails
        # every other test.
        return test in ("not-equals", "not-contains")
    return _TESTS[test](actual, expected)


def _count_holds(count: int, operator: str, expected: int) -> bool:
    return {
        "equals": count == expected,
        "not-equals": count != expected,
        "greater-than": count > expected,
        "greater-or-equal": count >= expected,
        "less-than": count < expected,
        "less-or-equal": count <= expected,
    }[operator]


Conditional = EventPropertyCondition | ProfilePropertyCondition | ProfileMetricCondition


def holds(condition: Conditional, context: ConditionContext) -> bool:
    """Whether one condition holds."""
    if isinstance(condition, EventPropertyCondition):
        if condition.property == "$value":
            actual: Any = _MISSING if context.event_value is None else context.event_value
        else:
            actual = _lookup(context.event_properties, condition.property)
        return _compare(actual, condition.operator, condition.value)
    if isinstance(condition, ProfilePropertyCondition):
        return _compare(
            _lookup(context.profile, condition.property), condition.operator, condition.value
        )
    since_start = condition.timeframe == "flow-start"
    count = context.count(
        str(context.profile["id"]),
        metric=condition.metric,
        metric_id=condition.metric_id,
        since=context.trigger_time if since_start else None,
        excluding_event_id=context.trigger_event_id if since_start else None,
    )
    return _count_holds(count, condition.operator, condition.value)


def failing_condition(
    conditions: Sequence[Conditional], context: ConditionContext
) -> Conditional | None:
    """The first condition that does not hold, or None when all do."""
    return next((c for c in conditions if not holds(c, context)), None)


def describe(condition: Conditional) -> str:
    """A condition in words, for activity records: "has done Placed Order equals 0 times
    since starting this flow"."""
    if isinstance(condition, ProfileMetricCondition):
        timeframe = (
            "since starting this flow" if condition.timeframe == "flow-start" else "over all time"
        )
        return (
            f"has done {condition.metric} {condition.operator} {condition.value} times {timeframe}"
        )
    subject = "event" if isinstance(condition, EventPropertyCondition) else "profile"
    value = "" if condition.operator in ("exists", "not-exists") else f" {condition.value!r}"
    return f"{subject} {condition.property} {condition.operator}{value}"
