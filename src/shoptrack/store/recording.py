"""Recording events in sets: metrics, the exactly-once keys, profiles, event rows and rollups,
in a handful of statements whatever the number of events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, case, or_, update

from shoptrack.domain.events import EventDraft
from shoptrack.ids import new_id
from shoptrack.store.metrics import ensure_metric
from shoptrack.store.profiles import person_key, resolve_profiles
from shoptrack.store.schema import event_keys, events, metric_rollups, profiles
from shoptrack.store.sql import insert_ignore_returning, upsert_add_many
from shoptrack.store.types import UTCDateTime

__all__ = ["RecordedEvent", "Recording", "record_events"]

# Built once: constructing a statement per batch costs more than it should.
_INSERT_EVENT = events.insert()
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
    from."""

    account_id: str
    draft: EventDraft
    integration_id: str | None = None
    inbox_id: int | None = None


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
    then rollups (in key order) — each in one or a few statements.
    """
    candidates = _candidates(connection, recordings, now)
    if not candidates:
        return []
    statement = insert_ignore_returning(connection, event_keys, _KEY_COLUMNS, _KEY_COLUMNS)
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
        for row in connection.execute(statement, key_rows)
    }
    fresh = [candidate for candidate in candidates if candidate.key in inserted]
    if not fresh:
        return []
    people = [(c.recording.account_id, c.recording.draft.person) for c in fresh]
    profile_ids = resolve_profiles(connection, people, now)
    recorded = [
        _recorded(candidate, profile_ids[person_key(*person)])
        for candidate, person in zip(fresh, people, strict=True)
    ]
    connection.execute(
        _INSERT_EVENT,
        [_event_row(c, event, now) for c, event in zip(fresh, recorded, strict=True)],
    )
    _touch_profiles(connection, recorded)
    _add_to_rollups(connection, fresh)
    return recorded


def _candidates(
    connection: Connection, recordings: Sequence[Recording], now: datetime
) -> list[_Candidate]:
    """Each recording with its metric and a new event id; later ones repeating a key dropped."""
    metric_ids: dict[tuple[str, str | None, str], str] = {}
    candidates: dict[tuple[str, str, str], _Candidate] = {}
    for recording in recordings:
        metric_key = (recording.account_id, recording.integration_id, recording.draft.metric)
        if metric_key not in metric_ids:
            metric_ids[metric_key] = ensure_metric(
                connection,
                recording.account_id,
                recording.draft.metric,
                now,
                integration_id=recording.integration_id,
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
    }


def _touch_profiles(connection: Connection, recorded: Sequence[RecordedEvent]) -> None:
    """Moves each profile's last event time forward to its newest event, in profile order."""
    newest: dict[str, datetime] = {}
    for event in recorded:
        newest[event.profile_id] = max(event.time, newest.get(event.profile_id, event.time))
    connection.execute(
        _TOUCH_PROFILE,
        [{"p_id": profile_id, "p_time": newest[profile_id]} for profile_id in sorted(newest)],
    )


def _add_to_rollups(connection: Connection, fresh: Sequence[_Candidate]) -> None:
    """Adds the events to their metrics' hourly counts and sums, in key order."""
    counts: Counter[tuple[str, str, datetime]] = Counter()
    sums: dict[tuple[str, str, datetime], Decimal] = {}
    for candidate in fresh:
        draft = candidate.recording.draft
        key = (
            candidate.recording.account_id,
            candidate.metric_id,
            draft.time.replace(minute=0, second=0, microsecond=0),
        )
        counts[key] += 1
        sums[key] = sums.get(key, Decimal(0)) + (draft.value or Decimal(0))
    upsert_add_many(
        connection,
        metric_rollups,
        [
            {
                "account_id": account_id,
                "metric_id": metric_id,
                "hour": hour,
                "count": counts[(account_id, metric_id, hour)],
                "value_sum": sums[(account_id, metric_id, hour)],
            }
            for account_id, metric_id, hour in sorted(counts)
        ],
        conflict=("account_id", "metric_id", "hour"),
        add=("count", "value_sum"),
    )
