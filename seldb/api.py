"""The handle on one seldb database: `db = seldb.connect(url)`, then every operation is a method.

    import seldb
    db = seldb.connect()                      # SELDB_DATABASE_URL, or the embedded server
    db.import_h5("acts.h5")                   # -> ImportResult
    units = db.unit_measures()                # the latest run, as a polars frame
    db.unit_class_stats(run=3, unit_label="fc6.1199")
    db.detector_claims(run="all", layer="fc8")
    db.sql("SELECT ... WHERE run_id = :r", r=3)
    db.reports.top(measure=["precision_60"], n=5).section("by_precision_60").frame

Query methods are named after the views of schema seldb and take `run`
(None: the latest run; "all": every run) plus equality filters on the view's
columns (`class_=` for the column `class`; a list means "any of"). Filtering
happens in PostgreSQL, so asking for one unit of a 1000-class run reads one
unit. Every value comes from a view, as in the reports.

A handle owns its connections (close it, or use it in a `with` block, to
release them); two handles on two databases never mix. The CLI builds one
per command.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa

from seldb.db.database import Database
from seldb.db.read import frame, resolve_run
from seldb.db.views import VIEW_NAMES
from seldb.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from seldb.am.am_images import AMRow
    from seldb.am.options import AMOptions
    from seldb.control.options import ControlOptions, ControlResult
    from seldb.dissect.options import DissectImport, DissectOptions
    from seldb.ingest.options import IngestOptions, IngestResult
    from seldb.load.options import ImportOptions, ImportResult, Provenance
    from seldb.ratings.studies import Study
    from seldb.reports.base import Report
    from seldb.serve.server import ServeOptions

VIEWS: tuple[str, ...] = VIEW_NAMES
ALL_RUNS = "all"


class Seldb(Database):
    """A seldb database and everything seldb does with it; see the module docstring."""

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(VIEWS))

    # -- queries ----------------------------------------------------------
    def views(self) -> list[str]:
        """The views this API has a method for."""
        return list(VIEWS)

    def latest_run(self) -> int:
        """The id of the latest run."""
        with self.connect() as conn:
            return resolve_run(conn, None).run_id

    def sql(self, query: str, **params: Any) -> pl.DataFrame:
        """One read-only SELECT, with :name parameters, as a polars frame (writes: `execute`)."""
        with self.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                return frame(conn, query, params)
            except sa.exc.DBAPIError as exc:
                from seldb.db.query import describe_error

                raise InputError(describe_error(exc.orig, write=False, api=True)) from None

    def execute(self, sql: str, write: bool = False) -> tuple[list[str], list[tuple]]:
        """`seldb sql`: any SQL text (several statements allowed), read-only unless write=True;
        returns the columns and rows of the last statement that returned rows."""
        from seldb.db.query import run_sql

        return run_sql(self, sql, write=write)

    def view(self, name: str, run: int | str | None = None, **filters: Any) -> pl.DataFrame:
        """Rows of seldb.<name> for `run` (None: latest, "all": every run), filtered by column equality."""
        if name not in VIEWS:
            raise InputError(f"no view {name!r}{did_you_mean(name, list(VIEWS))}")
        with self.connect() as conn:
            columns = _view_columns(conn, name)
            clauses, params = [], {}
            if name == "runs" and run is None:
                pass  # seldb.runs lists every run unless one is asked for
            elif run != ALL_RUNS and "run_id" in columns:
                params["run_id"] = resolve_run(conn, None if run is None else int(run)).run_id
                clauses.append("run_id = :run_id")
            for i, (key, value) in enumerate(filters.items()):
                clauses.append(_clause(name, key.rstrip("_"), columns, value, f"p{i}", params))
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            return frame(conn, f"SELECT * FROM seldb.{name}{where}", params)

    # -- loading ----------------------------------------------------------
    def import_h5(
        self,
        path: str | os.PathLike,
        options: ImportOptions | None = None,
        provenance: Provenance | None = None,
        progress: bool = True,
    ) -> ImportResult:
        """Import an activation file as a run (see seldb.load.import_h5.ImportOptions)."""
        from seldb.load.import_h5 import run_import

        return run_import(self, path, options, provenance, progress)

    def ingest(self, options: IngestOptions, notify: Callable[[str], None] | None = None) -> IngestResult:
        """Run a network over an image set, record its activations, import them (needs torch)."""
        from seldb.ingest.command import ingest

        return ingest(self, options, notify)

    def dissect(self, options: DissectOptions, notify: Callable[[str], None] | None = None) -> DissectImport:
        """Network Dissection of a network's layers over a Broden-format dataset, stored (needs torch)."""
        from seldb.dissect.command import run_dissect

        return run_dissect(self, options, notify)

    def import_netdissect(self, path: str | os.PathLike, run: int, layer: str):
        """A NetDissect tally.csv as layer `layer` of run `run`."""
        from seldb.dissect.imported import import_tally

        return import_tally(self, path, run, layer)

    def import_ratings(
        self,
        path: str | os.PathLike,
        run: int,
        synonyms: str | os.PathLike | None = None,
        replace: bool = False,
        key: str | os.PathLike | None = None,
    ):
        """Human ratings of activation-maximisation images (the paper's Table 1); with `key` (a rating
        sheet's key.json) `path` is a rater's download from that sheet."""
        from seldb.ratings.import_csv import import_ratings

        return import_ratings(self, path, run, synonyms, replace, key=key)

    # -- activation maximisation (torch) -------------------------------------
    def activation_maximisation(
        self, options: AMOptions, progress: bool = True, notify: Callable[[str], None] | None = None
    ) -> list[AMRow]:
        """AM images of a run's units, made (or reused) and stored in seldb.am_images (seldb.am.AMOptions)."""
        from seldb.am.command import activation_maximisation

        return activation_maximisation(self, options, progress, notify)

    def am_sheet(self, units: Sequence[str], out: str | os.PathLike, run: int | None = None, seed: int | None = None):
        """The blinded rating page (out/index.html) and its key (out/key.json) for units' stored AM images."""
        from seldb.ratings.from_am import write_sheet

        return write_sheet(self, units, out, run, seed)

    def uncertainty(
        self,
        run: int,
        layers: Sequence[str] | None = None,
        *,
        bootstrap: int = 200,
        permutations: int = 200,
        seed: int = 0,
        level: float = 0.95,
        progress: bool = True,
    ):
        """Bootstrap intervals and a chance baseline for the layers of a run (reads its activation
        file); stored in seldb.unit_measure_intervals / unit_measure_chance / layer_measure_null."""
        from seldb.load.uncertainty import run_uncertainty

        return run_uncertainty(
            self, run, layers, bootstrap=bootstrap, permutations=permutations, seed=seed, level=level, progress=progress
        )

    def control_superposition(
        self, options: ControlOptions | None = None, notify: Callable[[str], None] | None = None, progress: bool = True
    ) -> ControlResult:
        """The positive control: recurrent networks with and without superposition, imported as runs (needs torch)."""
        from seldb.control.command import control_superposition
        from seldb.control.options import ControlOptions

        return control_superposition(self, options or ControlOptions(), notify, progress)

    # -- the web app and its rating studies ------------------------------------
    def serve(
        self,
        options: ServeOptions | None = None,
        notify: Callable[[str], None] = print,
        warn: Callable[[str], None] = print,
    ) -> None:
        """`seldb serve`: the local web app on this handle, until interrupted (seldb.serve.server)."""
        from seldb.serve.server import ServeOptions, serve

        serve(self, options or ServeOptions(), notify, warn)

    def add_study(self, key: str | os.PathLike, name: str | None = None, run: int | None = None) -> Study:
        """Register a rating sheet (seldb am sheet's key.json) as a study asked at /rate/<name>."""
        from seldb.ratings.studies import add_study

        return add_study(self, key, name, run)

    def list_studies(self) -> list[dict]:
        from seldb.ratings.studies import list_studies

        return list_studies(self)

    # -- runs and concepts --------------------------------------------------
    def list_runs(self) -> list[dict]:
        from seldb.db.runs import list_runs

        return list_runs(self)

    def runs_overview(self) -> tuple[list[str], list[tuple]]:
        """(columns, rows): every run with what tells runs apart, as `seldb runs` prints it."""
        from seldb.db.runs import runs_overview

        return runs_overview(self)

    def show_run(self, run: int) -> dict:
        from seldb.db.runs import show_run

        return show_run(self, run)

    def delete_run(self, run: int) -> None:
        from seldb.db.runs import delete_run

        delete_run(self, run)

    def add_concept(self, name: str, classes: Sequence[str], replace: bool = False) -> list[str]:
        from seldb.load.concepts import add_concept

        return add_concept(self, name, classes, replace)

    def list_concepts(self) -> list[dict]:
        from seldb.load.concepts import list_concepts

        return list_concepts(self)

    def delete_concept(self, name: str) -> None:
        from seldb.load.concepts import delete_concept

        delete_concept(self, name)

    def compute_concept(self, name: str, run: int, progress: bool = True) -> int:
        from seldb.load.concepts import compute_concept

        return compute_concept(self, name, run, progress)

    # -- reports and schema -------------------------------------------------
    @property
    def reports(self) -> Reports:
        """The paper's tables and figures: db.reports.top(...), .layers(...), .unit("fc6.1199"), ..."""
        return Reports(self)

    def upgrade(self, revision: str = "head"):
        """Migrate the schema to `revision`; returns what was done (before, after)."""
        from seldb.db import migrate

        self.forget_schema()
        return migrate.migrate(revision, self.url)

    def downgrade(self, revision: str):
        from seldb.db import migrate

        self.forget_schema()
        return migrate.migrate(revision, self.url, down=True)

    def revision(self) -> tuple[str | None, str]:
        """(the database's schema revision, the one this seldb needs)."""
        from seldb.db import migrate

        return migrate.current(self.url), migrate.head()


class Reports:
    """The reports of one handle; each returns a seldb.reports.base.Report."""

    def __init__(self, db: Seldb):
        self._db = db

    def correlations(self, run: int | None = None, layer: str | None = None, include_dead: bool = False) -> Report:
        from seldb.reports.correlations import correlations_report

        return correlations_report(self._db, run, layer, include_dead)

    def layers(
        self,
        run: int | None = None,
        measures: Sequence[str] | None = None,
        plot: bool = False,
        out_dir: str | Path = ".",
        include_dead: bool = False,
    ) -> Report:
        from seldb.reports.layers import layers_report

        return layers_report(self._db, run, measures, plot=plot, out_dir=out_dir, include_dead=include_dead)

    def top(
        self, run: int | None = None, measures: Sequence[str] | None = None, n: int = 10, lowest: bool = False
    ) -> Report:
        from seldb.reports.top import top_report

        return top_report(self._db, run, measures, n=n, lowest=lowest)

    def unit(
        self,
        unit_label: str,
        run: int | None = None,
        class_name: str | None = None,
        n: int = 10,
        plot: bool = False,
        out_dir: str | Path = ".",
        use_file: bool = True,
        top_images: int | None = None,
    ) -> Report:
        from seldb.reports.unit import unit_report

        return unit_report(
            self._db,
            unit_label,
            run,
            class_name,
            n=n,
            plot=plot,
            out_dir=out_dir,
            use_file=use_file,
            top_images=top_images,
        )

    def concept(
        self,
        concept: str,
        run: int | None = None,
        units: Sequence[str] | None = None,
        sort: str | None = None,
        n: int | None = None,
    ) -> Report:
        from seldb.reports.concept import concept_report

        return concept_report(self._db, concept, run, units, sort=sort, n=n)

    def detectors(self, run: int | None = None, out_dir: str | Path | None = None) -> Report:
        from seldb.reports.detectors import detectors_report

        return detectors_report(self._db, run, out_dir)

    def ratings(self, run: int | None = None) -> Report:
        from seldb.reports.ratings import ratings_report

        return ratings_report(self._db, run)

    def control(self, runs: Sequence[int] | None = None, plot: bool = False, out_dir: str | Path = ".") -> Report:
        from seldb.reports.control import control_report

        return control_report(self._db, runs, plot=plot, out_dir=out_dir)


def _view_columns(conn: sa.Connection, name: str) -> list[str]:
    return list(
        conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'seldb'"
                " AND table_name = :v ORDER BY ordinal_position"
            ),
            {"v": name},
        ).scalars()
    )


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
        "run: a run id, None for the latest run, or 'all'. Other keyword arguments are\n"
        "equality filters on the view's columns (a list means any of; `class_` for `class`)."
    )
    return method


for _name in VIEWS:
    setattr(Seldb, _name, _view_method(_name))


def connect(url: str | None = None) -> Seldb:
    """A handle on the seldb database at `url` (default: SELDB_DATABASE_URL, else the embedded server)."""
    return Seldb(url)
