"""The intake spool: deliveries acknowledged while the database cannot take them.

WooCommerce disables a webhook after a few failed deliveries and never sends them again, so an
outage of the database must not turn into refused deliveries. While it lasts, the group-commit
writer appends what it would have written to this spool — a file in the data directory,
fsync'd before anything is acknowledged — and drains it into the inbox, oldest first, once the
database is back.

Each process appends to a segment file of its own, which it holds an exclusive ``flock`` on; a
segment nobody holds was left by a process that died (``kill -9``, a power cut) and is adopted by
the next process that opens the spool, so what that process acknowledged is drained too. A
segment is a sequence of records — magic, length and CRC-32, then the entry — so a record torn by
a crash ends the segment: it was never fsync'd, hence never acknowledged. The spool holds at most
``max_bytes``; past that the writer refuses with 503.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import struct
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from shoptrack.store.inbox import InboxEntry, InboxState

__all__ = [
    "Spool",
    "SpoolError",
    "SpoolFile",
    "SpoolState",
    "SpooledEntry",
    "inspect_spool",
    "spool_directory",
]

logger = logging.getLogger(__name__)

_MAGIC = b"STS1"
_HEADER = struct.Struct(">4sII")  # magic, payload length, CRC-32 of the payload
_META_LENGTH = struct.Struct(">I")
_SUFFIX = ".spool"
# How much a drain reads into memory at once (bodies are up to 5 MB each).
_PEEK_BYTES = 32 * 1024 * 1024
# Records a drain could not write for a reason other than the database being away: kept here,
# never drained by themselves, and logged, so nothing acknowledged is thrown away.
_SET_ASIDE = "set-aside.records"


def spool_directory(data_dir: Path) -> Path:
    """Where the processes with ``data_dir`` keep their spools."""
    return data_dir / "spool"


class SpoolError(Exception):
    """The spool could not make an entry durable (disk full, I/O error)."""


@dataclass(frozen=True, slots=True)
class SpoolState:
    """What the spool holds now: entries waiting to be drained, and the disk they take."""

    entries: int
    bytes: int
    max_bytes: int
    since: datetime | None  # when the oldest delivery it holds was received


@dataclass(frozen=True, slots=True)
class SpooledEntry:
    """An entry read back from the spool, with where its record ends in its segment."""

    entry: InboxEntry
    segment: Path
    end: int


@dataclass(slots=True)
class _Segment:
    path: Path
    fd: int  # open, with this process's exclusive flock on it
    size: int  # bytes of whole records
    drained: int  # bytes of records already written to the database
    entries: int  # records not yet drained
    since: datetime | None  # when its first record was received


class Spool:
    """The spool of one process, in ``directory``; ``open()`` before use, ``close()`` after.

    Not thread-safe: the writer thread alone appends and drains; ``state()`` may be read from
    any thread.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._segments: list[_Segment] = []  # oldest first; the last may be this process's own
        self._own: _Segment | None = None  # the segment appended to, while it exists
        self._state = SpoolState(0, 0, max_bytes, None)

    # -- opening and closing ---------------------------------------------------------------

    def open(self) -> None:
        """Creates the directory and adopts the segments of processes that are gone."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.directory.iterdir()):
            if path.suffix in (_SUFFIX, ".tmp"):
                self._adopt(path)
        self._update_state()
        if self._segments:
            state = self._state
            logger.warning(
                "spool: adopted %d deliveries (%d bytes) acknowledged by a process that stopped "
                "before the database took them; draining them into the inbox",
                state.entries,
                state.bytes,
            )

    def close(self) -> None:
        """Releases the segments; the ones not drained stay for the next process."""
        for segment in list(self._segments):
            if segment.entries == 0:
                self._remove(segment)
            else:
                os.close(segment.fd)
        self._segments.clear()
        self._own = None
        self._update_state()

    def _adopt(self, path: Path) -> None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return  # drained and removed by its owner meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return  # a live process holds it
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # removed (and perhaps replaced) after it was listed: not an orphan
            os.close(fd)
            return
        segment = _Segment(path, fd, 0, 0, 0, None)
        for spooled in self._records(segment, 0):
            segment.size = spooled.end
            segment.entries += 1
            if segment.since is None:
                segment.since = spooled.entry.received_at
        if path.suffix != _SUFFIX or segment.entries == 0:
            self._remove(segment)  # created but never appended to, or only a torn record
            return
        self._segments.append(segment)

    # -- what it holds ---------------------------------------------------------------------

    def state(self) -> SpoolState:
        return self._state

    @property
    def pending(self) -> bool:
        return self._state.entries > 0

    def _update_state(self) -> None:
        waiting = [s for s in self._segments if s.entries]
        self._state = SpoolState(
            entries=sum(s.entries for s in self._segments),
            bytes=sum(s.size for s in self._segments),
            max_bytes=self.max_bytes,
            since=waiting[0].since if waiting else None,
        )

    # -- appending -------------------------------------------------------------------------

    def append(self, entries: Sequence[InboxEntry]) -> int:
        """Appends the entries, in order, as many as fit; returns how many are durable.

        Returns only once they are fsync'd. Raises ``SpoolError`` when nothing could be made
        durable (then nothing of it is left in the spool either).
        """
        records: list[bytes] = []
        room = self.max_bytes - self._state.bytes
        for entry in entries:
            record = _record(entry)
            if len(record) > room:
                break
            records.append(record)
            room -= len(record)
        if not records:
            return 0
        segment = self._own or self._new_segment()
        data = b"".join(records)
        try:
            _write_all(segment.fd, data)
            os.fsync(segment.fd)
        except OSError as error:
            # Whatever reached the file is cut off again: a later append must follow whole
            # records, or a reader would stop at the torn one and miss what came after.
            with contextlib.suppress(OSError):
                os.ftruncate(segment.fd, segment.size)
            raise SpoolError(f"the spool in {self.directory} cannot be written: {error}") from error
        if segment.since is None:
            segment.since = entries[0].received_at
        segment.size += len(data)
        segment.entries += len(records)
        self._update_state()
        return len(records)

    def _new_segment(self) -> _Segment:
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
        temporary = self.directory / f"{name}.tmp"
        try:
            fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as error:
            raise SpoolError(f"the spool in {self.directory} cannot be created: {error}") from error
        # Locked before it gets the name other processes adopt: a live segment is never taken.
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = self.directory / f"{name}{_SUFFIX}"
        try:
            temporary.rename(path)
            _fsync_directory(self.directory)
        except OSError as error:
            os.close(fd)
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise SpoolError(f"the spool in {self.directory} cannot be created: {error}") from error
        segment = _Segment(path, fd, 0, 0, 0, None)
        self._segments.append(segment)
        self._own = segment
        return segment

    # -- draining --------------------------------------------------------------------------

    def peek(self, limit: int, max_bytes: int = _PEEK_BYTES) -> list[SpooledEntry]:
        """Up to ``limit`` of the oldest entries not yet drained, from one segment, and no more
        than ``max_bytes`` of them (at least one, whatever its size)."""
        for segment in self._segments:
            if segment.entries:
                found: list[SpooledEntry] = []
                start = segment.drained
                for spooled in self._records(segment, start):
                    found.append(spooled)
                    if (
                        len(found) == limit
                        or spooled.end >= segment.size
                        or spooled.end - start >= max_bytes
                    ):
                        break
                return found
        return []

    def consume(self, drained: Sequence[SpooledEntry]) -> None:
        """Marks entries from ``peek`` as written to the database; a segment drained to its end
        is removed."""
        if not drained:
            return
        segment = next(s for s in self._segments if s.path == drained[-1].segment)
        segment.drained = drained[-1].end
        segment.entries -= len(drained)
        if not segment.entries:
            self._remove(segment)
        self._update_state()

    def set_aside(self, spooled: SpooledEntry, error: str) -> Path:
        """Keeps an entry the database refuses for a reason of its own in a file that is never
        drained, then counts it as drained; returns that file."""
        path = self.directory / _SET_ASIDE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            _write_all(fd, _record(spooled.entry, error=error))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.consume([spooled])
        return path

    def _remove(self, segment: _Segment) -> None:
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()
        with contextlib.suppress(OSError):
            _fsync_directory(self.directory)
        os.close(segment.fd)  # the lock goes with it, after the name
        if segment in self._segments:
            self._segments.remove(segment)
        if segment is self._own:
            self._own = None

    def _records(self, segment: _Segment, offset: int) -> Iterator[SpooledEntry]:
        """The whole records of ``segment`` from ``offset``; a torn or corrupt one ends it."""
        while True:
            header = os.pread(segment.fd, _HEADER.size, offset)
            if len(header) < _HEADER.size:
                return
            magic, length, checksum = _HEADER.unpack(header)
            if magic != _MAGIC:
                return
            payload = _read_exactly(segment.fd, length, offset + _HEADER.size)
            if payload is None or zlib.crc32(payload) != checksum:
                return
            offset += _HEADER.size + length
            yield SpooledEntry(_entry(payload), segment.path, offset)


@dataclass(frozen=True, slots=True)
class SpoolFile:
    """A spool segment as any process sees it, without taking it: whether the process that
    wrote it still runs (and drains it), and how many deliveries it holds of which integration
    (those drained already included, while its process still runs)."""

    path: Path
    pid: int | None
    running: bool
    deliveries: dict[str | None, int]
    since: datetime | None


def inspect_spool(directory: Path) -> list[SpoolFile]:
    """The segments in ``directory``, oldest first, read without locking them (a lock, however
    short, could make a starting process pass over an orphan it should adopt)."""
    if not directory.is_dir():
        return []
    found: list[SpoolFile] = []
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        try:
            pid: int | None = int(path.stem.split("-")[1])
        except (IndexError, ValueError):
            pid = None
        deliveries: dict[str | None, int] = {}
        since: datetime | None = None
        try:
            with path.open("rb") as file:
                for meta in _metas(file.fileno()):
                    key = meta.get("integration_id")
                    deliveries[key] = deliveries.get(key, 0) + 1
                    if since is None and meta.get("received_at"):
                        since = datetime.fromisoformat(meta["received_at"])
        except FileNotFoundError:
            continue  # drained and removed meanwhile
        found.append(SpoolFile(path, pid, _running(pid), deliveries, since))
    return found


def _metas(fd: int) -> Iterator[dict[str, Any]]:
    """The entries' metadata, record by record, without their bodies."""
    offset = 0
    while True:
        header = os.pread(fd, _HEADER.size + _META_LENGTH.size, offset)
        if len(header) < _HEADER.size + _META_LENGTH.size:
            return
        magic, length, _checksum = _HEADER.unpack_from(header)
        (meta_length,) = _META_LENGTH.unpack_from(header, _HEADER.size)
        if magic != _MAGIC or meta_length > length:
            return
        try:
            meta = orjson.loads(os.pread(fd, meta_length, offset + len(header)))
        except orjson.JSONDecodeError:
            return  # a torn record
        yield meta
        offset += _HEADER.size + length


def _running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _record(entry: InboxEntry, *, error: str | None = None) -> bytes:
    meta: dict[str, Any] = {
        "account_id": entry.account_id,
        "integration_id": entry.integration_id,
        "source": entry.source,
        "topic": entry.topic,
        "headers": dict(entry.headers),
        "state": entry.state.value,
        "reason": entry.reason,
        "dedupe_key": entry.dedupe_key,
        "backfill": entry.backfill,
        "sync_run_id": entry.sync_run_id,
        "received_at": entry.received_at.isoformat() if entry.received_at else None,
    }
    if error is not None:
        meta["error"] = error
    encoded = orjson.dumps(meta)
    payload = _META_LENGTH.pack(len(encoded)) + encoded + entry.body
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def _entry(payload: bytes) -> InboxEntry:
    (length,) = _META_LENGTH.unpack_from(payload)
    meta = orjson.loads(payload[_META_LENGTH.size : _META_LENGTH.size + length])
    received = meta["received_at"]
    return InboxEntry(
        account_id=meta["account_id"],
        integration_id=meta["integration_id"],
        source=meta["source"],
        topic=meta["topic"],
        headers=meta["headers"],
        state=InboxState(meta["state"]),
        reason=meta["reason"],
        dedupe_key=meta["dedupe_key"],
        backfill=meta["backfill"],
        sync_run_id=meta["sync_run_id"],
        received_at=datetime.fromisoformat(received) if received else None,
        body=payload[_META_LENGTH.size + length :],
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, length: int, offset: int) -> bytes | None:
    chunks: list[bytes] = []
    while length:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            return None
        chunks.append(chunk)
        length -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _fsync_directory(directory: Path) -> None:
    """Makes a file's creation, renaming or removal in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
