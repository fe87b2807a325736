"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["JSONDocument", "Money", "RowId", "UTCDateTime"]

# SQLite makes only INTEGER PRIMARY KEY columns auto-increment.
RowId = BigInteger().with_variant(Integer(), "sqlite")
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("shoptrack stores timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text


def _sqlite_text(value: datetime | None) -> str | None:
    """A time as SQLite keeps it: the same text as SQLAlchemy writes (``YYYY-MM-DD
    HH:MM:SS.ffffff``, UTC), so stored rows and comparisons are unchanged, made in one C call
    rather than by the DATETIME type's formatting."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("shoptrack stores timezone-aware times only")
    return _utc_text(value)


@functools.lru_cache(maxsize=4096)
def _utc_text(value: datetime) -> str:
    # Every processed row binds a dozen times, most of them the batch's ``now`` or its order's
    # times again: each is formatted once.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


_SCALE = Decimal("0.0001")


class Money(TypeDecorator[Decimal]):
    """An exact amount to four places: NUMERIC on PostgreSQL, an integer count of ten-thousandths
    on SQLite (which has no exact decimal type), so sums in SQL stay exact on both."""

    impl = Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(_SCALE)
        return int(amount.scaleb(4)) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-4).quantize(_SCALE)
        return Decimal(value).quantize(_SCALE)
