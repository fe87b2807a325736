"""How the CLI shows things to people: tables with a header row that fit the terminal (Rich),
the same table in a plain fixed layout when the output is piped (one line a row, never wrapped),
fields as label and value, times in the local zone with how long ago, a sentence instead of
nothing when a list is empty, and errors that name the command's options rather than the API's
fields."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shoptrack.cli._common import print_json
from shoptrack.clock import relative
from shoptrack.errors import ShoptrackError

__all__ = [
    "Column",
    "local_time",
    "options_named",
    "print_fields",
    "print_listing",
    "print_table",
]

_GAP = "  "


@dataclass(frozen=True, slots=True)
class Column:
    """A table's column: its header, and whether its cells may wrap in a narrow terminal (ids
    and times never do; names and messages may)."""

    header: str
    wrap: bool = False


def local_time(value: datetime | None, now: datetime) -> str:
    """``2026-12-06 19:41 CET (4 minutes ago)``: the machine's local zone, and how long ago."""
    if value is None:
        return "never"
    return f"{value.astimezone():%Y-%m-%d %H:%M %Z} ({relative(value, now)})"


def _cell(value: object) -> str:
    return " ".join(("" if value is None else str(value)).split())


def _plain_lines(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(text) for text in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
        return _GAP.join(padded).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def _write_plain(console: Console, lines: Sequence[str]) -> None:
    for text in lines:
        console.print(text, markup=False, highlight=False, soft_wrap=True, emoji=False)


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[object]],
    *,
    empty: str,
) -> None:
    """The rows under a header row: a Rich table that fits a terminal, a plain fixed layout
    when piped; ``empty`` (a sentence saying what to do) when there are no rows."""
    if not rows:
        console.print(empty, highlight=False)
        return
    cells = [[_cell(value) for value in row] for row in rows]
    headers = [column.header for column in columns]
    if not console.is_terminal:
        _write_plain(console, _plain_lines(headers, cells))
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=False)
    for column in columns:
        table.add_column(
            column.header, no_wrap=not column.wrap, overflow="fold" if column.wrap else "ellipsis"
        )
    for row in cells:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def print_listing(
    console: Console,
    documents: Sequence[Mapping[str, Any]],
    columns: Mapping[str, Column],
    *,
    empty: str,
    as_json: bool,
) -> None:
    """What a listing command prints: the documents as JSON for ``--json``, else a table of
    the members ``columns`` names, in its order (``empty`` when there are none)."""
    if as_json:
        print_json(documents)
        return
    rows = [[document[name] for name in columns] for document in documents]
    print_table(console, list(columns.values()), rows, empty=empty)


def print_fields(console: Console, fields: Sequence[tuple[str, object]]) -> None:
    """Labels and their values, one a line, the values aligned."""
    cells = [(label, _cell(value)) for label, value in fields]
    if not console.is_terminal:
        width = max((len(label) for label, _ in cells), default=0)
        _write_plain(console, [f"{label:<{width}}{_GAP}{value}".rstrip() for label, value in cells])
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in cells:
        grid.add_row(escape(label), escape(value))
    console.print(grid)


@contextmanager
def options_named(options: Mapping[str, str]) -> Iterator[None]:
    """Errors about the API's fields (``trigger_metric_id``) told with the command's options
    (``--metric``): ``options`` maps each field to the option that sets it."""
    try:
        yield
    except ShoptrackError as error:
        field = (error.pointer or error.parameter or "").rstrip("/").rsplit("/", 1)[-1]
        option = options.get(field)
        if option is None:
            raise
        detail = error.detail
        for name, replacement in options.items():
            detail = re.sub(rf"\b{re.escape(name)}\b", replacement, detail)
        if not detail.startswith(option):
            detail = f"{option}: {detail}"
        error.detail = detail
        error.args = (detail,)
        raise
