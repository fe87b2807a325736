"""The intake spool on a real file system: appended entries come back in order and once, a
segment of a live process is never taken by another, a dead process's segment is adopted, a
record torn by a crash is not read, and a write the file system refuses leaves the spool whole."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from shoptrack.pipeline.spool import Spool
from shoptrack.store.inbox import InboxEntry, InboxState
from tests.conftest import START


def _entry(n: int, size: int = 100) -> InboxEntry:
    return InboxEntry(
        account_id="A",
        integration_id="I",
        source="webhook",
        topic="order.updated",
        body=(f"{n}:".encode() + b"x" * size)[:size],
        headers={"x-wc-webhook-delivery-id": str(n)},
        dedupe_key=f"webhook:I:{n}",
        received_at=START + timedelta(seconds=n),
    )


def _drain(spool: Spool) -> list[InboxEntry]:
    drained: list[InboxEntry] = []
    while chunk := spool.peek(3):
        drained.extend(s.entry for s in chunk)
        spool.consume(chunk)
    return drained


def test_entries_come_back_whole_in_order_and_the_drained_segment_goes(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    entries = [_entry(n) for n in range(7)]
    ignored = InboxEntry(
        account_id="A", source="webhook", topic="t", body=b"{}", state=InboxState.IGNORED
    )
    assert spool.append(entries[:4]) == 4
    assert spool.append([*entries[4:], ignored]) == 4
    state = spool.state()
    assert state.entries == 8
    assert state.since == START
    assert len(list(tmp_path.glob("*.spool"))) == 1
    assert _drain(spool) == [*entries, ignored]
    assert spool.state().entries == 0
    assert not spool.pending
    assert list(tmp_path.glob("*.spool")) == []
    # Appending again after a drain starts a new segment.
    assert spool.append([entries[0]]) == 1
    assert _drain(spool) == [entries[0]]
    spool.close()


def test_the_spool_takes_what_fits_and_no_more(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2000)
    spool.open()
    assert spool.append([_entry(n, size=600) for n in range(5)]) == 2
    assert spool.append([_entry(9, size=600)]) == 0
    assert spool.state().bytes <= 2000
    assert [e.dedupe_key for e in _drain(spool)] == ["webhook:I:0", "webhook:I:1"]
    assert spool.append([_entry(9, size=600)]) == 1  # room again once drained
    spool.close()


def test_a_live_segment_is_never_adopted_and_an_orphan_is(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=1 << 20)
    first.open()
    assert first.append([_entry(1), _entry(2)]) == 2
    second = Spool(tmp_path, max_bytes=1 << 20)
    second.open()
    assert second.state().entries == 0  # the first one holds its segment
    first.close()  # stopped with entries left: the segment stays for the next process
    third = Spool(tmp_path, max_bytes=1 << 20)
    third.open()
    assert third.state().entries == 2
    assert [e.dedupe_key for e in _drain(third)] == ["webhook:I:1", "webhook:I:2"]
    third.close()
    second.close()
    assert list(tmp_path.iterdir()) == []


def test_a_torn_record_ends_the_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    assert spool.append([_entry(1), _entry(2)]) == 2
    (segment,) = tmp_path.glob("*.spool")
    spool.close()
    whole = segment.read_bytes()
    # A crash in the middle of appending a third: part of its record reached the file.
    third = Spool(tmp_path / "other", max_bytes=1 << 20)
    third.open()
    third.append([_entry(3)])
    (other,) = (tmp_path / "other").glob("*.spool")
    third.close()
    segment.write_bytes(whole + other.read_bytes()[:-10])
    adopter = Spool(tmp_path, max_bytes=1 << 20)
    adopter.open()
    assert [e.dedupe_key for e in _drain(adopter)] == ["webhook:I:1", "webhook:I:2"]
    adopter.close()


_FILL_UNTIL_REFUSED = """
import resource, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from shoptrack.pipeline.spool import Spool, SpoolError
from shoptrack.store.inbox import InboxEntry

# The kernel refuses writes past this size (EFBIG), as a full disk refuses them (ENOSPC).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))
spool = Spool(Path(sys.argv[1]), max_bytes=1 << 20)
spool.open()
acknowledged = 0
for n in range(100):
    entry = InboxEntry(account_id="A", source="api", topic="event", body=b"y" * 700,
                       dedupe_key=f"k{n}", received_at=datetime.now(UTC))
    try:
        acknowledged += spool.append([entry])
    except SpoolError as error:
        print(acknowledged, error)
        break
else:
    print(acknowledged, "never refused")
"""


def test_a_refused_write_leaves_only_whole_records(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FILL_UNTIL_REFUSED), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    acknowledged_text, _, error = result.stdout.partition(" ")
    acknowledged = int(acknowledged_text)
    assert acknowledged >= 2
    assert "File too large" in error
    adopter = Spool(tmp_path, max_bytes=1 << 20)
    adopter.open()
    # Every acknowledged entry, and nothing torn after them that would hide a later one.
    assert [e.dedupe_key for e in _drain(adopter)] == [f"k{n}" for n in range(acknowledged)]
    adopter.close()


def test_a_drain_reads_a_bounded_amount_at_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    assert spool.append([_entry(n, size=1000) for n in range(10)]) == 10
    record = spool.peek(1)[0].end  # the records are all this size
    assert len(spool.peek(100, max_bytes=3 * record - 1)) == 3  # the one that passes it ends it
    assert len(spool.peek(100, max_bytes=3 * record)) == 3
    assert len(spool.peek(100, max_bytes=10)) == 1
    assert len(spool.peek(100)) == 10
    spool.close()
