"""Run a user's SQL against the seldb database, read-only unless asked otherwise.

This is `seldb sql` without the printing, so notebooks and reports can use it
too. By default the session starts with default_transaction_read_only = on, so
every statement of the text, even after a COMMIT inside it, runs read-only:
a guard against accidents, not a security boundary (a user may switch it off
in the SQL itself; the seldb_reader role is the real boundary).

The SQL goes to psycopg as is, without parameters, so `%` needs no escaping
and several statements may be sent at once; the rows of the last statement
that returned rows come back.
"""

from __future__ import annotations

from typing import Any

import psycopg

from seldb.db.database import Database
from seldb.db.server import one_line, to_libpq_url
from seldb.errors import SeldbError
from seldb.settings import mask_url

READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction


def run_sql(db: Database, sql: str, write: bool = False) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Execute `sql`; return (column names, rows) of its last result with rows.

    Statements without a result (SET, INSERT without RETURNING, ...) give
    ([], []). With write=True the changes are committed; without it they are
    refused. Any SQL error raises SeldbError with PostgreSQL's message.
    """
    if not sql.strip():
        raise SeldbError("no SQL given")
    db.ensure_schema()  # a fresh database gets its views before the query needs them
    options = "" if write else "-c default_transaction_read_only=on"
    try:
        conn = psycopg.connect(to_libpq_url(db.url), options=options)
    except psycopg.OperationalError as exc:
        raise SeldbError(f"cannot connect to {mask_url(db.url)}: {one_line(exc)}") from exc
    with conn:  # commits on success, rolls back on an exception
        try:
            return _last_result(conn, sql)
        except psycopg.Error as exc:
            raise SeldbError(describe_error(exc, write)) from exc


def _last_result(conn: psycopg.Connection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns: list[str] = []
    rows: list[tuple[Any, ...]] = []
    with conn.cursor() as cursor:
        cursor.execute(sql)
        while True:
            if cursor.description is not None:
                columns = [column.name for column in cursor.description]
                rows = cursor.fetchall()
            if not cursor.nextset():
                break
    return columns, rows


def describe_error(exc: BaseException | None, write: bool, api: bool = False) -> str:
    """PostgreSQL's own message in one line, with a hint where seldb can give one."""
    if not isinstance(exc, psycopg.Error):  # the driver's error is missing: say what there is
        return one_line(exc or "the database refused the query")
    message = exc.diag.message_primary or one_line(exc)
    if exc.sqlstate == READ_ONLY_SQLSTATE and not write:
        how = "db.execute(sql, write=True)" if api else "`seldb sql --write`"
        return f"{message}: queries are read-only unless writes are allowed ({how})"
    position = exc.diag.statement_position
    return f"{message} (at character {position})" if position else message
