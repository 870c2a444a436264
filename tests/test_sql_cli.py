"""`seldb sql` and `seldb db ...` on a real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from seldb.db import migrate


@pytest.mark.db
def test_run_sql_returns_columns_and_rows(db):
    columns, rows = db.execute("SELECT 1 AS one, 'a%' LIKE 'a%%' AS percent_is_plain; SELECT 2 AS two")
    assert (columns, rows) == (["two"], [(2,)])
    assert db.execute("SET work_mem = '8MB'") == ([], [])


@pytest.mark.db
def test_sql_is_read_only_unless_write(db, cli):
    insert = "INSERT INTO seldb_store.concepts(name, classes) VALUES ('cli-probe', '{a}')"
    for sql in (insert, f"COMMIT; {insert}"):  # a COMMIT inside the text does not escape read-only
        refused = cli("sql", sql)
        assert refused.exit_code == 1
        assert "read-only" in refused.stderr and "--write" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    try:
        assert cli("sql", "--write", insert).exit_code == 0
        assert db.execute("SELECT classes FROM seldb_store.concepts WHERE name = 'cli-probe'")[1] == [(["a"],)]
    finally:
        db.execute("DELETE FROM seldb_store.concepts WHERE name = 'cli-probe'", write=True)


@pytest.mark.db
def test_sql_errors_are_one_line(migrated_db, cli):
    result = cli("sql", "SELEC 1")
    assert result.exit_code == 1
    assert result.stderr.strip() == 'error: syntax error at or near "SELEC" (at character 1)'


SAMPLE = "SELECT 1 AS a, NULL::int AS b, 'x,y' AS c, ARRAY[1,2] AS d, 'NaN'::float8 AS e, DATE '2020-04-15' AS f"


@pytest.mark.db
def test_sql_csv_and_json(migrated_db, cli):
    csv_out = cli("sql", SAMPLE, "--format", "csv")
    assert csv_out.exit_code == 0, csv_out.output
    assert csv_out.stdout == 'a,b,c,d,e,f\n1,,"x,y","[1, 2]",nan,2020-04-15\n'
    json_out = cli("sql", SAMPLE, "-f", "json")
    assert json_out.exit_code == 0, json_out.output
    assert json.loads(json_out.stdout) == [dict(a=1, b=None, c="x,y", d=[1, 2], e=None, f="2020-04-15")]
    table = cli("sql", "SELECT 'fc6.1199' AS unit_label, NULL AS nothing")
    assert table.exit_code == 0 and "fc6.1199" in table.stdout and "NULL" in table.stdout


@pytest.mark.db
def test_sql_reads_stdin(migrated_db, cli):
    result = cli("sql", "-", "-f", "csv", input="SELECT count(*) AS n FROM seldb.runs WHERE false")
    assert result.stdout == "n\n0\n"


@pytest.mark.db
def test_db_commands(fresh_database_url, monkeypatch, cli):
    monkeypatch.setenv("SELDB_DATABASE_URL", fresh_database_url)
    head = migrate.head()
    assert "none: empty database" in cli("db", "current").stdout
    assert cli("db", "upgrade").stdout.strip() == f"database at revision {head} (was none)"
    assert cli("db", "upgrade").stdout.strip() == f"database at revision {head} (nothing to do)"
    status = cli("db", "status")
    assert status.exit_code == 0, status.output
    lines = dict(line.split(":", 1) for line in status.stdout.splitlines())
    assert lines["schema revision"].strip() == f"{head} (head)" and lines["database"].strip() == "SELDB_DATABASE_URL"
    assert lines["reachable"].strip().startswith("yes, PostgreSQL")
    assert cli("db", "current").stdout.strip() == f"{head} (head)"
    # Without a terminal (scripts, CI) there is nobody to ask: it proceeds as with --yes.
    assert cli("db", "downgrade", "0001").stdout.strip() == f"database at revision 0001 (was {head})"
    assert "run `seldb db upgrade`" in cli("db", "current").stdout
    failed = cli("sql", "SELECT 1")
    assert failed.exit_code == 1 and "seldb needs" in failed.stderr
    assert cli("db", "upgrade", "0042").exit_code == 1


@pytest.mark.unit
def test_db_url_masks_the_password(monkeypatch, cli):
    monkeypatch.setenv("SELDB_DATABASE_URL", "postgres://me:hunter2@db.example:5432/sel")
    assert cli("db", "url").stdout.strip() == "postgresql://me:***@db.example:5432/sel"  # what psql takes
    assert cli("db", "url", "--libpq").stdout.strip() == "postgresql://me:***@db.example:5432/sel"
    assert cli("db", "url", "--sqlalchemy").stdout.strip() == "postgresql+psycopg://me:***@db.example:5432/sel"
