"""The handle on one seldb database: `db = seldb.connect(url)`, then every operation is a method.

    import seldb
    db = seldb.connect()                      # SELDB_DATABASE_URL, or the embedded server
    db.import_h5("acts.h5")                   # -> ImportResult
    units = db.unit_measures()                # the latest run, as a polars frame
    db.unit_class_stats(run=3, unit_label="fc6.1199")
    db.detector_claims(run="all", layer="fc8")
    db.sql("SELECT ... WHERE run_id = :r", r=3)
    db.reports.top(measures=["precision_60"], n=5).section("by_precision_60").frame

Query methods are named after the views of schema seldb (seldb.api_views,
generated from the views and their docs) and take `run` (None: the latest
run; "all": every run) plus equality filters on the view's columns (`class_=`
for the column `class`; a list means "any of"). Filtering happens in
PostgreSQL, so asking for one unit of a 1000-class run reads one unit.

Most operations are the library functions themselves, bound to the handle
(`handle_method`): their signatures, defaults and options objects are the
functions' own, written once. The ones that need torch are imported when
first called, so `seldb.connect()` stays light.

A handle owns its connections (close it, or use it in a `with` block, to
release them); two handles on two databases never mix. The CLI builds one
per command.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

import polars as pl
import sqlalchemy as sa

from seldb.api_views import ViewQueries
from seldb.db import query, runs
from seldb.db.database import Database
from seldb.db.read import frame, resolve_run
from seldb.db.views import VIEW_NAMES
from seldb.dissect.imported import import_tally
from seldb.errors import InputError, did_you_mean
from seldb.load import concepts
from seldb.load.import_h5 import run_import
from seldb.measures.resampling.estimates import UncertaintyOptions
from seldb.ratings import studies
from seldb.ratings.from_am import write_sheet
from seldb.ratings.import_csv import import_ratings
from seldb.reports.compare import compare_report
from seldb.reports.concept import concept_report
from seldb.reports.control import control_report
from seldb.reports.correlations import correlations_report
from seldb.reports.detectors import detectors_report
from seldb.reports.layers import layers_report
from seldb.reports.ratings import ratings_report
from seldb.reports.top import top_report
from seldb.reports.unit import unit_report
from seldb.sae.command import sae_load, sae_train

if TYPE_CHECKING:
    from seldb.am.am_images import AMRow
    from seldb.am.options import AMOptions
    from seldb.control.options import ControlOptions, ControlResult
    from seldb.dissect.options import DissectImport, DissectOptions
    from seldb.ingest.options import IngestOptions, IngestResult
    from seldb.load.uncertainty import UncertaintyRunResult
    from seldb.serve.server import ServeOptions

VIEWS: tuple[str, ...] = VIEW_NAMES
ALL_RUNS = "all"

P = ParamSpec("P")
R = TypeVar("R")


class handle_method(Generic[P, R]):  # noqa: N801  (used like a decorator-made method)
    """A library function `fn(db, ...)` as a method: `db.method(...)` calls `fn(db, ...)`.

    The method's signature (what IDEs and type checkers show) and its defaults
    are the function's own, so they are written once, next to the code that
    uses them. On `Reports`, the handle is the reports' `_db`.
    """

    def __init__(self, fn: Callable[Concatenate[Any, P], R]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        signature = inspect.signature(fn)
        self.signature = signature.replace(parameters=list(signature.parameters.values())[1:])

    def __get__(self, owner_instance: Any, owner: type | None = None) -> Callable[P, R]:
        fn = self.fn
        db = getattr(owner_instance, "_db", owner_instance)

        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return fn(db, *args, **kwargs)

        method.__doc__, method.__name__ = fn.__doc__, fn.__name__
        method.__dict__["__signature__"] = self.signature  # what help() and inspect show
        return method


class Seldb(ViewQueries, Database):
    """A seldb database and everything seldb does with it; see the module docstring."""

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

    execute = handle_method(query.run_sql)

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
    import_h5 = handle_method(run_import)
    import_netdissect = handle_method(import_tally)
    import_ratings = handle_method(import_ratings)

    def ingest(self, options: IngestOptions, notify: Callable[[str], None] | None = None) -> IngestResult:
        """Run a network over an image set, record its activations, import them (needs torch)."""
        from seldb.ingest.command import ingest

        return ingest(self, options, notify)

    def dissect(self, options: DissectOptions, notify: Callable[[str], None] | None = None) -> DissectImport:
        """Network Dissection of a network's layers over a Broden-format dataset, stored (needs torch)."""
        from seldb.dissect.command import run_dissect

        return run_dissect(self, options, notify)

    def uncertainty(
        self,
        run: int,
        layers: Sequence[str] | None = None,
        options: UncertaintyOptions | None = None,
        progress: bool = True,
        **settings: Any,
    ) -> UncertaintyRunResult:
        """Bootstrap intervals and a chance baseline for the layers of a run (reads its activation
        file); stored in seldb.unit_measure_intervals / unit_measure_chance / layer_measure_null.

        `options` is an UncertaintyOptions (bootstrap, permutations, seed, level, engine); keyword
        settings of the same names (`bootstrap=1000`) change the options given, or the defaults.
        """
        from seldb.load.uncertainty import run_uncertainty

        chosen = dataclasses.replace(options or UncertaintyOptions(), **settings)
        return run_uncertainty(self, run, layers, chosen, progress)

    # -- activation maximisation (torch) -------------------------------------
    def activation_maximisation(
        self, options: AMOptions, progress: bool = True, notify: Callable[[str], None] | None = None
    ) -> list[AMRow]:
        """AM images of a run's units, made (or reused) and stored in seldb.am_images (seldb.am.AMOptions)."""
        from seldb.am.command import activation_maximisation

        return activation_maximisation(self, options, progress, notify)

    am_sheet = handle_method(write_sheet)

    def control_superposition(
        self, options: ControlOptions | None = None, notify: Callable[[str], None] | None = None, progress: bool = True
    ) -> ControlResult:
        """The positive control: recurrent networks with and without superposition, imported as runs (needs torch)."""
        from seldb.control.command import control_superposition
        from seldb.control.options import ControlOptions

        return control_superposition(self, options or ControlOptions(), notify, progress)

    # -- sparse autoencoders (torch) -------------------------------------------
    sae_train = handle_method(sae_train)
    sae_load = handle_method(sae_load)

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

    add_study = handle_method(studies.add_study)
    list_studies = handle_method(studies.list_studies)

    # -- runs and concepts --------------------------------------------------
    list_runs = handle_method(runs.list_runs)
    runs_overview = handle_method(runs.runs_overview)
    show_run = handle_method(runs.show_run)
    delete_run = handle_method(runs.delete_run)
    add_concept = handle_method(concepts.add_concept)
    list_concepts = handle_method(concepts.list_concepts)
    delete_concept = handle_method(concepts.delete_concept)
    compute_concept = handle_method(concepts.compute_concept)

    # -- reports and schema -------------------------------------------------
    @property
    def reports(self) -> Reports:
        """The paper's tables and figures: db.reports.top(...), .layers(...), .unit("fc6.1199"), ..."""
        return Reports(self)

    def upgrade(self, revision: str = "head"):
        """Migrate the schema to `revision`; returns what was done (before, after)."""
        from seldb.db import migrate  # alembic is slow to import: only when the schema is asked about

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
    """The reports of one handle; each returns a seldb.reports.base.Report (seldb/reports/, one module each)."""

    def __init__(self, db: Seldb):
        self._db = db

    correlations = handle_method(correlations_report)
    layers = handle_method(layers_report)
    top = handle_method(top_report)
    unit = handle_method(unit_report)
    concept = handle_method(concept_report)
    detectors = handle_method(detectors_report)
    ratings = handle_method(ratings_report)
    control = handle_method(control_report)
    compare = handle_method(compare_report)


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


def connect(url: str | None = None) -> Seldb:
    """A handle on the seldb database at `url` (default: SELDB_DATABASE_URL, else the embedded server)."""
    return Seldb(url)
