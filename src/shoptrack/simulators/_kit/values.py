"""Reading the values tests hand a simulator (counts, amounts, time zones, times), each refused
with a ``ValueError`` that names what was wrong, and the one-second precision stores keep."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["amount", "as_is", "count", "moment", "second", "zone", "zone_name"]


def as_is(value: Any) -> Any:
    """``value`` itself: a value a simulator takes as it comes."""
    return value


def count(value: Any, name: str) -> int:
    """``value`` as a count (a non-negative integer, not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return value


def amount(value: Decimal | str, name: str) -> Decimal:
    """``value`` as a finite, non-negative amount of money."""
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name}: not an amount: {value!r}") from None
    if not exact.is_finite() or exact < 0:
        raise ValueError(f"{name}: not an amount: {value!r}")
    return exact


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (what store admins offer)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}; give an IANA name") from None


def zone_name(value: Any) -> str:
    """``value`` as the name of a known IANA time zone (a ``site_timezone`` fault)."""
    name = str(value)
    zone(name)
    return name


def second(moment: datetime) -> datetime:
    """``moment`` in UTC to the second, as stores keep their times."""
    return moment.astimezone(UTC).replace(microsecond=0)


def moment(value: Any) -> datetime | None:
    """An ISO 8601 time with its offset (``Z`` for UTC) from a control request; None for none."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r}: give the offset, e.g. a trailing Z")
    return parsed
