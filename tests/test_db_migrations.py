"""Migrations on a real PostgreSQL: round trips, automatic upgrade of a fresh database, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from seldb.db import migrate
from seldb.db import schema as s
from seldb.db.database import Database
from seldb.db.server import database_url, stop_embedded
from seldb.db.views import READER_ROLE, VIEW_NAMES
from seldb.errors import SeldbError

REPO = Path(__file__).resolve().parents[1]


def get_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def connect_checked(url: str):
    """A connection through seldb's own Database (schema checked first)."""
    return Database(url).connect()


# --------------------------------------------------------------------------- migrations


def _schemas(url: str) -> set[str]:
    with get_engine(url).connect() as conn:
        return set(conn.scalars(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'seldb%'")))


def _views(url: str) -> set[str]:
    with get_engine(url).connect() as conn:
        return set(conn.scalars(sa.text("SELECT viewname FROM pg_views WHERE schemaname = 'seldb'")))


def _role_exists(url: str) -> bool:
    with get_engine(url).connect() as conn:
        return bool(conn.scalar(sa.text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}))


@pytest.mark.db
def test_upgrade_downgrade_upgrade_round_trip(fresh_database_url):
    url = fresh_database_url
    assert migrate.current(url) is None
    assert migrate.upgrade("head", url) == migrate.head()
    assert _schemas(url) == {"seldb", "seldb_store"}
    assert set(VIEW_NAMES) <= _views(url)

    assert migrate.downgrade("0001", url) == "0001"
    assert _schemas(url) == {"seldb_store"}

    assert migrate.downgrade("base", url) is None
    assert _schemas(url) == set()
    assert _role_exists(url)  # roles are cluster-wide: never dropped

    assert migrate.upgrade("head", url) == migrate.head()
    assert set(VIEW_NAMES) <= _views(url)


@pytest.mark.db
def test_head_creates_exactly_the_tables_of_schema_py(fresh_database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade("head", fresh_database_url)
    with get_engine(fresh_database_url).connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parents: type_ != "schema" or name == s.STORE,
            },
        )
        diffs = compare_metadata(context, s.metadata)
    diffs = [d for d in diffs if not (d[0] == "remove_index" and d[1].name in migrate.MIGRATION_ONLY_INDEXES)]
    assert diffs == [], "schema.py and the migrations disagree: add a revision"


@pytest.mark.db
def test_a_fresh_database_is_upgraded_on_first_use(fresh_database_url):
    with connect_checked(fresh_database_url) as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM seldb.runs")) == 0
    assert migrate.current(fresh_database_url) == migrate.head()


@pytest.mark.db
def test_an_older_database_asks_for_seldb_db_upgrade(fresh_database_url):
    migrate.upgrade("0001", fresh_database_url)
    with pytest.raises(SeldbError) as caught:
        with connect_checked(fresh_database_url):
            pass
    assert str(caught.value) == f"database at revision 0001, seldb needs {migrate.head()}: run `seldb db upgrade`"


@pytest.mark.db
def test_a_newer_database_asks_for_a_newer_seldb(fresh_database_url):
    migrate.upgrade("head", fresh_database_url)
    with get_engine(fresh_database_url).begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE_SCHEMA}.{migrate.VERSION_TABLE} SET version_num = '0999'"))
    with pytest.raises(SeldbError, match="revision 0999, which this seldb does not know.*upgrade seldb"):
        migrate.ensure_current(fresh_database_url)


@pytest.mark.db
def test_tables_without_a_version_are_not_taken_over(fresh_database_url):
    with get_engine(fresh_database_url).begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA seldb_store"))
    with pytest.raises(SeldbError, match="no public.seldb_alembic_version"):
        migrate.ensure_current(fresh_database_url)


@pytest.mark.db
def test_an_unknown_revision_is_one_line(fresh_database_url):
    with pytest.raises(SeldbError, match="^alembic: .*0042"):
        migrate.upgrade("0042", fresh_database_url)


@pytest.mark.unit
def test_an_unreachable_server_is_one_line_naming_the_masked_url():
    url = "postgresql+psycopg://someone:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(SeldbError) as caught:
        migrate.current(url)
    message = str(caught.value)
    assert message.startswith("cannot connect to postgresql+psycopg://someone:***@127.0.0.1:1/nowhere: ")
    assert "hunter2" not in message and "\n" not in message


@pytest.mark.db
def test_plain_alembic_in_the_repo_root(fresh_database_url):
    if not (REPO / "alembic.ini").exists():
        pytest.skip("not a source checkout")
    env = {**os.environ, "SELDB_DATABASE_URL": fresh_database_url}

    def alembic(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "alembic", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    alembic("upgrade", "head")
    assert migrate.current(fresh_database_url) == migrate.head()
    alembic("downgrade", "base")
    assert migrate.current(fresh_database_url) is None and _schemas(fresh_database_url) == set()
    alembic("upgrade", "head")
    assert set(VIEW_NAMES) <= _views(fresh_database_url)


@pytest.mark.db
def test_embedded_server_is_started_once_and_reused(monkeypatch):
    data_dir = Path(tempfile.mkdtemp(prefix="seldb-test-data-", dir="/tmp"))
    monkeypatch.delenv("SELDB_DATABASE_URL", raising=False)
    monkeypatch.setenv("SELDB_DATA_DIR", str(data_dir))
    try:
        url = database_url()
        assert sa.make_url(url).database == "seldb" and "host=" in url  # a unix socket in the data dir
        with connect_checked(url) as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM seldb.runs")) == 0
        other_process = subprocess.run(
            [sys.executable, "-c", "from seldb.db.server import database_url; print(database_url())"],
            env={**os.environ},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert other_process.stdout.strip() == url  # the server outlives the process that started it
    finally:
        stop_embedded(data_dir)
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
