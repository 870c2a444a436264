"""Rows as text: terminal tables, CSV, JSON and Markdown, for terminals, pipes, files and notebooks.

One place decides how a value from PostgreSQL (or a polars frame) is written,
so `seldb sql`, every report and the files under `--out` agree: NULL is an
empty CSV cell, JSON null and an empty Markdown cell; NaN and infinities
become null in JSON (which has no NaN); arrays and JSON values are written
as JSON. CSV and JSON keep full precision; tables and Markdown round floats
to `digits` significant digits, all alike.

A terminal table never cuts a value short: when the columns do not fit the
terminal's width, the rows are printed one block per row (column | value,
long values folded onto more lines), as psql's expanded display does. Tables
are built with plain string operations: 10,000 rows take a fraction of a
second. `safe_name` makes a unit label, class or measure safe in a file name.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

Rows = Sequence[Sequence[Any]]


def jsonable(value: Any) -> Any:
    """A Python value from psycopg or polars as a JSON value (NaN and infinities become null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (dt.timedelta, uuid.UUID, bytes, memoryview)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    return value


def text(value: Any) -> str:
    """One value as text for tables and CSV: arrays and JSON as JSON, the rest as str()."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(jsonable(value))
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    return str(value)


DIGITS = 4  # significant digits of floats in tables and Markdown (--digits)


def short_float(value: Any, digits: int = DIGITS) -> str:
    """Floats (and SQL numerics) to `digits` significant digits for reading (0.1235, 1.2e-30); other
    values as text()."""
    if isinstance(value, decimal.Decimal) and value.is_finite():
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, float):
        return text(value)
    return f"{value:.{digits}g}"


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return short_float(value, digits).replace("\r", "").replace("\n", " ")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def table_text(columns: Sequence[str], rows: Rows, width: int | None = None, digits: int = DIGITS) -> str:
    """A plain-text table, or one block per row when it is wider than `width` (None: no limit)."""
    cells = [[_cell(value, digits) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    if width is not None and sum(widths) + 3 * len(columns) - 1 > width:
        return _records_text(columns, cells, width)
    numeric = [
        any(_is_number(row[i]) for row in rows) and all(row[i] is None or _is_number(row[i]) for row in rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return (" " + " │ ".join(parts)).rstrip()

    rule = "─" + "─┼─".join("─" * w for w in widths)
    return "\n".join([line(list(columns)), rule, *(line(row) for row in cells)]) + "\n"


def _records_text(columns: Sequence[str], cells: list[list[str]], width: int) -> str:
    """psql's expanded display: `column │ value` per line, a rule per row, long values folded."""
    label = max(len(name) for name in columns)
    room = max(10, width - label - 3)
    lines = []
    for number, row in enumerate(cells, start=1):
        head = f"─[ row {number} ]"
        lines.append(head + "─" * max(0, min(width, label + 3 + room) - len(head)))
        for name, value in zip(columns, row):
            chunks = [value[i : i + room] for i in range(0, len(value), room)] or [""]
            lines.append(f"{name.ljust(label)} │ {chunks[0]}")  # not stripped: folds keep every character
            lines += [f"{'':{label}} │ {chunk}" for chunk in chunks[1:]]
    return "\n".join(lines) + "\n"


def to_csv(columns: Sequence[str], rows: Rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if value is None else text(value) for value in row] for row in rows])
    return out.getvalue()


def records(columns: Sequence[str], rows: Rows) -> list[dict]:
    return [{name: jsonable(value) for name, value in zip(columns, row)} for row in rows]


def to_json(columns: Sequence[str], rows: Rows) -> str:
    return json.dumps(records(columns, rows), indent=2, allow_nan=False) + "\n"


def to_markdown(columns: Sequence[str], rows: Rows, digits: int | None = DIGITS) -> str:
    """A GitHub-flavoured Markdown table (floats to `digits` significant digits, None: as given);
    `|` inside a value is escaped."""

    def cell(value: Any) -> str:
        shown = text(value) if digits is None else short_float(value, digits)
        return "" if value is None else shown.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def safe_name(text: str) -> str:
    """A file-name-safe form of a unit label, class or measure ('features.10.7' stays readable)."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)
