"""Alembic environment for seldb, shared by `seldb db ...` and plain `alembic`.

seldb.db.migrate passes an open connection in `config.attributes`; plain
`alembic` (alembic.ini in the repo root) has no URL in its ini, so the URL
comes from seldb.db.server.database_url() (SELDB_DATABASE_URL or the embedded
server). Every run takes a transaction-scoped advisory lock first, so two
processes auto-upgrading the same fresh database run one after the other and
the second finds nothing left to do.
"""

from __future__ import annotations

from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from seldb.db.migrate import MIGRATION_LOCK_KEY, MIGRATION_ONLY_INDEXES, VERSION_TABLE, VERSION_TABLE_SCHEMA
from seldb.db.schema import STORE, metadata
from seldb.db.server import database_url

config = context.config
if config.config_file_name is not None and config.get_section("loggers"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def include_name(name, type_, parent_names) -> bool:
    """Autogenerate compares seldb_store only (views and other schemas are not ours to diff)."""
    if type_ == "schema":
        return name == STORE
    return True


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate must not propose dropping the indexes revision 0001 adds beyond schema.py."""
    return not (type_ == "index" and reflected and compare_to is None and name in MIGRATION_ONLY_INDEXES)


def run_migrations(connection: sa.engine.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        version_table_schema=VERSION_TABLE_SCHEMA,
        include_schemas=True,
        include_name=include_name,
        include_object=include_object,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or database_url()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            run_migrations(conn)
            conn.commit()
    finally:
        engine.dispose()


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or database_url()
    context.configure(
        url=url,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        version_table_schema=VERSION_TABLE_SCHEMA,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
