"""How commands print rows: a rich table in the terminal, or CSV, JSON, Markdown.

Shared by `seldb sql` and `seldb report ...` so that both accept the same
`--format` values and write the same text (seldb.reports.render decides how
each value is written). Tables go to stdout and the row count to stderr, so
piping a table still gives clean data.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Any, Callable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seldb.reports.render import short_float, text, to_csv, to_json, to_markdown
from seldb_cli.common import console, err_console

Rows = Sequence[Sequence[Any]]


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def rich_table(columns: Sequence[str], rows: Rows, fmt: Callable[[Any], str] = text, title: str | None = None) -> Table:
    table = Table(*columns, show_edge=False, header_style="bold", title=title, title_justify="left")
    for row in rows:
        table.add_row(*["[dim]NULL[/]" if value is None else escape(fmt(value)) for value in row])
    return table


def print_rich(table: Table) -> None:
    """A table at its natural width when stdout is not a terminal (a pipe, a log, a test),
    where squeezing it into 80 columns would only cut every value short."""
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    Console(width=max(console.width, natural), file=console.file).print(table)


def print_table(columns: Sequence[str], rows: Rows, fmt: Callable[[Any], str] = text, title: str | None = None) -> None:
    print_rich(rich_table(columns, rows, fmt, title))
    err_console.print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", highlight=False)


def _write(data: str) -> None:
    sys.stdout.write(data)
    sys.stdout.flush()


def _print_csv(columns: Sequence[str], rows: Rows) -> None:
    _write(to_csv(columns, rows))


def _print_json(columns: Sequence[str], rows: Rows) -> None:
    _write(to_json(columns, rows))


def _print_markdown(columns: Sequence[str], rows: Rows) -> None:
    _write(to_markdown(columns, rows, fmt=text))


# `seldb sql` prints values as PostgreSQL gave them (full precision), hence `text`
PRINTERS: dict[OutputFormat, Callable[[Sequence[str], Rows], None]] = {
    OutputFormat.table: print_table,
    OutputFormat.csv: _print_csv,
    OutputFormat.json: _print_json,
    OutputFormat.markdown: _print_markdown,
}

__all__ = ["OutputFormat", "PRINTERS", "print_rich", "print_table", "rich_table", "short_float"]
