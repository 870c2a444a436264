"""Schema migrations (alembic), driven from Python instead of an alembic.ini.

The migration scripts live in the package `seldb_migrations` (the repo's
migrations/ folder), so they work from an installed wheel; the alembic Config is
built here. Plain `alembic upgrade head` in the repo root works too, through
alembic.ini and the same migrations/env.py.

Alembic's version table is `public.seldb_alembic_version`: not in seldb_store,
because revision 0001 creates that schema and downgrading to base drops it,
and not `alembic_version`, so seldb can share a database with another
alembic-managed application.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from seldb.db.server import database_url, one_line
from seldb.errors import SeldbError
from seldb.settings import mask_url

# Taken by every migration (here and in env.py, for plain `alembic`): any constant works as long as
# every seldb uses the same one; "seldb" in ASCII.
MIGRATION_LOCK_KEY = 0x73656C6462
VERSION_TABLE = "seldb_alembic_version"
VERSION_TABLE_SCHEMA = "public"
MIGRATIONS_PACKAGE = "seldb_migrations"
# Indexes revision 0001 creates that schema.py does not declare (for the foreign
# keys that deleting a run or a concept follows); autogenerate leaves them alone.
MIGRATION_ONLY_INDEXES = frozenset({"ix_concept_measures_concept_id", "ix_measure_correlations_run_id"})


def migrations_dir() -> Path:
    """The folder of the installed migration scripts (alembic needs a real directory)."""
    package = importlib.import_module(MIGRATIONS_PACKAGE)
    if package.__file__ is None:
        raise SeldbError(f"{MIGRATIONS_PACKAGE} is not installed as files: reinstall seldb")
    return Path(package.__file__).resolve().parent


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An alembic Config built in code; env.py uses `connection` when given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this seldb knows."""
    script = ScriptDirectory.from_config(alembic_config())
    newest = script.get_current_head()
    if newest is None:
        raise SeldbError("seldb's migration scripts are missing: reinstall seldb")
    return newest


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Connection]:
    """A connection of its own (migrations are rare: no pool), unreachable server as one line."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        try:
            conn = engine.connect()
        except sa.exc.OperationalError as exc:
            raise SeldbError(f"cannot connect to {mask_url(url)}: {one_line(exc.orig or exc)}") from exc
        with conn:
            yield conn
    finally:
        engine.dispose()


def current(url: str | None = None) -> str | None:
    """The database's revision, None for a database seldb never touched (or downgraded to base)."""
    with _connect(url or database_url()) as conn:
        return _current(conn)


def _current(conn: Connection) -> str | None:
    context = MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE, "version_table_schema": VERSION_TABLE_SCHEMA}
    )
    return context.get_current_revision()


@dataclass(frozen=True)
class Migration:
    """What one upgrade or downgrade did: the revisions before and after (None: no seldb schema)."""

    before: str | None
    after: str | None


def upgrade(rev: str = "head", url: str | None = None) -> str | None:
    """Upgrade the database to `rev`; returns the revision it is at afterwards."""
    return migrate(rev, url).after


def downgrade(rev: str, url: str | None = None) -> str | None:
    """Downgrade the database to `rev` ("base" drops everything seldb created except the role)."""
    return migrate(rev, url, down=True).after


def migrate(rev: str, url: str | None = None, down: bool = False) -> Migration:
    """Up- or downgrade to `rev`, reporting the revision found under the migration lock.

    The lock is taken before the revision is read, so of two processes
    upgrading at once the second reports the revision the first left (its
    own upgrade had nothing to do), not the one both saw before.
    """
    url = url or database_url()
    try:
        with _connect(url) as conn:
            with conn.begin():  # one transaction: PostgreSQL DDL is transactional
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                before = _current(conn)
                (command.downgrade if down else command.upgrade)(alembic_config(url, conn), rev)
                return Migration(before, _current(conn))
    except (CommandError, RevisionError) as exc:  # unknown or unreachable revision
        raise SeldbError(f"alembic: {exc}") from exc
    except (sa.exc.DBAPIError, psycopg.Error) as exc:  # e.g. a user who may not create schemas or the role
        raise SeldbError(f"migrating {mask_url(url)} to {rev} failed: {_db_message(exc)}") from exc


def _db_message(exc: sa.exc.DBAPIError | psycopg.Error) -> str:
    """PostgreSQL's message and hint in one line."""
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    message = getattr(diag, "message_primary", None) or one_line(orig)
    hint = getattr(diag, "message_hint", None)
    return f"{message} ({hint})" if hint else message


def ensure_current(url: str | None = None) -> None:
    """Upgrade a fresh database to head; refuse one at any other revision."""
    url = url or database_url()
    with _connect(url) as conn:
        at = _current(conn)
        has_store = conn.exec_driver_sql("SELECT to_regnamespace('seldb_store') IS NOT NULL").scalar()
    wanted = head()
    if at == wanted:
        return
    if at is None:
        if has_store:
            raise SeldbError(
                f"database has a seldb_store schema but no {VERSION_TABLE_SCHEMA}.{VERSION_TABLE}: "
                "it was not created by `seldb db upgrade`; use another database or drop that schema"
            )
        upgrade("head", url)
        return
    if _is_known(at):
        raise SeldbError(f"database at revision {at}, seldb needs {wanted}: run `seldb db upgrade`")
    raise SeldbError(
        f"database at revision {at}, which this seldb does not know (it needs {wanted}): "
        "the database was upgraded by a newer seldb; upgrade seldb"
    )


def _is_known(rev: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config())
    try:
        return script.get_revision(rev) is not None
    except (CommandError, RevisionError):
        return False
