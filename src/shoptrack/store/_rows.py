"""Rows read into shoptrack's record dataclasses."""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Row

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["from_row"]

RecordT = TypeVar("RecordT", bound="DataclassInstance")


@functools.cache
def _field_names(record: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(record))


def from_row(record: type[RecordT], row: Row[Any], **values: Any) -> RecordT:
    """A ``record`` whose fields are the row's columns of the same names, but for ``values``:
    the fields whose columns are named otherwise or whose values are converted."""
    columns = row._mapping
    return record(
        **{name: columns[name] for name in _field_names(record) if name not in values}, **values
    )
