"""One seldb database: its URL, the connections to it, and a schema checked once.

Every library operation takes a `Database` (the `Seldb` handle of
`seldb.connect()` is one) and connects through it; no module keeps a
connection or an engine of its own, so two handles on two databases in one
process never mix.

`connect()` makes sure first that the schema is the revision this seldb
needs: a fresh, empty database is upgraded to it, an older one raises a
SeldbError naming the command that upgrades it. An unreachable server is one
line naming the URL with its password masked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seldb.db.server import database_url, one_line
from seldb.errors import SeldbError
from seldb.settings import mask_url, normalize_database_url


def driver_cursor(conn: Connection) -> psycopg.Cursor:
    """A psycopg cursor on the connection's own transaction: for binary COPY, and for SQL text that
    must reach the server as written (a `%` in a view is not a parameter placeholder)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise SeldbError(f"seldb talks to PostgreSQL through psycopg 3, not {type(raw).__name__}")
    return raw.cursor()


class Database:
    """A PostgreSQL database holding seldb's tables and views (see the module docstring)."""

    def __init__(self, url: str | None = None):
        # None: SELDB_DATABASE_URL, else the embedded server (started now if need be)
        self.url = normalize_database_url(url) if url else database_url()
        self._engine: Engine | None = None
        self._schema_checked = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {mask_url(self.url)}>"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.url, pool_pre_ping=True)
        return self._engine

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection to a database at this seldb's schema revision; commit explicitly
        (the connection is rolled back when the block ends). A database error in the block (a lost
        connection, a timeout, a full disk) becomes one SeldbError line."""
        self.ensure_schema()
        with self.connect_unchecked() as conn:
            yield conn

    @contextlib.contextmanager
    def connect_unchecked(self) -> Iterator[Connection]:
        """A plain connection (migrations, `seldb db ...`), whatever the schema."""
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise SeldbError(f"cannot connect to {mask_url(self.url)}: {one_line(exc.orig or exc)}") from exc
        try:
            yield conn
        except (sa.exc.DBAPIError, psycopg.Error) as exc:
            raise SeldbError(describe_error(exc, self.url)) from exc
        finally:
            _close_quietly(conn)

    def ensure_schema(self) -> None:
        """Check once that the database is at head; a fresh one is upgraded, another refused."""
        if not self._schema_checked:
            from seldb.db import migrate  # alembic is slow to import: only when a database is used

            migrate.ensure_current(self.url)
            self._schema_checked = True

    def forget_schema(self) -> None:
        """Look at the revision again on the next connect (after an upgrade or downgrade)."""
        self._schema_checked = False

    def close(self) -> None:
        """Close every pooled connection; the handle reconnects if used again."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _close_quietly(conn: Connection) -> None:
    """Close (rolling back); a connection the server already dropped cannot roll back, and its
    second error must not hide the first."""
    try:
        conn.close()
    except (sa.exc.DBAPIError, psycopg.Error):
        conn.invalidate()


LOST = ("08", "57P")  # connection exceptions; the server shut down or is starting
OUT_OF_RESOURCES = "53"  # disk full, out of memory, too many connections


def describe_error(exc: BaseException, url: str) -> str:
    """One line on what the database said, and that nothing was changed (the transaction rolled back)."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None) or ""
    diag = getattr(orig, "diag", None)
    message = (getattr(diag, "message_primary", None) or one_line(orig)).rstrip(".")
    where = mask_url(url)
    if (
        sqlstate.startswith(LOST)
        or sqlstate == "25P03"
        or (not sqlstate and isinstance(orig, psycopg.OperationalError))
    ):
        return f"lost the connection to {where} ({message}): nothing was written; run the command again"
    if sqlstate == "57014":  # query_canceled: statement_timeout, or cancelled by an administrator
        return f"the database cancelled a statement ({message}) at {where}: nothing was written"
    if sqlstate.startswith(OUT_OF_RESOURCES):
        return f"the database at {where} is out of resources ({message}): nothing was written"
    return f"the database at {where} refused: {message}"
