"""Small row helpers the store modules share: rows read into shoptrack's record dataclasses and
written from them, a row inserted under a new id, and one text value read."""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, Table, select

from shoptrack.ids import new_id

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["from_row", "insert_new", "row_values", "text_value"]

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


def row_values(record: DataclassInstance) -> dict[str, Any]:
    """The column values of the row that ``record`` is read from (``from_row``'s inverse), for
    a record whose fields are all columns named alike."""
    return {name: getattr(record, name) for name in _field_names(type(record))}


def insert_new(connection: Connection, table: Table, **values: Any) -> str:
    """Inserts a row of ``values`` into ``table`` under a new id; that id."""
    row_id = new_id()
    connection.execute(table.insert().values(id=row_id, **values))
    return row_id


def text_value(
    connection: Connection, column: ColumnElement[Any], *where: ColumnElement[bool]
) -> str | None:
    """The text in ``column`` of the row ``where``; None when there is no such row or the
    column is NULL there."""
    value = connection.execute(select(column).where(*where)).scalar()
    return None if value is None else str(value)
