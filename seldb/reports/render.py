"""Rows as text: CSV, JSON and Markdown, for pipes, files and notebooks.

One place decides how a value from PostgreSQL (or a polars frame) is written,
so `seldb sql`, every report and the files under `--out` agree: NULL is an
empty CSV cell, JSON null and an empty Markdown cell; NaN and infinities
become null in JSON (which has no NaN); arrays and JSON values are written
as JSON. Terminal tables (rich) live in the CLI; this module has no
dependency on it.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from typing import Any, Callable, Sequence

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


def short_float(value: Any) -> str:
    """Four significant digits for reading (0.1235, 1.2e-30); other values as text()."""
    if isinstance(value, bool) or not isinstance(value, float):
        return text(value)
    return f"{value:.4g}"


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


def to_markdown(columns: Sequence[str], rows: Rows, fmt: Callable[[Any], str] = short_float) -> str:
    """A GitHub-flavoured Markdown table; `|` inside a value is escaped."""

    def cell(value: Any) -> str:
        return "" if value is None else fmt(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
