"""`seldb db ...` (schema migrations, which database) and `seldb sql` (ask the views).

Thin commands over seldb.db.migrate, seldb.db.engine and seldb.query; the only
logic here is how results are printed.
"""

from __future__ import annotations

import sys

import typer

from seldb_cli.common import confirmed, console, err_console, friendly
from seldb_cli.output import PRINTERS as _PRINTERS
from seldb_cli.output import OutputFormat

SQL_EXAMPLES = """\
Examples:

  seldb sql "SELECT * FROM seldb.detector_claims ORDER BY precision_60 DESC LIMIT 10"

  seldb sql "SELECT layer, measure, median FROM seldb.layer_summary WHERE measure = 'ccmas'" --format csv > ccmas.csv

  seldb sql "SELECT * FROM seldb.unit_class_stats WHERE unit_label = 'fc6.1199'" --format json

  echo "SELECT count(*) FROM seldb.runs" | seldb sql -

The views in schema seldb (runs, unit_measures, unit_class_stats, layer_summary, detector_claims, ...)
are the stable interface; list them all with

  seldb sql "SELECT table_name FROM information_schema.views WHERE table_schema = 'seldb'"
"""


def register(app: typer.Typer) -> None:
    """Add `seldb db` and `seldb sql` to the app."""
    db_app = typer.Typer(
        name="db",
        help=(
            "Which database seldb uses and its schema revision.\n\n"
            "The database is SELDB_DATABASE_URL (any PostgreSQL URL), or else an embedded PostgreSQL "
            "kept in SELDB_DATA_DIR. A fresh database is set up on first use; `seldb db upgrade` is "
            "needed only after installing a newer seldb."
        ),
        no_args_is_help=True,
    )
    db_app.command("upgrade")(upgrade_cmd)
    db_app.command("downgrade")(downgrade_cmd)
    db_app.command("current")(current_cmd)
    db_app.command("url")(url_cmd)
    app.add_typer(db_app, name="db")
    app.command("sql", epilog=SQL_EXAMPLES)(sql_cmd)


@friendly
def upgrade_cmd(
    revision: str = typer.Argument("head", help="Target revision; default: the newest (head)."),
) -> None:
    """Upgrade the database schema (tables and views) to REVISION.

    Example: seldb db upgrade
    """
    from seldb.db import migrate

    before = migrate.current()
    after = migrate.upgrade(revision)
    console.print(f"database at revision {after or 'none'} (was {before or 'none'})", highlight=False)


@friendly
def downgrade_cmd(
    revision: str = typer.Argument(..., help="Target revision, e.g. 0001, or 'base' for an empty database."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Downgrade the database schema to REVISION ('base' deletes every stored run).

    Examples: seldb db downgrade 0001     seldb db downgrade base --yes
    """
    from seldb.db import migrate

    if not confirmed(f"Downgrade the database to {revision}? Data in dropped tables is lost", yes):
        raise typer.Exit(1)
    before = migrate.current()
    after = migrate.downgrade(revision)
    console.print(f"database at revision {after or 'none'} (was {before or 'none'})", highlight=False)


@friendly
def current_cmd() -> None:
    """Show the database's schema revision and the one this seldb needs.

    Example: seldb db current
    """
    from seldb.db import migrate

    at, head = migrate.current(), migrate.head()
    if at == head:
        console.print(f"{at} (head)", highlight=False)
    elif at is None:
        console.print(f"none: empty database, set up on first use (head is {head})", highlight=False)
    else:
        console.print(f"{at} (seldb needs {head}: run `seldb db upgrade`)", highlight=False)


@friendly
def url_cmd(
    libpq: bool = typer.Option(False, "--libpq", help="Print it in the postgresql:// form psql accepts."),
) -> None:
    """Print the URL of the database seldb uses, password masked.

    Starts the embedded server when SELDB_DATABASE_URL is unset.
    Example: psql "$(seldb db url --libpq)"  (for the embedded server, which has no password)
    """
    from seldb.db.engine import database_url, to_libpq_url
    from seldb.settings import mask_url

    url = database_url()
    console.print(mask_url(to_libpq_url(url) if libpq else url), highlight=False, soft_wrap=True)


@friendly
def sql_cmd(
    sql: str = typer.Argument(..., help="The SQL to run; '-' reads it from standard input."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="How to print the rows."),
    write: bool = typer.Option(False, "--write", help="Allow changes (the SQL runs read-only otherwise)."),
) -> None:
    """Run SQL against the seldb database and print the rows.

    Runs read-only unless --write is given. Several statements may be given at
    once; the rows of the last one that returns rows are printed.
    """
    from seldb.query import run_sql

    if sql == "-":
        sql = sys.stdin.read()
    columns, rows = run_sql(sql, write=write)
    if not columns:
        err_console.print("done (the statement returned no rows)", highlight=False)
        return
    _PRINTERS[output](columns, rows)
