"""The public SQL interface: the views in schema `seldb` and the role that reads them.

The view definitions are the sql/*.sql files (package `seldb_sql`, one
`CREATE OR REPLACE VIEW` per file, spec: views.md), read with importlib.resources
so that they work from an installed wheel. Where a view lists the measures of
seldb.catalogue, its file holds a marker such as `{{unit_measure_columns}}`
that `view_sql` expands from the catalogue, so a new measure reaches the
views without anyone editing them. Migrations call these helpers with
an `Execute` function: `executor(op.get_bind())`, which sends the SQL through
the raw psycopg cursor so that a `%` in a view definition is never taken for a
parameter placeholder, or `op.execute` when alembic writes SQL instead of
running it (`alembic upgrade head --sql`).

What each view and column means has one source, seldb/db/columns.toml (and
the catalogue for the measures): the views' COMMENTs and docs/views.md are
both written from it (`view_doc`, `column_doc`, `comment_statements`).

`seldb_reader` (NOLOGIN) gets USAGE on schema seldb and SELECT on its views,
and nothing on seldb_store: the views run with their owner's rights on the
tables. Roles are cluster-wide and may be shared by several seldb databases,
so migrations create the role only when it is missing and never drop it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from functools import cache
from importlib import resources

from sqlalchemy.engine import Connection

from seldb import catalogue
from seldb.db.database import driver_cursor
from seldb.db.schema import VIEWS as VIEW_SCHEMA

Execute = Callable[[str], None]
SQL_PACKAGE = "seldb_sql"
READER_ROLE = "seldb_reader"

# Creation order: a view comes after the views it reads.
VIEW_NAMES: tuple[str, ...] = (
    "runs",
    "layers",
    "unit_measures",
    "latest_unit_measures",
    "unit_precision_k",
    "unit_class_stats",
    "unit_histograms",
    "unit_histogram_bins",
    "unit_top_images",
    "uncertainty_layers",
    "unit_measure_intervals",
    "unit_measure_chance",
    "layer_measure_null",
    "layer_summary_variants",
    "layer_summary",
    "layer_summary_with_dead",
    "layer_class_summary",
    "measure_correlations_variants",
    "measure_correlations",
    "measure_correlations_with_dead",
    "detector_claims",
    "high_precision_high_false_alarm",
    "concept_measures",
    "netdissect",
    "unit_label_iou",
    "detector_summary",
    "run_measure_summary",
    "run_unit_verdicts",
    "am_ratings",
    "am_ratings_summary",
    "control_runs",
    "control_units",
    "am_images",
    "rating_studies",
    "rating_study_items",
    "rating_study_progress",
)


def view_sql(name: str) -> str:
    """The CREATE OR REPLACE VIEW statement of one view, from sql/<name>.sql, markers expanded."""
    text = resources.files(SQL_PACKAGE).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    for marker, expand in MARKERS.items():
        if "{{" + marker + "}}" in text:
            text = text.replace("{{" + marker + "}}", expand())
    if "{{" in text:
        raise ValueError(f"sql/{name}.sql: unknown marker {text[text.index('{{') :].split('}}')[0]}}}}}")
    return text


def _select_list(measures, alias: str) -> str:
    """Each measure as the view shows it: NaN as NULL, class indexes as the class's label."""
    items = []
    for m in measures:
        if m.type == "class":
            items.append(f"c_{m.name}.label AS {m.name}")
        elif m.type == "float8":
            items.append(f"NULLIF({alias}.{m.name}, 'NaN') AS {m.name}")
        else:
            items.append(f"{alias}.{m.name}")
    return ",\n    ".join(items)


def _class_joins(measures, alias: str) -> str:
    """One LEFT JOIN on run_classes' primary key per class column (PostgreSQL drops those a query does not use)."""
    return "\n".join(
        f"LEFT JOIN seldb_store.run_classes AS c_{m.name}"
        f" ON c_{m.name}.run_id = {alias}.run_id AND c_{m.name}.class_index = {alias}.{m.name}"
        for m in measures
        if m.type == "class"
    )


def _summary_values() -> str:
    """The (measure, value) rows layer_summary unpivots, one per summarised measure."""
    by_name = catalogue.by_name()
    return ",\n            ".join(
        f"('{name}', m.{name}" + ("::double precision)" if by_name[name].type != "float8" else ")")
        for name in catalogue.summarised()
    )


MARKERS = {
    "unit_measure_columns": lambda: _select_list(catalogue.UNIT_MEASURES, "m"),
    "unit_measure_class_joins": lambda: _class_joins(catalogue.UNIT_MEASURES, "m"),
    "layer_summary_values": _summary_values,
    "concept_measure_columns": lambda: _select_list(catalogue.CONCEPT_MEASURES, "cm"),
}


def executor(conn: Connection) -> Execute:
    """A function that runs SQL text as is on conn's transaction (several statements, no placeholders)."""

    def execute(sql: str) -> None:
        with driver_cursor(conn) as cursor:
            cursor.execute(sql)

    return execute


def all_views_sql() -> str:
    """Every view as sql/ and the catalogue define it now, in creation order: what a revision that
    changes the views freezes for the revision before it (see docs/architecture.md)."""
    return "\n".join(view_sql(name).rstrip() + "\n" for name in VIEW_NAMES)


def create_views(execute: Execute, columns_of: Callable[[str], list[str]] | None = None) -> None:
    """Create or replace schema seldb, every view (as sql/ defines it now), their comments, and the
    reader's grants. `columns_of(view)` lists a view's columns for the column comments (see
    `column_lister`); without it (alembic --sql) only the views get comments."""
    execute(f"CREATE SCHEMA IF NOT EXISTS {VIEW_SCHEMA}")
    for name in VIEW_NAMES:
        execute(view_sql(name).rstrip().rstrip(";"))  # alembic --sql adds its own ";"
        for statement in comment_statements(name, columns_of(name) if columns_of else []):
            execute(statement)
    grant_reader(execute)


def column_lister(conn: Connection) -> Callable[[str], list[str]]:
    """The columns of a view of schema seldb, as conn's transaction sees them (views just created too)."""

    def columns_of(view: str) -> list[str]:
        with driver_cursor(conn) as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                " ORDER BY ordinal_position",
                (VIEW_SCHEMA, view),
            )
            return [row[0] for row in cursor.fetchall()]

    return columns_of


def frozen_view_names(frozen_sql: str) -> tuple[str, ...]:
    """The views a frozen copy (`all_views_sql()` of an earlier release) creates, in creation order."""
    return tuple(re.findall(rf"CREATE OR REPLACE VIEW {VIEW_SCHEMA}\.(\w+)", frozen_sql))


def drop_views(execute: Execute, names: tuple[str, ...] = VIEW_NAMES) -> None:
    """Drop views, dependents first (`names` in creation order).

    No CASCADE: if someone built their own objects on the views, the
    downgrade stops and says so instead of deleting their work.
    """
    for name in reversed(names):
        execute(f"DROP VIEW IF EXISTS {VIEW_SCHEMA}.{name}")


def ensure_reader_role(execute: Execute) -> None:
    """Create seldb_reader unless it exists (another database on the server may have made it)."""
    execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{READER_ROLE}') THEN
                CREATE ROLE {READER_ROLE} NOLOGIN;
            END IF;
        EXCEPTION
            -- a concurrent migration of another database created it first
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role {READER_ROLE} is missing and this user may not create roles'
                    USING HINT = 'ask an administrator to run: CREATE ROLE {READER_ROLE} NOLOGIN';
        END
        $$
        """
    )


def grant_reader(execute: Execute) -> None:
    """USAGE on schema seldb and SELECT on its views, now and for views created later."""
    execute(
        f"""
        GRANT USAGE ON SCHEMA {VIEW_SCHEMA} TO {READER_ROLE};
        GRANT SELECT ON ALL TABLES IN SCHEMA {VIEW_SCHEMA} TO {READER_ROLE};
        ALTER DEFAULT PRIVILEGES IN SCHEMA {VIEW_SCHEMA} GRANT SELECT ON TABLES TO {READER_ROLE};
        """
    )


def revoke_reader(execute: Execute) -> None:
    """Undo grant_reader (the role itself stays)."""
    execute(
        f"""
        DO $$
        BEGIN
            IF to_regnamespace('{VIEW_SCHEMA}') IS NOT NULL
               AND EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{READER_ROLE}') THEN
                ALTER DEFAULT PRIVILEGES IN SCHEMA {VIEW_SCHEMA} REVOKE SELECT ON TABLES FROM {READER_ROLE};
                REVOKE SELECT ON ALL TABLES IN SCHEMA {VIEW_SCHEMA} FROM {READER_ROLE};
                REVOKE USAGE ON SCHEMA {VIEW_SCHEMA} FROM {READER_ROLE};
            END IF;
        END
        $$
        """
    )


MEASURE_LISTS = {"unit": "UNIT_MEASURES", "concept": "CONCEPT_MEASURES"}


@cache
def _docs() -> dict:
    text = resources.files(__package__).joinpath("columns.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def view_doc(view: str) -> str:
    """One or two sentences on what a row of the view is ('' when undocumented)."""
    return _docs()["views"].get(view, {}).get("doc", "")


def column_doc(view: str, column: str) -> str | None:
    """The column's doc: the view's own, else the catalogue's (for measure views), else the common one."""
    entry = _docs()["views"].get(view, {})
    own = entry.get("columns", {}).get(column)
    if own:
        return own
    if "measures" in entry:
        measures = getattr(catalogue, MEASURE_LISTS[entry["measures"]])
        measure = catalogue.by_name(measures).get(column)
        if measure is not None:
            return measure.doc
    return _docs()["common"].get(column)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(view: str, columns: list[str], schema: str = "seldb") -> list[str]:
    """COMMENT ON VIEW and on each documented column (undocumented columns are left alone)."""
    statements = [f"COMMENT ON VIEW {schema}.{view} IS {_literal(view_doc(view))}"] if view_doc(view) else []
    for column in columns:
        doc = column_doc(view, column)
        if doc:
            statements.append(f'COMMENT ON COLUMN {schema}.{view}."{column}" IS {_literal(doc)}')
    return statements
