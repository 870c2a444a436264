"""The public SQL interface: the views in schema `seldb` and the role that reads them.

The view definitions are the sql/*.sql files (package `seldb_sql`, one
`CREATE OR REPLACE VIEW` per file, spec: views.md), read with importlib.resources
so that they work from an installed wheel. Migrations call these helpers with
an `Execute` function: `executor(op.get_bind())`, which sends the SQL through
the raw psycopg cursor so that a `%` in a view definition is never taken for a
parameter placeholder, or `op.execute` when alembic writes SQL instead of
running it (`alembic upgrade head --sql`).

`seldb_reader` (NOLOGIN) gets USAGE on schema seldb and SELECT on its views,
and nothing on seldb_store: the views run with their owner's rights on the
tables. Roles are cluster-wide and may be shared by several seldb databases,
so migrations create the role only when it is missing and never drop it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from sqlalchemy.engine import Connection

from seldb.db.schema import VIEWS as VIEW_SCHEMA

Execute = Callable[[str], None]
SQL_PACKAGE = "seldb_sql"
READER_ROLE = "seldb_reader"

# Creation order: a view comes after the views it reads.
VIEW_NAMES: tuple[str, ...] = (
    "runs",
    "layers",
    "unit_measures",
    "unit_precision_k",
    "unit_class_stats",
    "unit_histograms",
    "unit_top_images",
    "layer_summary",
    "measure_correlations",
    "detector_claims",
    "high_precision_high_false_alarm",
    "concept_measures",
)
# Added by revision 0003, which creates them itself after their table: reports and imports.
REPORT_VIEW_NAMES: tuple[str, ...] = ("netdissect", "detector_summary", "am_ratings", "am_ratings_summary")
ALL_VIEW_NAMES: tuple[str, ...] = VIEW_NAMES + REPORT_VIEW_NAMES


def view_sql(name: str) -> str:
    """The CREATE OR REPLACE VIEW statement of one view, from sql/<name>.sql."""
    return resources.files(SQL_PACKAGE).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def executor(conn: Connection) -> Execute:
    """A function that runs SQL text as is on conn's transaction (several statements, no placeholders)."""

    def execute(sql: str) -> None:
        with conn.connection.driver_connection.cursor() as cursor:
            cursor.execute(sql)

    return execute


def create_views(execute: Execute) -> None:
    """Create or replace schema seldb, every view, and the reader's grants."""
    execute(f"CREATE SCHEMA IF NOT EXISTS {VIEW_SCHEMA}")
    for name in VIEW_NAMES:
        execute(view_sql(name).rstrip().rstrip(";"))  # alembic --sql adds its own ";"
    grant_reader(execute)


def drop_views(execute: Execute) -> None:
    """Drop every view (dependents first) and schema seldb.

    No CASCADE: if someone built their own objects on the views or in the
    schema, the downgrade stops and says so instead of deleting their work.
    """
    revoke_reader(execute)
    for name in reversed(VIEW_NAMES):
        execute(f"DROP VIEW IF EXISTS {VIEW_SCHEMA}.{name}")
    execute(f"DROP SCHEMA IF EXISTS {VIEW_SCHEMA}")


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
