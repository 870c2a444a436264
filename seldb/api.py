"""The notebook API: `db = seldb.connect()`, then one method per view, each a polars frame.

    import seldb
    db = seldb.connect()                      # SELDB_DATABASE_URL, or the embedded server
    units = db.unit_measures()                # the latest complete run
    db.unit_class_stats(run=3, unit_label="fc6.1199")
    db.detector_claims(run="all", layer="fc8")
    db.sql("SELECT ... WHERE run_id = :r", r=3)

Methods are named after the views of schema seldb (views.md) and take
`run` (None: the latest complete run; "all": every run) plus equality
filters on the view's columns (`class_=` for the column `class`; a list
means "any of"). Filtering happens in PostgreSQL, so asking for one unit of
a 1000-class run reads one unit. Every value comes from a view, as in the
reports.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa

from seldb.db.engine import connect as _connect
from seldb.db.engine import ensure_schema
from seldb.db.views import ALL_VIEW_NAMES
from seldb.errors import InputError
from seldb.reports.source import did_you_mean, frame, resolve_run

# views added with revision 0003 (reports); listed here too until seldb.db.views lists them
VIEWS: tuple[str, ...] = ALL_VIEW_NAMES
ALL_RUNS = "all"


class Seldb:
    """A handle on one seldb database; see the module docstring. One method per view."""

    def __init__(self, url: str | None = None):
        self.url = ensure_schema(url)  # a fresh database gets its tables and views first
        self._columns: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        from seldb.settings import mask_url

        return f"<seldb {mask_url(self.url)}>"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(VIEWS))

    def views(self) -> list[str]:
        """The views this API has a method for."""
        return list(VIEWS)

    def latest_run(self) -> int:
        """The id of the newest complete run."""
        with _connect(self.url) as conn:
            return resolve_run(conn, None).run_id

    def sql(self, query: str, **params: Any) -> pl.DataFrame:
        """Any SELECT, with :name parameters, as a polars frame."""
        with _connect(self.url) as conn:
            return frame(conn, query, params)

    def view(self, name: str, run: int | str | None = None, **filters: Any) -> pl.DataFrame:
        """Rows of seldb.<name> for `run` (None: latest, "all": every run), filtered by column equality."""
        if name not in VIEWS:
            raise InputError(f"no view {name!r}{did_you_mean(name, list(VIEWS))}")
        with _connect(self.url) as conn:
            columns = self._view_columns(conn, name)
            clauses, params = [], {}
            if name == "runs" and run not in (None, ALL_RUNS):  # seldb.runs lists runs of any status
                params["run_id"] = int(run)
                clauses.append("run_id = :run_id")
            elif name != "runs" and run != ALL_RUNS and "run_id" in columns:
                params["run_id"] = resolve_run(conn, run).run_id
                clauses.append("run_id = :run_id")
            for i, (key, value) in enumerate(filters.items()):
                clauses.append(_clause(name, key.rstrip("_"), columns, value, f"p{i}", params))
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            return frame(conn, f"SELECT * FROM seldb.{name}{where}", params)

    def _view_columns(self, conn: sa.Connection, name: str) -> list[str]:
        if name not in self._columns:
            self._columns[name] = list(conn.execute(sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'seldb'"
                " AND table_name = :v ORDER BY ordinal_position"), {"v": name}).scalars())  # fmt: skip
        return self._columns[name]


def _clause(view: str, column: str, columns: list[str], value: Any, key: str, params: dict) -> str:
    """One `column = value` (or `= ANY(list)`, `IS NULL`) condition; columns are checked, never spliced raw."""
    if column not in columns:
        raise InputError(f"seldb.{view} has no column {column!r}{did_you_mean(column, columns)}")
    quoted = f'"{column}"'
    if value is None:
        return f"{quoted} IS NULL"
    params[key] = list(value) if isinstance(value, (list, tuple, set)) else value
    return f"{quoted} = ANY(:{key})" if isinstance(value, (list, tuple, set)) else f"{quoted} = :{key}"


def _view_method(name: str):
    def method(self: Seldb, run: int | str | None = None, **filters: Any) -> pl.DataFrame:
        return self.view(name, run, **filters)

    method.__name__ = name
    method.__doc__ = (
        f"Rows of the view seldb.{name} as a polars frame.\n\n"
        "run: a run id, None for the latest complete run, or 'all'. Other keyword arguments are\n"
        "equality filters on the view's columns (a list means any of; `class_` for `class`)."
    )
    return method


for _name in VIEWS:
    setattr(Seldb, _name, _view_method(_name))


def connect(url: str | None = None) -> Seldb:
    """A handle on the seldb database (SELDB_DATABASE_URL, else the embedded server, unless `url`)."""
    return Seldb(url)
