"""Column and index shapes the tables share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, text

__all__ = ["id_column", "partial_index", "ulid_column"]

# shoptrack's ids are ULIDs (``shoptrack.ids.new_id``): 26 characters.
_ULID = 26


def id_column() -> Column[Any]:
    """A row's own id."""
    return Column("id", String(_ULID), primary_key=True)


def ulid_column(
    name: str, references: str | None = None, *, nullable: bool = False, **options: Any
) -> Column[Any]:
    """A column holding an id (another row's, mostly), with a foreign key to ``references``
    ("table.column") when given; required unless ``nullable``."""
    foreign_keys = [ForeignKey(references)] if references else []
    return Column(name, String(_ULID), *foreign_keys, nullable=nullable, **options)


def partial_index(name: str, *columns: str, where: str) -> Index:
    """An index of the rows ``where`` holds for only, a condition both databases read alike."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))
