"""seldb_reader: reads every view, and nothing else."""

from __future__ import annotations

import secrets

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from seldb.db import migrate
from seldb.db import schema as s
from seldb.db.server import to_libpq_url
from seldb.db.views import READER_ROLE, VIEW_NAMES

# --------------------------------------------------------------------------- seldb_reader


def _reader_session(url: str) -> psycopg.Connection:
    conn = psycopg.connect(to_libpq_url(url), autocommit=True)
    conn.execute(f"SET ROLE {READER_ROLE}")
    return conn


@pytest.mark.db
def test_reader_can_select_every_view(migrated_db):
    with _reader_session(migrated_db) as conn:
        for view in VIEW_NAMES:
            conn.execute(f"SELECT * FROM seldb.{view} LIMIT 1").fetchall()


REFUSED_TO_READER = [
    "SELECT * FROM seldb_store.runs",
    "INSERT INTO seldb_store.concepts(name, classes) VALUES ('x', '{}')",
    "UPDATE seldb_store.run_classes SET label = 'x'",
    "DELETE FROM seldb_store.unit_arrays",
    "INSERT INTO seldb.latest_unit_measures(unit) VALUES (1)",
    "UPDATE seldb.unit_measures SET unit = 1",
    "DELETE FROM seldb.runs",
    "CREATE VIEW seldb.mine AS SELECT 1 AS one",
    "CREATE SCHEMA mine",
    "SELECT * FROM public.seldb_alembic_version",
]


@pytest.mark.db
@pytest.mark.parametrize("statement", REFUSED_TO_READER)
def test_reader_may_do_nothing_else(migrated_db, statement):
    with _reader_session(migrated_db) as conn:
        # refused for want of privilege, or (views over several tables) because nobody may write there
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)):
            conn.execute(statement)


@pytest.mark.db
def test_reader_privileges_are_only_usage_and_select(migrated_db):
    with _reader_session(migrated_db) as conn:
        conn.execute("RESET ROLE")
        check = lambda sql, *args: conn.execute(sql, (READER_ROLE, *args)).fetchone()[0]  # noqa: E731
        assert check("SELECT has_schema_privilege(%s, 'seldb', 'USAGE')")
        assert not check("SELECT has_schema_privilege(%s, 'seldb', 'CREATE')")
        assert not check("SELECT has_schema_privilege(%s, 'seldb_store', 'USAGE')")
        assert not check("SELECT has_database_privilege(%s, current_database(), 'CREATE')")
        if conn.info.server_version >= 150000:  # PostgreSQL 15 took CREATE on public away from PUBLIC
            assert not check("SELECT has_schema_privilege(%s, 'public', 'CREATE')")
        for view in VIEW_NAMES:
            assert check("SELECT has_table_privilege(%s, %s, 'SELECT')", f"seldb.{view}")
            assert not check(
                "SELECT has_table_privilege(%s, %s, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')",
                f"seldb.{view}",
            )
        for table in s.metadata.tables:
            assert not check("SELECT has_table_privilege(%s, %s, 'SELECT, INSERT, UPDATE, DELETE')", table)


@pytest.mark.db
def test_reader_gets_temp_only_from_public(migrated_db):
    """views.md says "no TEMP": not achievable per role. PostgreSQL grants TEMP on
    every database to PUBLIC and privileges only add up, so only revoking it from
    PUBLIC (every role of the database) would remove it. seldb grants none itself."""
    with psycopg.connect(to_libpq_url(migrated_db), autocommit=True) as conn:
        explicit = conn.execute(
            """SELECT count(*) FROM pg_database d, aclexplode(d.datacl) AS acl
               WHERE d.datname = current_database() AND acl.grantee = %s::regrole""",
            (READER_ROLE,),
        ).fetchone()[0]
        assert explicit == 0
        via_public = conn.execute("SELECT has_database_privilege('public', current_database(), 'TEMP')").fetchone()[0]
        assert (
            conn.execute("SELECT has_database_privilege(%s, current_database(), 'TEMP')", (READER_ROLE,)).fetchone()[0]
            == via_public
        )


@pytest.mark.db
def test_a_bi_login_in_role_seldb_reader_reads_the_views(migrated_db, tmp_path):
    from support import import_file

    from seldb.h5.reader import write_activation_file

    rng = np.random.default_rng(5)
    path = write_activation_file(
        tmp_path / "bi.h5",
        class_names=["a", "b"],
        labels=rng.integers(0, 2, 30),
        layers={"fc": rng.random((30, 7)).astype(np.float32)},
    )
    run_id = import_file(path, force=True).run_id
    login = f"seldb_test_bi_{secrets.token_hex(4)}"
    with psycopg.connect(to_libpq_url(migrated_db), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {login} LOGIN IN ROLE {READER_ROLE}")
        try:
            bi_url = sa.make_url(to_libpq_url(migrated_db)).set(username=login, password=None)
            with psycopg.connect(bi_url.render_as_string(hide_password=False)) as bi:
                query = "SELECT unit_label FROM seldb.unit_measures WHERE run_id = %s ORDER BY unit"
                assert [r[0] for r in bi.execute(query, (run_id,))] == [f"fc.{u}" for u in range(7)]
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    bi.execute("SELECT * FROM seldb_store.unit_measures")
        finally:
            admin.execute(f"DROP ROLE {login}")


@pytest.mark.db
def test_a_database_owner_without_superuser_can_migrate(any_server):
    """The usual deployment: seldb_reader exists, the migrating user owns its database and nothing more."""
    url = any_server.create_database()
    migrate.upgrade("head", url)  # makes sure seldb_reader exists on this server
    migrate.downgrade("base", url)
    owner = f"seldb_test_owner_{secrets.token_hex(4)}"
    database = sa.make_url(url).database
    with psycopg.connect(to_libpq_url(url), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN")
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO {owner}')
        admin.execute(f"ALTER TABLE public.{migrate.VERSION_TABLE} OWNER TO {owner}")
        if admin.info.server_version < 150000:  # before 15, public belonged to the bootstrap superuser
            admin.execute(f"GRANT CREATE ON SCHEMA public TO {owner}")
        try:
            owner_url = sa.make_url(url).set(username=owner, password=None).render_as_string(hide_password=False)
            assert migrate.upgrade("head", owner_url) == migrate.head()
            with _reader_session(url) as reader:
                assert reader.execute("SELECT count(*) FROM seldb.unit_class_stats").fetchone() == (0,)
            assert migrate.downgrade("base", owner_url) is None
        finally:
            admin.execute(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER')
            admin.execute(f"REASSIGN OWNED BY {owner} TO CURRENT_USER")
            admin.execute(f"DROP OWNED BY {owner}")
            admin.execute(f"DROP ROLE {owner}")
