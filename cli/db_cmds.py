"""`seldb db ...` (schema migrations, which database, the embedded server) and `seldb sql` (ask the views).

Thin commands over the database handle and seldb.db.server; the only logic
here is how results are printed.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from seldb_cli.common import confirmed, console, database, err_console, friendly
from seldb_cli.output import Digits, Format, OutputFormat, print_rows

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
    db_app.command("status")(status_cmd)
    db_app.command("stop")(stop_cmd)
    app.add_typer(db_app, name="db")
    app.command("sql", epilog=SQL_EXAMPLES)(sql_cmd)


def _print_migration(done) -> None:
    if done.before == done.after:
        console.print(f"database at revision {done.after or 'none'} (nothing to do)", highlight=False)
    else:
        console.print(f"database at revision {done.after or 'none'} (was {done.before or 'none'})", highlight=False)


@friendly
def upgrade_cmd(
    revision: Annotated[str, typer.Argument(help="Target revision; default: the newest (head).")] = "head",
) -> None:
    """Upgrade the database schema (tables and views) to REVISION.

    Example: seldb db upgrade
    """
    with database() as db:
        _print_migration(db.upgrade(revision))


@friendly
def downgrade_cmd(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 0001, or 'base' for an empty database.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Downgrade the database schema to REVISION ('base' deletes every stored run).

    Examples: seldb db downgrade 0001     seldb db downgrade base --yes
    """
    if not confirmed(f"Downgrade the database to {revision}? Data in dropped tables is lost", yes):
        raise typer.Exit(1)
    with database() as db:
        _print_migration(db.downgrade(revision))


@friendly
def current_cmd() -> None:
    """Show the database's schema revision and the one this seldb needs.

    Example: seldb db current
    """
    with database() as db:
        at, head = db.revision()
    if at == head:
        console.print(f"{at} (head)", highlight=False)
    elif at is None:
        console.print(f"none: empty database, set up on first use (head is {head})", highlight=False)
    else:
        console.print(f"{at} (seldb needs {head}: run `seldb db upgrade`)", highlight=False)


@friendly
def url_cmd(
    sqlalchemy: Annotated[
        bool, typer.Option("--sqlalchemy", help="Print the SQLAlchemy form (postgresql+psycopg://) instead.")
    ] = False,
    libpq: Annotated[bool, typer.Option("--libpq", hidden=True, help="The default form (kept for scripts).")] = False,
) -> None:
    """Print the URL of the database seldb uses, in the postgresql:// form psql accepts, password masked.

    Starts the embedded server when SELDB_DATABASE_URL is unset.
    Example: psql "$(seldb db url)"  (the embedded server has no password)
    """
    from seldb.db.server import database_url, to_libpq_url
    from seldb.settings import mask_url

    url = database_url()
    console.print(mask_url(url if sqlalchemy else to_libpq_url(url)), highlight=False, soft_wrap=True)


@friendly
def status_cmd() -> None:
    """Which database seldb uses, whether it answers, and its schema revision.

    With SELDB_DATABASE_URL unset, also where the embedded PostgreSQL lives and whether it runs
    (it keeps running between commands so that each starts at once; `seldb db stop` stops it).
    """
    from seldb.db.status import database_status

    for name, value in database_status():
        console.print(f"{name + ':':<18}{value}", highlight=False, soft_wrap=True)


@friendly
def stop_cmd() -> None:
    """Stop the embedded PostgreSQL (the next seldb command starts it again)."""
    from seldb.db.server import stop_embedded
    from seldb.settings import get_settings

    if get_settings().database_url:
        console.print("nothing to stop: seldb uses SELDB_DATABASE_URL, not the embedded server", highlight=False)
        return
    stopped = stop_embedded()
    console.print(
        "embedded PostgreSQL stopped" if stopped else "the embedded PostgreSQL was not running", highlight=False
    )


@friendly
def sql_cmd(
    sql: Annotated[str, typer.Argument(help="The SQL to run; '-' reads it from standard input.")],
    output: Format = OutputFormat.table,
    write: Annotated[bool, typer.Option("--write", help="Allow changes (the SQL runs read-only otherwise).")] = False,
    digits: Digits = 4,
) -> None:
    """Run SQL against the seldb database and print the rows.

    Runs read-only unless --write is given. Several statements may be given at
    once; the rows of the last one that returns rows are printed.
    """
    if sql == "-":
        sql = sys.stdin.read()
    with database() as db:
        columns, rows = db.execute(sql, write=write)
    if not columns:
        err_console.print("done (the statement returned no rows)", highlight=False)
        return
    print_rows(columns, rows, output, digits)
