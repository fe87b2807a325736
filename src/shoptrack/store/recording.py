"""Recording events: metric, profile, the exactly-once key, the event row and its rollup."""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, case, literal, or_, update

from shoptrack.domain.events import EventDraft, Person
from shoptrack.ids import new_id
from shoptrack.store.metrics import ensure_metric
from shoptrack.store.profiles import primary_identifier, resolve_profile
from shoptrack.store.schema import event_keys, events, metric_rollups, profiles
from shoptrack.store.sql import insert_ignore, upsert_add
from shoptrack.store.types import UTCDateTime

__all__ = ["EventRecorder", "RecordedEvent"]

logger = logging.getLogger(__name__)

# Built once: constructing a statement per event cost more than executing it.
_INSERT_EVENT = events.insert()


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


class EventRecorder:
    """Records events inside the caller's transaction.

    Rollups and profiles' last event times are gathered in memory and written once by
    ``flush()``, sorted by key, so that concurrent workers on PostgreSQL take those row locks
    last and in one order. ``savepoint()``
    scopes work that may fail on its own without failing the rest of the batch.
    """

    def __init__(self, connection: Connection, now: datetime) -> None:
        self._connection = connection
        self._now = now
        self._rollup_entries: list[tuple[tuple[str, str, datetime], Decimal]] = []
        self._profile_ids: dict[tuple[str, str, str], str] = {}
        # A metric created inside a savepoint that rolls back is gone again: see savepoint().
        self._metric_ids: dict[tuple[str, str | None, str], str] = {}
        self._last_events: list[tuple[str, datetime]] = []
        self.recorded: list[RecordedEvent] = []

    @property
    def connection(self) -> Connection:
        return self._connection

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction; on failure what was recorded inside it is forgotten too."""
        marks = len(self.recorded), len(self._rollup_entries), len(self._last_events)
        try:
            with self._connection.begin_nested():
                yield
        except BaseException:
            self._metric_ids.clear()
            del self.recorded[marks[0] :]
            del self._rollup_entries[marks[1] :]
            del self._last_events[marks[2] :]
            raise

    def resolve_profiles(self, people: Iterable[tuple[str, Person]]) -> None:
        """Finds or creates the profiles of a batch's people up front, sorted.

        Concurrent workers then take profile locks before order-state locks, and each in one
        order, so two batches that share a new customer and an order cannot deadlock.
        """
        keys = {
            (account_id, *primary_identifier(person)): person
            for account_id, person in people
            if person.identified
        }
        resolved: dict[tuple[str, str, str], str] = {}
        try:
            # One savepoint for all: if any fails, none is kept and each row resolves its own
            # people inside its own savepoint instead (the lock order is then only likely).
            with self._connection.begin_nested():
                for key in sorted(keys):
                    resolved[key] = resolve_profile(self._connection, key[0], keys[key], self._now)
        except Exception:  # noqa: BLE001  # rows meet the same error alone, where it is recorded
            logger.warning("resolving a batch's profiles failed; rows will resolve their own")
            return
        self._profile_ids.update(resolved)

    def _profile_id(self, account_id: str, person: Person) -> str:
        key = (account_id, *primary_identifier(person))
        if key not in self._profile_ids:
            self._profile_ids[key] = resolve_profile(
                self._connection, account_id, person, self._now
            )
        return self._profile_ids[key]

    def record(
        self,
        account_id: str,
        draft: EventDraft,
        *,
        integration_id: str | None = None,
        inbox_id: int | None = None,
    ) -> RecordedEvent | None:
        """Inserts the event unless its metric already has one with its ``unique_id``."""
        connection = self._connection
        metric_key = (account_id, integration_id, draft.metric)
        if metric_key not in self._metric_ids:
            self._metric_ids[metric_key] = ensure_metric(
                connection, account_id, draft.metric, self._now, integration_id=integration_id
            )
        metric_id = self._metric_ids[metric_key]
        event_id = new_id()
        fresh = insert_ignore(
            connection,
            event_keys,
            {
                "account_id": account_id,
                "metric_id": metric_id,
                "unique_id": draft.unique_id,
                "event_id": event_id,
                "time": draft.time,
            },
            conflict=("account_id", "metric_id", "unique_id"),
        )
        if not fresh:
            return None
        profile_id = self._profile_id(account_id, draft.person)
        connection.execute(
            _INSERT_EVENT,
            {
                "id": event_id,
                "time": draft.time,
                "account_id": account_id,
                "metric_id": metric_id,
                "profile_id": profile_id,
                "integration_id": integration_id,
                "unique_id": draft.unique_id,
                "value": draft.value,
                "value_currency": draft.value_currency,
                "properties": dict(draft.properties),
                "backfill": draft.backfill,
                "received_at": self._now,
                "inbox_id": inbox_id,
            },
        )
        self._last_events.append((profile_id, draft.time))
        hour = draft.time.replace(minute=0, second=0, microsecond=0)
        self._rollup_entries.append(((account_id, metric_id, hour), draft.value or Decimal(0)))
        recorded = RecordedEvent(
            id=event_id,
            account_id=account_id,
            metric_id=metric_id,
            metric=draft.metric,
            profile_id=profile_id,
            integration_id=integration_id,
            time=draft.time,
            backfill=draft.backfill,
            inbox_id=inbox_id,
        )
        self.recorded.append(recorded)
        return recorded

    def flush(self) -> None:
        """Writes the rollups and the profiles' last event times of everything recorded."""
        latest: dict[str, datetime] = {}
        for profile_id, time in self._last_events:
            latest[profile_id] = max(time, latest.get(profile_id, time))
        last = profiles.c.last_event_at
        for profile_id in sorted(latest):
            newest = literal(latest[profile_id], UTCDateTime())
            self._connection.execute(
                update(profiles)
                .where(profiles.c.id == profile_id)
                .values(
                    last_event_at=case((or_(last.is_(None), last < newest), newest), else_=last)
                )
            )
        self._last_events.clear()
        counts: Counter[tuple[str, str, datetime]] = Counter()
        sums: dict[tuple[str, str, datetime], Decimal] = {}
        for key, value in self._rollup_entries:
            counts[key] += 1
            sums[key] = sums.get(key, Decimal(0)) + value
        for key in sorted(counts):
            account_id, metric_id, hour = key
            upsert_add(
                self._connection,
                metric_rollups,
                {
                    "account_id": account_id,
                    "metric_id": metric_id,
                    "hour": hour,
                    "count": counts[key],
                    "value_sum": sums[key],
                },
                conflict=("account_id", "metric_id", "hour"),
                add=("count", "value_sum"),
            )
        self._rollup_entries.clear()
