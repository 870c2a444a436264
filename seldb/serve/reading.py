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
from seldb.db.read import Run, layer_order, no_layer
from seldb.errors import SeldbError

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


def the_row(conn: sa.Connection, sql: str, **params: Any) -> dict:
    """The one row a query about something that exists returns (a run, a layer already found)."""
    row = one(conn, sql, **params)
    if row is None:
        raise SeldbError("the database changed while the page was read: reload it")
    return row


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
        raise no_layer(run, [layer], layer_order(conn, run.run_id))
    return row
