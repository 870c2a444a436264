"""How the pages read: read-only transactions on the app's one handle, through the views, with a time limit.

Every page reads inside `SET TRANSACTION READ ONLY`, so no query a page
makes can change the database even by mistake; the only writer is the
rating form (seldb.ratings.studies.record_rating). A statement that runs longer
than the limit is cancelled, so a slow query cannot tie up the server. The
names a URL carries (run, layer, unit) are resolved here into NotFound
errors, which the app turns into 404 pages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from seldb.db.database import Database
from seldb.db.read import Run, split_unit_label
from seldb.errors import NotFound

STATEMENT_TIMEOUT_MS = 15_000


@contextlib.contextmanager
def reading(db: Database) -> Iterator[sa.Connection]:
    """A connection in a read-only transaction with a statement time limit (rolled back at the end)."""
    with db.connect() as conn:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        yield conn


def rows(conn: sa.Connection, sql: str, **params: Any) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def one(conn: sa.Connection, sql: str, **params: Any) -> dict | None:
    row = conn.execute(sa.text(sql), params).mappings().first()
    return dict(row) if row is not None else None


def run_of(conn: sa.Connection, run_id: int) -> Run:
    if not 0 < run_id < 2**63:  # beyond bigint: no such run (and not a database error)
        raise NotFound(f"no run {run_id}")
    row = one(conn, "SELECT run_id, model, dataset FROM seldb.runs WHERE run_id = :r", r=run_id)
    if row is None:
        raise NotFound(f"no run {run_id}")
    return Run(int(row["run_id"]), row["model"], row["dataset"])


def layers_of(conn: sa.Connection, run_id: int) -> list[dict]:
    """The run's layers in network order, as seldb.layers shows them."""
    return rows(
        conn,
        "SELECT layer, n_units, reduction, layer_index, n_dead_units FROM seldb.layers"
        " WHERE run_id = :r ORDER BY layer_index",
        r=run_id,
    )


def layer_of(conn: sa.Connection, run: Run, layer: str) -> dict:
    row = one(
        conn,
        "SELECT layer, n_units, reduction, layer_index, n_dead_units FROM seldb.layers"
        " WHERE run_id = :r AND layer = :l",
        r=run.run_id,
        l=layer,
    )
    if row is None:
        raise NotFound(f"no layer {layer!r} in {run.name}")
    return row


def unit_of(conn: sa.Connection, run: Run, label: str) -> tuple[str, int]:
    """(layer, unit) of a unit label of the run, else NotFound."""
    try:
        layer, unit = split_unit_label(label)
    except NotFound:
        raise NotFound(f"{label!r} is not a unit label (<layer>.<unit>, e.g. fc6.1199)") from None
    if unit >= 2**31:
        raise NotFound(f"no unit {label!r} in {run.name}")
    found = one(conn, "SELECT n_units FROM seldb.layers WHERE run_id = :r AND layer = :l", r=run.run_id, l=layer)
    if found is None or unit >= found["n_units"]:
        raise NotFound(f"no unit {label!r} in {run.name}")
    return layer, unit
