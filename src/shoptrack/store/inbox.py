"""The inbox: every delivery received, raw, before anything clever happens to it.

A row is written ``pending`` (to be processed), ``rejected`` (bad signature: kept for the
doctor) or ``ignored`` (a disabled integration: kept to replay). Processing moves pending rows to
``processed``, or back to pending with a delay after a failure, and after ``MAX_ATTEMPTS`` to
``dead``, where ``replay`` finds them.

A rejected row keeps what the doctor needs — headers, reason, size, SHA-256 and the first
``REJECTED_BODY_BYTES`` of the body — and no more, unless the delivery proves it came from the
store (see ``as_rejected``): anyone can post to a webhook URL, and a refusal must not cost disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, Select, delete, func, literal_column, select, update

from shoptrack.store._rows import from_row
from shoptrack.store.database import Database
from shoptrack.store.schema import inbox
from shoptrack.store.sql import (
    for_update,
    in_values,
    insert_ignore_returning,
    sqlite_insert_ignore_returning,
)

__all__ = [
    "MAX_ATTEMPTS",
    "PENDING_ROWS",
    "REJECTED_BODY_BYTES",
    "REJECTED_KEPT",
    "InboxAppender",
    "InboxEntry",
    "InboxRow",
    "InboxShare",
    "InboxState",
    "ReplaySelection",
    "ShareRun",
    "as_rejected",
    "claim_pending",
    "claimable",
    "deliveries_after",
    "delivery_counts",
    "has_pending",
    "list_deliveries",
    "mark_failed",
    "mark_nul_characters_removed",
    "mark_processed",
    "peek_pending",
    "peek_share",
    "pending_before",
    "pending_count",
    "prune_rejected",
    "recent_deliveries",
    "replay",
    "retry_delay",
    "write_entries",
    "write_entry",
]

MAX_ATTEMPTS = 5
# How much of a rejected delivery's body is kept: enough to see what it was.
REJECTED_BODY_BYTES = 4096
# And of its headers: the first ones, each value cut (a signature or an id is far shorter).
_REJECTED_HEADERS = 40
_REJECTED_HEADER_CHARS = 512
# How long rejected rows are kept: twice the doctor's window of seven days.
REJECTED_KEPT = timedelta(days=14)


class InboxState(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    DEAD = "dead"  # failed MAX_ATTEMPTS times; `shoptrack replay --dead` retries it
    REJECTED = "rejected"  # failed verification; never processed
    IGNORED = "ignored"  # its integration was disabled; replayable


# The pending rows, written as the partial indexes' condition (``state = 'pending'``): a plan
# may use those indexes only where it can see the literal, which a bound parameter hides.
PENDING_ROWS = inbox.c.state == literal_column(f"'{InboxState.PENDING.value}'")


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A delivery as intake hands it to the writer."""

    account_id: str
    source: str
    topic: str
    body: bytes
    integration_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    state: InboxState = InboxState.PENDING
    reason: str | None = None
    dedupe_key: str | None = None
    backfill: bool = False
    sync_run_id: str | None = None
    # Set on rejected entries: the size and SHA-256 of the body as received, and whether
    # ``body`` holds only its first bytes.
    body_size: int | None = None
    body_sha256: str | None = None
    body_truncated: bool = False
    # When intake received it, if earlier than the write (an entry drained from the spool).
    received_at: datetime | None = None


def as_rejected(entry: InboxEntry, reason: str, *, keep_whole: bool = False) -> InboxEntry:
    """The entry as a rejected row: its size and hash, and only the first
    ``REJECTED_BODY_BYTES`` of its body unless ``keep_whole`` (a delivery signed by the store
    with a secret shoptrack holds in another form, which the doctor's fix recovers)."""
    body = entry.body
    truncated = not keep_whole and len(body) > REJECTED_BODY_BYTES
    headers = list(entry.headers.items())[:_REJECTED_HEADERS]
    return replace(
        entry,
        headers={
            name[:_REJECTED_HEADER_CHARS]: value[:_REJECTED_HEADER_CHARS] for name, value in headers
        },
        state=InboxState.REJECTED,
        reason=reason,
        dedupe_key=None,  # a forgery can never block the real delivery of that id
        body=body[:REJECTED_BODY_BYTES] if truncated else body,
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        body_truncated=truncated,
    )


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A stored delivery claimed for processing."""

    id: int
    account_id: str
    integration_id: str | None
    source: str
    topic: str
    headers: Mapping[str, str]
    body: bytes
    backfill: bool
    attempts: int
    received_at: datetime
    sync_run_id: str | None = None


def _row(entry: InboxEntry, now: datetime) -> dict[str, Any]:
    return {
        "account_id": entry.account_id,
        "integration_id": entry.integration_id,
        "source": entry.source,
        "topic": entry.topic,
        "dedupe_key": entry.dedupe_key,
        "received_at": entry.received_at or now,
        "headers": dict(entry.headers),
        "body": entry.body,
        "state": entry.state.value,
        "reason": entry.reason,
        "backfill": entry.backfill,
        "available_at": now,
        "sync_run_id": entry.sync_run_id,
        "body_size": entry.body_size,
        "body_sha256": entry.body_sha256,
        "body_truncated": entry.body_truncated,
    }


def write_entry(connection: Connection, entry: InboxEntry, now: datetime) -> bool:
    """Stores a delivery; False when its dedupe key was seen before (nothing is added)."""
    return write_entries(connection, [entry], now)[0]


_DEDUPE = ("account_id", "dedupe_key")


def write_entries(
    connection: Connection,
    entries: Sequence[InboxEntry],
    now: datetime,
    *,
    notify: str | None = None,
) -> list[bool]:
    """Stores deliveries in one multi-row statement; for each, whether it was new.

    A dedupe key repeated within ``entries`` counts as new once, for its first entry.
    ``notify``: a channel the statement itself signals on PostgreSQL when a row is new.
    """
    batch = _Batch(entries, now)
    inserted = insert_ignore_returning(
        connection, inbox, batch.rows, _DEDUPE, _DEDUPE, notify=notify
    )
    return batch.new((row.account_id, row.dedupe_key) for row in inserted)


class _Batch:
    """Deliveries as inbox rows, their repeated dedupe keys left out."""

    def __init__(self, entries: Sequence[InboxEntry], now: datetime) -> None:
        self._entries = entries
        self._first_of_key: dict[tuple[str, str], int] = {}
        to_insert: list[InboxEntry] = []
        for index, entry in enumerate(entries):
            if entry.dedupe_key is not None:
                key = (entry.account_id, entry.dedupe_key)
                if key in self._first_of_key:
                    continue
                self._first_of_key[key] = index
            to_insert.append(entry)
        self.rows = [_row(entry, now) for entry in to_insert]

    def new(self, inserted: Iterable[Sequence[Any]]) -> list[bool]:
        """For each entry, whether it was new, from the (account, dedupe key) pairs of the rows
        inserted."""
        inserted_keys = {(account_id, dedupe_key) for account_id, dedupe_key in inserted}
        return [
            entry.dedupe_key is None
            or (
                self._first_of_key[(entry.account_id, entry.dedupe_key)] == index
                and (entry.account_id, entry.dedupe_key) in inserted_keys
            )
            for index, entry in enumerate(self._entries)
        ]


class InboxAppender:
    """Appends the group-commit writer's batches to the inbox, each committed durably before
    ``append`` returns, and wakes the workers of other processes (``notify``).

    A batch is one statement on a connection kept from batch to batch (``KeptConnection``),
    committed as it ends. On PostgreSQL: insert, notification and commit in one round trip,
    where a pooled transaction took five (the pool's ping, ``BEGIN``, the insert, the
    notification, ``COMMIT``) while every delivery of the batch waited. On SQLite the
    statement's text and values are made before the write lock is taken, which is then held
    for that one statement: no ``BEGIN``, no ``COMMIT``, no conversions — in ``serve`` each
    call into the driver while the lock is held also waits for the event loop to hand back the
    GIL (``serve --no-workers`` acknowledged 1.05 to 1.45 times as much in alternating runs of
    ``bench/intake.py``'s burst). A batch too large for one statement is a write transaction
    as any other.
    """

    def __init__(self, database: Database, notify: str) -> None:
        self._database = database
        self._notify = notify
        self._kept = database.kept_connection()

    def append(self, entries: Sequence[InboxEntry], now: datetime) -> list[bool]:
        """Stores ``entries``; for each, whether it was new (``write_entries``)."""
        if not self._database.is_sqlite:
            return self._kept.run(
                lambda connection: write_entries(connection, entries, now, notify=self._notify)
            )
        batch = _Batch(entries, now)
        insert = sqlite_insert_ignore_returning(
            self._database.engine.dialect, inbox, batch.rows, _DEDUPE, _DEDUPE
        )
        if insert is None:
            with self._database.write() as connection:
                return write_entries(connection, entries, now)
        return batch.new(self._kept.run_on_driver(*insert))

    def close(self) -> None:
        """Gives the kept connection back (a later ``append`` takes another)."""
        self._kept.close()


@dataclass(frozen=True, slots=True)
class InboxShare:
    """The rows one of ``count`` processing processes takes on SQLite: blocks of ``block``
    consecutive ids, dealt in turn — share ``index`` takes the blocks whose number leaves
    ``index`` when divided by ``count``.

    A processor reads and works out its rows before it takes SQLite's one write lock, so two
    would read the same ones; with shares, one works out its next block while another writes.
    Blocks are written in the order the inbox is processed (``peek_share``, ``pending_before``):
    a processor writes its block once no row before it waits, so that two sightings of one order
    in neighbouring blocks are applied in the order they arrived — as one processor would.
    """

    index: int
    count: int
    block: int = 200

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"share {self.index} of {self.count} does not exist")

    @classmethod
    def parse(cls, text: str) -> InboxShare:
        """``"K/N"``: share K (from 0) of N."""
        index, slash, count = text.partition("/")
        if not slash or not index.isdigit() or not count.isdigit():
            raise ValueError(f"{text!r} is not a share: write K/N, such as 0/2")
        return cls(int(index), int(count))

    def owns(self, row_id: int) -> bool:
        return (row_id // self.block) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class ShareRun:
    """What ``peek_share`` found: the rows of the share's next run, and ``after``: when rows of
    other shares come first, an ``(available_at, id)`` before which none may still be pending
    when the run is written (its first row's), or, with no run, before the next look (just
    past the first pending row)."""

    rows: list[InboxRow]
    after: tuple[datetime, int] | None


def _due(connection: Connection, now: datetime, *columns: Any) -> Select[Any]:
    """The due pending rows (``columns`` of them, or whole), oldest first, read through the
    partial index ``ix_inbox_pending``.

    A planner may use a partial index only for a query whose condition is the index's own,
    literally: ``state = 'pending'``, not a bound parameter. SQLite, without statistics, also
    takes an equality on ``state`` for a selective one and picks the index on ``(state,
    received_at)``, then sorts every pending row, bodies and all, for each batch — the more
    rows a backfill leaves pending, the slower each batch (a 200,000-order backfill ran at less
    than half its rate). ``likely()`` tells it the condition selects most rows, so it reads the
    partial index in order and stops at the limit.
    """
    return (
        select(*columns or (inbox,))
        .where(_pending(connection), inbox.c.available_at <= now)
        .order_by(inbox.c.available_at, inbox.c.id)
    )


def _pending(connection: Connection) -> Any:
    return func.likely(PENDING_ROWS) if connection.dialect.name == "sqlite" else PENDING_ROWS


def peek_pending(connection: Connection, now: datetime, limit: int) -> list[InboxRow]:
    """Pending rows that are due, oldest first, unlocked: read before a write transaction by a
    single writer (SQLite), which then keeps those still ``claimable``."""
    query = _due(connection, now).limit(limit)
    return [_inbox_row(row) for row in connection.execute(query)]


def peek_share(connection: Connection, now: datetime, limit: int, share: InboxShare) -> ShareRun:
    """The share's next run, unlocked: its first due pending rows (at most ``limit``) in the
    order the inbox is processed, up to the first row of another share, looked for among the
    next ``count`` blocks' worth of pending rows; no rows when none of those is the share's.
    """
    window = _due(connection, now, inbox.c.available_at, inbox.c.id).limit(
        share.block * share.count
    )
    keys = [(row.available_at, int(row.id)) for row in connection.execute(window)]
    start = next((n for n, key in enumerate(keys) if share.owns(key[1])), len(keys))
    run: list[int] = []
    for _, row_id in keys[start : start + limit]:
        if not share.owns(row_id):
            break
        run.append(row_id)
    if not run:
        first = keys[0] if keys else None
        return ShareRun([], (first[0], first[1] + 1) if first else None)
    query = (
        select(inbox)
        .where(in_values(connection, (inbox.c.id,), run))
        .order_by(inbox.c.available_at, inbox.c.id)
    )
    rows = [_inbox_row(row) for row in connection.execute(query)]
    return ShareRun(rows, keys[start] if start > 0 else None)


def pending_before(connection: Connection, available_at: datetime, row_id: int) -> bool:
    """Whether a pending row comes before ``(available_at, row_id)`` in the order the inbox is
    processed: the first pending row, read from ``ix_inbox_pending``, does."""
    query = (
        select(inbox.c.available_at, inbox.c.id)
        .where(_pending(connection))
        .order_by(inbox.c.available_at, inbox.c.id)
        .limit(1)
    )
    first = connection.execute(query).first()
    return first is not None and (first.available_at, first.id) < (available_at, row_id)


def claimable(connection: Connection, ids: Sequence[int], now: datetime) -> set[int]:
    """Those of ``ids`` that are still pending and due."""
    if not ids:
        return set()
    query = select(inbox.c.id).where(
        in_values(connection, (inbox.c.id,), ids),
        inbox.c.state == InboxState.PENDING.value,
        inbox.c.available_at <= now,
    )
    return {int(row.id) for row in connection.execute(query)}


def claim_pending(connection: Connection, now: datetime, limit: int) -> list[InboxRow]:
    """Pending rows that are due, oldest first, locked for this transaction.

    On PostgreSQL ``SKIP LOCKED`` lets concurrent workers take disjoint rows; the locks end with
    the transaction, so a worker that dies releases its rows at once.
    """
    query = for_update(connection, _due(connection, now).limit(limit), skip_locked=True)
    if connection.dialect.name != "postgresql":
        return [_inbox_row(row) for row in connection.execute(query)]
    # PostgreSQL's planner, with statistics from before a burst or a backfill filled the inbox
    # (autovacuum analyzes a minute later at the soonest), expects a handful of pending rows,
    # and so reads every one through a bitmap scan and sorts them, bodies and all, for each
    # batch: with 20,000 pending, 47 ms and a sort spilled to disk, against 0.2 ms for reading
    # the partial index in order up to the limit. Without sorts to choose, it reads the index.
    connection.exec_driver_sql("SET LOCAL enable_sort = off")
    rows = [_inbox_row(row) for row in connection.execute(query)]
    connection.exec_driver_sql("SET LOCAL enable_sort = DEFAULT")
    return rows


def _inbox_row(row: Row[Any]) -> InboxRow:
    return from_row(InboxRow, row, body=bytes(row.body))


def mark_processed(
    connection: Connection, ids: Sequence[int], now: datetime, processed_by: str
) -> None:
    if ids:
        connection.execute(
            update(inbox)
            .where(in_values(connection, (inbox.c.id,), ids))
            .values(
                state=InboxState.PROCESSED.value,
                processed_at=now,
                processed_by=processed_by,
                last_error=None,
            )
        )


def mark_nul_characters_removed(connection: Connection, removed: Mapping[int, int]) -> None:
    """Records, per row id, how many NUL characters processing removed from its body."""
    for row_id, count in sorted(removed.items()):
        connection.execute(
            update(inbox).where(inbox.c.id == row_id).values(nul_characters_removed=count)
        )


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the n-th failure: 1, 2, 4, 8 … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


def mark_failed(
    connection: Connection, row: InboxRow, error: str, now: datetime, *, transient: bool = False
) -> InboxState:
    """Records a failed attempt: the row waits and is retried, or goes to dead letter.

    A transient failure (a deadlock or serialization conflict with another worker) says nothing
    about the row: it is retried at once and does not count towards dead letter.
    """
    attempts = row.attempts if transient else row.attempts + 1
    state = InboxState.DEAD if attempts >= MAX_ATTEMPTS else InboxState.PENDING
    connection.execute(
        update(inbox)
        .where(inbox.c.id == row.id)
        .values(
            state=state.value,
            attempts=attempts,
            last_error=error[:2000],
            available_at=now if transient else now + retry_delay(attempts),
        )
    )
    return state


@dataclass(frozen=True, slots=True)
class ReplaySelection:
    """Which stored deliveries to process again."""

    account_id: str | None = None
    integration_id: str | None = None
    ids: Sequence[int] = ()
    states: Sequence[InboxState] = (InboxState.DEAD,)
    since: datetime | None = None
    until: datetime | None = None


def replay(connection: Connection, selection: ReplaySelection, now: datetime) -> int:
    """Puts the selected rows back to pending, as backfill (replays never trigger flows).

    A truncated body is never replayed: it is not what the sender sent."""
    conditions: list[Any] = [
        inbox.c.state.in_([s.value for s in selection.states]),
        inbox.c.body_truncated.is_(False),
    ]
    if selection.account_id is not None:
        conditions.append(inbox.c.account_id == selection.account_id)
    if selection.integration_id is not None:
        conditions.append(inbox.c.integration_id == selection.integration_id)
    if selection.ids:
        conditions.append(inbox.c.id.in_(list(selection.ids)))
    if selection.since is not None:
        conditions.append(inbox.c.received_at >= selection.since)
    if selection.until is not None:
        conditions.append(inbox.c.received_at < selection.until)
    result = connection.execute(
        update(inbox)
        .where(*conditions)
        .values(
            state=InboxState.PENDING.value,
            backfill=True,
            attempts=0,
            last_error=None,
            available_at=now,
            processed_at=None,
        )
    )
    return result.rowcount


def prune_rejected(connection: Connection, before: datetime) -> int:
    """Deletes rejected rows received before ``before``: they have told the doctor what they
    could, and anyone can make more of them."""
    result = connection.execute(
        delete(inbox).where(
            inbox.c.state == InboxState.REJECTED.value, inbox.c.received_at < before
        )
    )
    return result.rowcount


def list_deliveries(
    connection: Connection,
    account_id: str,
    integration_id: str,
    *,
    state: InboxState | None = None,
    limit: int,
) -> list[Row[Any]]:
    """The account's integration's newest deliveries, in ``state`` if given, newest first."""
    query = select(inbox).where(
        inbox.c.account_id == account_id, inbox.c.integration_id == integration_id
    )
    if state is not None:
        query = query.where(inbox.c.state == state)
    return list(connection.execute(query.order_by(inbox.c.id.desc()).limit(limit)))


def recent_deliveries(
    connection: Connection, integration_id: str, limit: int = 20
) -> list[Row[Any]]:
    """What the store sent or a sync fetched lately, newest first (bodies left out)."""
    return list(
        connection.execute(
            select(
                inbox.c.id,
                inbox.c.source,
                inbox.c.topic,
                inbox.c.state,
                inbox.c.reason,
                inbox.c.last_error,
                inbox.c.attempts,
                inbox.c.received_at,
            )
            .where(inbox.c.integration_id == integration_id)
            .order_by(inbox.c.received_at.desc(), inbox.c.id.desc())
            .limit(limit)
        )
    )


def delivery_counts(connection: Connection, integration_id: str, since: datetime) -> dict[str, int]:
    """How many deliveries arrived since ``since``, by state."""
    rows = connection.execute(
        select(inbox.c.state, func.count())
        .where(inbox.c.integration_id == integration_id, inbox.c.received_at >= since)
        .group_by(inbox.c.state)
    )
    return {str(state): int(count) for state, count in rows}


def deliveries_after(
    connection: Connection, integration_id: str, after_id: int, received_since: datetime
) -> list[Row[Any]]:
    """The integration's deliveries after the row ``after_id`` received since a time, oldest
    first, whole: what each carries and what became of it."""
    return list(
        connection.execute(
            select(inbox)
            .where(
                inbox.c.integration_id == integration_id,
                inbox.c.id > after_id,
                inbox.c.received_at >= received_since,
            )
            .order_by(inbox.c.id)
        )
    )


def pending_count(connection: Connection, integration_id: str) -> int:
    """How many of the integration's deliveries wait to be processed (due or not)."""
    return int(
        connection.execute(
            select(func.count()).where(PENDING_ROWS, inbox.c.integration_id == integration_id)
        ).scalar_one()
    )


def has_pending(connection: Connection, integration_id: str) -> bool:
    """Whether any of the integration's deliveries still waits to be processed."""
    pending = connection.execute(
        select(inbox.c.id)
        .where(inbox.c.integration_id == integration_id, inbox.c.state == "pending")
        .limit(1)
    ).first()
    return pending is not None
