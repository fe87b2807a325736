"""Identifiers: ULIDs that sort by creation time."""

from __future__ import annotations

import time

from shoptrack.ids import new_id

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _decode(ulid: str) -> int:
    value = 0
    for char in ulid:
        value = value * 32 + _CROCKFORD.index(char)
    return value


def test_an_id_is_a_ulid_of_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ulid = new_id()
    after = time.time_ns() // 1_000_000
    assert len(ulid) == 26
    assert set(ulid) <= set(_CROCKFORD)
    assert before <= _decode(ulid) >> 80 <= after


def test_ids_are_distinct_and_sort_by_their_millisecond() -> None:
    made = [new_id() for _ in range(2000)]
    assert len(set(made)) == len(made)
    stamps = [_decode(ulid) >> 80 for ulid in made]
    assert stamps == sorted(stamps)
    assert [ulid[:10] for ulid in made] == sorted(ulid[:10] for ulid in made)
