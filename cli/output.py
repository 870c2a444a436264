"""How commands print rows: a plain table on a terminal, or CSV, JSON, Markdown.

Shared by `seldb sql`, `seldb runs` and `seldb report ...` so that all accept
the same `--format` and `--digits` and write the same text
(seldb.render decides how each value is written). Tables go to stdout
and the row count to stderr, so piping a table still gives clean data. On a
terminal a table fits its width (one block per row when the columns do not
fit); in a pipe it keeps its natural width.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

import typer

from seldb.render import DIGITS, table_text, to_csv, to_json, to_markdown
from seldb_cli.common import console, err_console

Rows = Sequence[Sequence[Any]]


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


Format = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv, json or markdown.")]
Digits = Annotated[
    int,
    typer.Option(
        "--digits", min=1, max=17, help="Significant digits of numbers in tables and Markdown (csv and json: all)."
    ),
]


def table_width() -> int | None:
    """The terminal's width, or None (no limit) when stdout is a pipe or a file."""
    return console.width if console.is_terminal else None


def write(data: str) -> None:
    sys.stdout.write(data)
    sys.stdout.flush()


def count_line(n: int) -> None:
    err_console.print(f"({n} row{'s' if n != 1 else ''})", highlight=False)


def print_rows(
    columns: Sequence[str],
    rows: Rows,
    fmt: OutputFormat = OutputFormat.table,
    digits: int = DIGITS,
    title: str | None = None,
) -> None:
    """Rows in the asked format; a table gets its title above it and its row count on stderr."""
    if fmt == OutputFormat.table:
        write((f"{title}\n" if title else "") + table_text(columns, rows, table_width(), digits))
        count_line(len(rows))
    elif fmt == OutputFormat.csv:
        write(to_csv(columns, rows))
    elif fmt == OutputFormat.json:
        write(to_json(columns, rows))
    else:
        write(to_markdown(columns, rows, digits))


__all__ = ["Digits", "Format", "OutputFormat", "count_line", "print_rows", "table_width", "write"]
