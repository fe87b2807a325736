"""Recording events in sets: metrics, the exactly-once keys, profiles, event rows and rollups,
in a handful of statements whatever the number of events."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, case, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from shoptrack.domain.events import EventDraft, Metric
from shoptrack.ids import new_id
from shoptrack.store.metrics import ensure_metric
from shoptrack.store.profiles import PersonKey, person_key, resolve_profiles
from shoptrack.store.schema import event_keys, events, metric_rollups, profile_orders, profiles
from shoptrack.store.sql import (
    execute_many,
    insert_ignore_returning,
    insert_many,
    upsert_add_many,
)
from shoptrack.store.types import UTCDateTime

__all__ = ["RecordedEvent", "Recording", "record_events"]

# Built once: constructing a statement per batch costs more than it should.
_LAST_EVENT = profiles.c.last_event_at
_NEWEST = bindparam("p_time", type_=UTCDateTime())
_TOUCH_PROFILE = (
    update(profiles)
    .where(profiles.c.id == bindparam("p_id"))
    .values(
        last_event_at=case(
            (or_(_LAST_EVENT.is_(None), _LAST_EVENT < _NEWEST), _NEWEST), else_=_LAST_EVENT
        )
    )
)
_KEY_COLUMNS = ("account_id", "metric_id", "unique_id")


@dataclass(frozen=True, slots=True)
class Recording:
    """An event to record: its draft, its account and the integration and inbox row it came
    from; ``source`` names the metric's source when it is neither an integration nor the API
    (``email``: what flow emails record)."""

    account_id: str
    draft: EventDraft
    integration_id: str | None = None
    inbox_id: int | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event that was inserted (not a duplicate): what flows are handed."""

    id: str
    account_id: str
    metric_id: str
    metric: str
    profile_id: str
    integration_id: str | None
    time: datetime
    backfill: bool
    inbox_id: int | None = None
    test: bool = False  # a store's test order or one of ``shoptrack test-order``


@dataclass(frozen=True, slots=True)
class _Candidate:
    recording: Recording
    metric_id: str
    event_id: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.recording.account_id, self.metric_id, self.recording.draft.unique_id


def record_events(
    connection: Connection, recordings: Sequence[Recording], now: datetime
) -> list[RecordedEvent]:
    """Records the events whose metric has no event with their ``unique_id`` yet (the first of
    several with one key in ``recordings``); returns those inserted, in the order given.

    Rows are locked in one order for every worker: event keys, then profiles (in id order),
    then rollups and profiles' order statistics (in key order) — each in one or a few
    statements.
    """
    candidates = _candidates(connection, recordings, now)
    if not candidates:
        return []
    key_rows = [
        {
            "account_id": candidate.recording.account_id,
            "metric_id": candidate.metric_id,
            "unique_id": candidate.recording.draft.unique_id,
            "event_id": candidate.event_id,
            "time": candidate.recording.draft.time,
        }
        for candidate in sorted(candidates, key=lambda c: c.key)
    ]
    inserted = {
        (row.account_id, row.metric_id, row.unique_id)
        for row in insert_ignore_returning(
            connection, event_keys, key_rows, _KEY_COLUMNS, _KEY_COLUMNS
        )
    }
    fresh = [candidate for candidate in candidates if candidate.key in inserted]
    if not fresh:
        return []
    keys = [person_key(c.recording.account_id, c.recording.draft.person) for c in fresh]
    newest: dict[PersonKey, datetime] = {}
    for key, candidate in zip(keys, fresh, strict=True):
        time = candidate.recording.draft.time
        newest[key] = max(time, newest.get(key, time))
    people = [(c.recording.account_id, c.recording.draft.person) for c in fresh]
    # New profiles are inserted with their newest event's time: only found ones are touched.
    profiles_of = resolve_profiles(connection, people, now, last_event_at=newest)
    recorded = [
        _recorded(candidate, profiles_of.ids[key])
        for candidate, key in zip(fresh, keys, strict=True)
    ]
    insert_many(
        connection,
        events,
        [_event_row(c, event, now) for c, event in zip(fresh, recorded, strict=True)],
    )
    _touch_profiles(
        connection, [event for event in recorded if event.profile_id not in profiles_of.created]
    )
    _add_to_rollups(connection, fresh)
    _add_to_profile_orders(connection, fresh, recorded)
    return recorded


def _candidates(
    connection: Connection, recordings: Sequence[Recording], now: datetime
) -> list[_Candidate]:
    """Each recording with its metric and a new event id; later ones repeating a key dropped."""
    metric_ids: dict[tuple[str, str | None, str | None, str], str] = {}
    candidates: dict[tuple[str, str, str], _Candidate] = {}
    for recording in recordings:
        metric_key = (
            recording.account_id,
            recording.integration_id,
            recording.source,
            recording.draft.metric,
        )
        if metric_key not in metric_ids:
            metric_ids[metric_key] = ensure_metric(
                connection,
                recording.account_id,
                recording.draft.metric,
                now,
                integration_id=recording.integration_id,
                source=recording.source,
            )
        candidate = _Candidate(recording, metric_ids[metric_key], new_id())
        candidates.setdefault(candidate.key, candidate)
    return list(candidates.values())


def _recorded(candidate: _Candidate, profile_id: str) -> RecordedEvent:
    recording = candidate.recording
    return RecordedEvent(
        id=candidate.event_id,
        account_id=recording.account_id,
        metric_id=candidate.metric_id,
        metric=recording.draft.metric,
        profile_id=profile_id,
        integration_id=recording.integration_id,
        time=recording.draft.time,
        backfill=recording.draft.backfill,
        inbox_id=recording.inbox_id,
        test=recording.draft.test,
    )


def _event_row(candidate: _Candidate, event: RecordedEvent, now: datetime) -> dict[str, Any]:
    draft = candidate.recording.draft
    return {
        "id": event.id,
        "time": draft.time,
        "account_id": event.account_id,
        "metric_id": event.metric_id,
        "profile_id": event.profile_id,
        "integration_id": event.integration_id,
        "unique_id": draft.unique_id,
        "value": draft.value,
        "value_currency": draft.value_currency,
        "properties": dict(draft.properties),
        "backfill": draft.backfill,
        "received_at": now,
        "inbox_id": event.inbox_id,
        "test": draft.test,
    }


def _touch_profiles(connection: Connection, recorded: Sequence[RecordedEvent]) -> None:
    """Moves each profile's last event time forward to its newest event, in profile order."""
    newest: dict[str, datetime] = {}
    for event in recorded:
        newest[event.profile_id] = max(event.time, newest.get(event.profile_id, event.time))
    if not newest:
        return
    execute_many(
        connection,
        _TOUCH_PROFILE,
        [{"p_id": profile_id, "p_time": newest[profile_id]} for profile_id in sorted(newest)],
    )


def _add_to_rollups(connection: Connection, fresh: Sequence[_Candidate]) -> None:
    """Adds the events to their metrics' hourly counts and sums (per currency, test orders
    apart), in key order."""
    counts: Counter[tuple[str, str, datetime, str, bool]] = Counter()
    sums: dict[tuple[str, str, datetime, str, bool], Decimal] = {}
    for candidate in fresh:
        draft = candidate.recording.draft
        key = (
            candidate.recording.account_id,
            candidate.metric_id,
            draft.time.replace(minute=0, second=0, microsecond=0),
            draft.value_currency or "",
            draft.test,
        )
        counts[key] += 1
        sums[key] = sums.get(key, Decimal(0)) + (draft.value or Decimal(0))
    upsert_add_many(
        connection,
        metric_rollups,
        [
            {
                "account_id": key[0],
                "metric_id": key[1],
                "hour": key[2],
                "currency": key[3],
                "test": key[4],
                "count": counts[key],
                "value_sum": sums[key],
            }
            for key in sorted(counts)
        ],
        conflict=("account_id", "metric_id", "hour", "currency", "test"),
        add=("count", "value_sum"),
    )


# Order metrics that make a profile's order statistics: placed adds, refunded takes away.
_PLACED = str(Metric.PLACED_ORDER)
_REFUNDED = str(Metric.REFUNDED_ORDER)


def _add_to_profile_orders(
    connection: Connection, fresh: Sequence[_Candidate], recorded: Sequence[RecordedEvent]
) -> None:
    """Adds live and backfill Placed and Refunded Order events (test orders left out) to their
    profiles' order statistics per currency, in key order."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for candidate, event in zip(fresh, recorded, strict=True):
        draft = candidate.recording.draft
        if draft.test or draft.metric not in (_PLACED, _REFUNDED):
            continue
        key = (event.profile_id, draft.value_currency or "")
        row = totals.setdefault(
            key,
            {
                "profile_id": key[0],
                "currency": key[1],
                "account_id": event.account_id,
                "orders": 0,
                "placed_value": Decimal(0),
                "refunded_value": Decimal(0),
                "first_order_at": None,
                "last_order_at": None,
            },
        )
        value = draft.value or Decimal(0)
        if draft.metric == _REFUNDED:
            row["refunded_value"] += value
            continue
        row["orders"] += 1
        row["placed_value"] += value
        first, last = row["first_order_at"], row["last_order_at"]
        row["first_order_at"] = draft.time if first is None else min(first, draft.time)
        row["last_order_at"] = draft.time if last is None else max(last, draft.time)
    if totals:
        statement = _profile_orders_upsert(connection.dialect.name)
        execute_many(connection, statement, [totals[key] for key in sorted(totals)])


@functools.cache
def _profile_orders_upsert(dialect_name: str) -> Any:
    table = profile_orders
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
    new = insert.excluded

    def earliest(column: str) -> Any:
        old = table.c[column]
        return case(
            (new[column].is_(None), old),
            (or_(old.is_(None), new[column] < old), new[column]),
            else_=old,
        )

    def latest(column: str) -> Any:
        old = table.c[column]
        return case(
            (new[column].is_(None), old),
            (or_(old.is_(None), new[column] > old), new[column]),
            else_=old,
        )

    return insert.on_conflict_do_update(
        index_elements=["profile_id", "currency"],
        set_={
            "orders": table.c.orders + new.orders,
            "placed_value": table.c.placed_value + new.placed_value,
            "refunded_value": table.c.refunded_value + new.refunded_value,
            "first_order_at": earliest("first_order_at"),
            "last_order_at": latest("last_order_at"),
        },
    )
