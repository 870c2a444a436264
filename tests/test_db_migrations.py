"""The database layer on a real PostgreSQL: settings, migrations, views, access, `seldb sql`.

The view tests insert a tiny hand-made run straight into seldb_store (3
classes, two of them sharing the name "crane", NaN inside the arrays) and
compare what the views unnest and slice with values worked out by hand.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from seldb.db import migrate
from seldb.db import schema as s
from seldb.db.engine import connect_checked, database_url, get_engine, stop_embedded, to_libpq_url
from seldb.db.views import ALL_VIEW_NAMES, READER_ROLE, VIEW_NAMES
from seldb.errors import SeldbError
from seldb.query import run_sql
from seldb.settings import ROOT_DATA_DIR, default_data_dir, mask_url, normalize_database_url

REPO = Path(__file__).resolve().parents[1]
NAN = float("nan")


# --------------------------------------------------------------------------- settings


@pytest.mark.unit
@pytest.mark.parametrize(
    "given, wanted",
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d?sslmode=require", "postgresql+psycopg://u@h/d?sslmode=require"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@/d?host=/tmp/x", "postgresql+psycopg://u@/d?host=/tmp/x"),
    ],
)
def test_urls_are_normalised_to_psycopg3(given, wanted):
    assert normalize_database_url(given) == wanted


@pytest.mark.unit
def test_a_non_postgresql_url_is_refused_with_its_password_masked():
    with pytest.raises(SeldbError, match=r"must be a PostgreSQL URL.*mysql://u:\*\*\*@h/d"):
        normalize_database_url("mysql://u:secret@h/d")


@pytest.mark.unit
@pytest.mark.parametrize(
    "given, wanted",
    [
        ("postgresql+psycopg://u:s3cr:et@h:5432/d", "postgresql+psycopg://u:***@h:5432/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("postgresql://h/d?user=u&password=pw&sslmode=x", "postgresql://h/d?user=u&password=***&sslmode=x"),
    ],
)
def test_mask_url_hides_passwords(given, wanted):
    assert mask_url(given) == wanted


@pytest.mark.unit
def test_data_dir_follows_env_user_and_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SELDB_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("SELDB_DATA_DIR")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_data_dir() == ROOT_DATA_DIR  # pgserver must never make /root world-traversable
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "seldb"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "seldb"


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
            [sys.executable, "-c", "from seldb.db.engine import database_url; print(database_url())"],
            env={**os.environ}, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert other_process.stdout.strip() == url  # the server outlives the process that started it
    finally:
        stop_embedded(data_dir)
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


# --------------------------------------------------------------------------- a tiny hand-made run

CLASSES = [  # name, key, label (made unique by the loader), n_analysed
    ("crane", "n02012849", "crane (n02012849)", 2),
    ("crane", "n03126707", "crane (n03126707)", 3),
    ("dog", "n02084071", "dog", 0),
]
IMAGES = [  # label, path
    (0, "a/0.jpg"), (0, "a/1.jpg"), (1, None), (1, "a/3.jpg"), (1, "a/4.jpg"), (2, "a/5.jpg"),
]  # fmt: skip
LAYERS = [(0, "conv1", 2, "max"), (1, "fc", 1, "none")]
MEASURES = {  # (layer_id, unit) -> unit_measures columns; class columns are class indexes
    (0, 0): dict(
        n_images=5, ccmas=0.5, ccmas_class=1, ccmas2=0.2, ccmas2_class=0, ccmas_morcos=0.6,
        precision_60=0.8, precision_60_class=1, precision_100=0.6, precision_100_class=1, n_classes_top100=2,
        localist_margin=0.1, is_localist=True, recall_p1=1.0, recall_p1_class=1, recall_p1_threshold=1.5,
        recall_p95=1.0, recall_p95_class=1, recall_p95_threshold=1.5, max_informedness=0.9, mi_class=1,
        mi_threshold=1.5, mi_recall=1.0, mi_specificity=0.9, mi_false_alarm_rate=0.1,
        mi_false_discovery_rate=0.6, mi_precision=0.4,
    ),
    (0, 1): dict(
        n_images=5, ccmas=0.1, ccmas_class=0, ccmas2=NAN, ccmas2_class=None, ccmas_morcos=NAN,
        precision_60=0.9, precision_60_class=0, precision_100=0.5, precision_100_class=0, n_classes_top100=1,
        localist_margin=None, is_localist=None, recall_p1=0.0, recall_p1_class=None, max_informedness=0.3,
        mi_class=1, mi_threshold=0.7, mi_recall=0.5, mi_false_alarm_rate=0.2, mi_false_discovery_rate=0.2,
    ),
    (1, 0): dict(n_images=5, ccmas=None, precision_60=0.5, precision_60_class=2, max_informedness=0.0),
}  # fmt: skip
ARRAYS = {  # (layer_id, unit) -> unit_arrays columns (index = class_index, NaN = NULL)
    (0, 0): dict(
        mean=[1.0, 2.0, NAN], std=[0.5, 1.0, NAN], min=[0.5, 1.0, NAN], max=[1.5, 3.0, NAN],
        ccmas=[-0.2, 0.5, NAN], mi=[0.1, 0.9, NAN], mi_threshold=[1.5, 1.5, NAN], n_nonzero=[2, 2, 0],
        n_zero=[0, 1, 0], hist_lo=0.0, hist_width=1.5, n_bins=2, hist_counts=[2, 0, 1, 2, 0, 0],
        top_image=[3, 4, 0, -1], top_activation=[3.0, 2.5, 1.5, NAN],
    ),
    (0, 1): dict(
        mean=[0.0, 1.0, NAN], std=[0.0, NAN, NAN], min=[0.0, 1.0, NAN], max=[0.0, 1.0, NAN],
        ccmas=[-1.0, 1.0, NAN], mi=[0.0, 0.3, NAN], mi_threshold=[0.0, 0.7, NAN], n_nonzero=[0, 3, 0],
        n_zero=[2, 0, 0], hist_lo=0.0, hist_width=0.5, n_bins=2, hist_counts=[0, 2, 3, 0, 0, 0],
        top_image=[2, -1, -1, -1], top_activation=[1.0, NAN, NAN, NAN],
    ),
    (1, 0): dict(
        mean=[0.0, 0.0, NAN], std=[0.0, 0.0, NAN], min=[0.0, 0.0, NAN], max=[0.0, 0.0, NAN],
        ccmas=[NAN, NAN, NAN], mi=[0.0, 0.0, NAN], mi_threshold=[0.0, 0.0, NAN], n_nonzero=[0, 0, 0],
        n_zero=[2, 3, 0], hist_lo=0.0, hist_width=0.0, n_bins=1, hist_counts=[2, 3, 0],
        top_image=[0, 1, 2, 3], top_activation=[0.0, 0.0, 0.0, 0.0],
    ),
}  # fmt: skip


def _insert_run(conn: sa.Connection, status: str) -> int:
    run_id = conn.execute(
        s.runs.insert().returning(s.runs.c.run_id),
        dict(model="tinynet", dataset="tiny3", n_images_total=6, n_images_analysed=5, only_correct=True,
             bins=2, top_k=[60, 100, 10], seldb_version="test", options={"reduction": "max"},
             fingerprint=f"fp-{status}", status=status),
    ).scalar_one()  # fmt: skip
    conn.execute(s.run_classes.insert(), [
        dict(run_id=run_id, class_index=i, name=n, key=k, label=lab, n_analysed=c)
        for i, (n, k, lab, c) in enumerate(CLASSES)
    ])  # fmt: skip
    conn.execute(s.run_images.insert(), [
        dict(run_id=run_id, image_index=i, label=lab, pred=lab, path=p, analysed=i < 5)
        for i, (lab, p) in enumerate(IMAGES)
    ])  # fmt: skip
    conn.execute(s.run_layers.insert(), [
        dict(run_id=run_id, layer_id=i, name=n, n_units=u, reduction=r) for i, n, u, r in LAYERS
    ])  # fmt: skip
    for (layer_id, unit), values in MEASURES.items():
        conn.execute(s.unit_measures.insert(), dict(run_id=run_id, layer_id=layer_id, unit=unit, **values))
    for (layer_id, unit), values in ARRAYS.items():
        conn.execute(s.unit_arrays.insert(), dict(run_id=run_id, layer_id=layer_id, unit=unit, **values))
    return run_id


def _insert_extras(conn: sa.Connection, run_id: int) -> None:
    """Precision at k, correlations, a concept and a Network Dissection tally."""
    conn.execute(s.unit_precision_k.insert(), [
        dict(run_id=run_id, layer_id=0, unit=0, k=10, precision=0.7, class_index=1),
        dict(run_id=run_id, layer_id=0, unit=1, k=10, precision=NAN, class_index=None),
    ])  # fmt: skip
    conn.execute(s.measure_correlations.insert(), [
        dict(run_id=run_id, layer_id=None, measure_a="ccmas", measure_b="precision_60", n_units=2,
             pearson_r=-1.0, pearson_p=NAN, spearman_rho=-1.0, spearman_p=NAN),
        dict(run_id=run_id, layer_id=0, measure_a="ccmas", measure_b="precision_60", n_units=2,
             pearson_r=-1.0, pearson_p=None, spearman_rho=-1.0, spearman_p=None),
    ])  # fmt: skip
    concept_id = conn.execute(
        s.concepts.insert().returning(s.concepts.c.concept_id),
        dict(name="Crane", classes=["n02012849", "n03126707"]),
    ).scalar_one()
    for row in [  # one statement per row: the rows fill different columns
        dict(run_id=run_id, layer_id=0, unit=0, concept_id=concept_id, n_a=5, n_not_a=0, mean_a=1.6,
             mean_not_a=NAN, sem_a=0.2, precision_60=1.0, max_informedness=0.0),
        dict(run_id=run_id, layer_id=0, unit=1, concept_id=concept_id, n_a=5, n_not_a=0, mean_a=0.6),
    ]:  # fmt: skip
        conn.execute(s.concept_measures.insert(), row)
    conn.execute(s.netdissect.insert(), [
        dict(run_id=run_id, layer_id=0, unit=0, category="object", label="crane", score=0.1, iou=0.12),
        dict(run_id=run_id, layer_id=0, unit=0, category="scene", label="sky", score=0.3, iou=0.3),
    ])  # fmt: skip


@pytest.fixture
def tiny(db_conn):
    """The hand-made run (complete) and a copy still loading, visible to db_conn only."""
    run_id = _insert_run(db_conn, "complete")
    loading_id = _insert_run(db_conn, "loading")
    _insert_extras(db_conn, run_id)
    return db_conn, run_id, loading_id


def _rows(conn: sa.Connection, sql: str, **params) -> list[dict]:
    return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def _same(got, wanted) -> bool:
    if isinstance(wanted, float) and isinstance(got, float):
        return math.isclose(got, wanted, rel_tol=1e-12, abs_tol=1e-15)
    return got == wanted


def _assert_rows(got: list[dict], wanted: list[dict]) -> None:
    assert len(got) == len(wanted), got
    for g, w in zip(got, wanted):
        bad = {k: (g[k], v) for k, v in w.items() if not _same(g[k], v)}
        assert not bad, f"{bad} in {g}"


# --------------------------------------------------------------------------- views


@pytest.mark.db
def test_runs_lists_every_run_and_the_others_complete_runs_only(tiny):
    conn, run_id, loading_id = tiny
    runs = _rows(conn, "SELECT run_id, status, top_k, options FROM seldb.runs WHERE run_id IN (:a, :b) ORDER BY run_id",
                 a=run_id, b=loading_id)
    assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "complete"), (loading_id, "loading")]
    assert runs[0]["top_k"] == [60, 100, 10] and runs[0]["options"] == {"reduction": "max"}
    for view in VIEW_NAMES:
        if view != "runs":
            assert not _rows(conn, f"SELECT 1 FROM seldb.{view} WHERE run_id = :r", r=loading_id), view


@pytest.mark.db
def test_layers(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.layers WHERE run_id = :r ORDER BY layer", r=run_id)
    assert got == [
        dict(run_id=run_id, layer="conv1", n_units=2, reduction="max"),
        dict(run_id=run_id, layer="fc", n_units=1, reduction="none"),
    ]


@pytest.mark.db
def test_unit_measures_show_class_labels_and_null_for_nan(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.unit_measures WHERE run_id = :r ORDER BY unit_label", r=run_id)
    assert [r["unit_label"] for r in got] == ["conv1.0", "conv1.1", "fc.0"]
    first, second, fc = got
    assert (first["model"], first["dataset"], first["layer"], first["unit"]) == ("tinynet", "tiny3", "conv1", 0)
    assert first["ccmas_class"] == first["precision_60_class"] == first["mi_class"] == "crane (n03126707)"
    assert first["ccmas2_class"] == "crane (n02012849)" and first["is_localist"] is True
    assert second["ccmas2"] is None and second["ccmas2_class"] is None and second["ccmas_morcos"] is None
    assert second["recall_p1"] == 0.0 and second["recall_p1_class"] is None
    assert fc["ccmas"] is None and fc["precision_60_class"] == "dog"


@pytest.mark.db
def test_unit_precision_k(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.unit_precision_k WHERE run_id = :r ORDER BY unit", r=run_id)
    _assert_rows(got, [
        dict(layer="conv1", unit=0, unit_label="conv1.0", k=10, precision=0.7, **{"class": "crane (n03126707)"}),
        dict(layer="conv1", unit=1, unit_label="conv1.1", k=10, precision=None, **{"class": None}),
    ])  # fmt: skip


@pytest.mark.db
def test_unit_class_stats_unnest_the_arrays(tiny):
    conn, run_id, _ = tiny
    got = _rows(
        conn, "SELECT * FROM seldb.unit_class_stats WHERE run_id = :r AND unit_label = 'conv1.0' ORDER BY class_index",
        r=run_id,
    )
    common = dict(run_id=run_id, model="tinynet", layer="conv1", unit=0, unit_label="conv1.0")
    _assert_rows(got, [
        dict(common, class_index=0, class_key="n02012849", n=2, mean=1.0, std=0.5, sem=0.5 / math.sqrt(2),
             min=0.5, max=1.5, n_nonzero=2, frac_nonzero=1.0, ccmas=-0.2, max_informedness=0.1, mi_threshold=1.5,
             **{"class": "crane (n02012849)"}),
        dict(common, class_index=1, class_key="n03126707", n=3, mean=2.0, std=1.0, sem=1 / math.sqrt(3),
             min=1.0, max=3.0, n_nonzero=2, frac_nonzero=2 / 3, ccmas=0.5, max_informedness=0.9, mi_threshold=1.5,
             **{"class": "crane (n03126707)"}),
        dict(common, class_index=2, class_key="n02084071", n=0, mean=None, std=None, sem=None, min=None, max=None,
             n_nonzero=0, frac_nonzero=None, ccmas=None, max_informedness=None, mi_threshold=None,
             **{"class": "dog"}),
    ])  # fmt: skip
    other = _rows(conn, "SELECT std, sem FROM seldb.unit_class_stats WHERE run_id = :r AND unit_label = 'conv1.1' "
                        "AND class_index = 1", r=run_id)
    assert other == [dict(std=None, sem=None)]  # NaN std (n < 2 in spirit) -> NULL, and so is its sem


@pytest.mark.db
def test_unit_histograms_slice_the_class_major_counts(tiny):
    conn, run_id, _ = tiny
    sql = "SELECT * FROM seldb.unit_histograms WHERE run_id = :r ORDER BY unit_label, class_index"
    got = [(r["unit_label"], r["class"], r["bin_lo"], r["bin_width"], r["n_bins"], r["n_zero"], r["counts"])
           for r in _rows(conn, sql, r=run_id)]  # fmt: skip
    assert got == [
        ("conv1.0", "crane (n02012849)", 0.0, 1.5, 2, 0, [2, 0]),
        ("conv1.0", "crane (n03126707)", 0.0, 1.5, 2, 1, [1, 2]),
        ("conv1.0", "dog", 0.0, 1.5, 2, 0, [0, 0]),
        ("conv1.1", "crane (n02012849)", 0.0, 0.5, 2, 2, [0, 2]),
        ("conv1.1", "crane (n03126707)", 0.0, 0.5, 2, 0, [3, 0]),
        ("conv1.1", "dog", 0.0, 0.5, 2, 0, [0, 0]),
        ("fc.0", "crane (n02012849)", 0.0, 0.0, 1, 2, [2]),
        ("fc.0", "crane (n03126707)", 0.0, 0.0, 1, 3, [3]),
        ("fc.0", "dog", 0.0, 0.0, 1, 0, [0]),
    ]


@pytest.mark.db
def test_unit_top_images_skip_padding_and_join_paths_and_classes(tiny):
    conn, run_id, _ = tiny
    sql = "SELECT * FROM seldb.unit_top_images WHERE run_id = :r AND layer = 'conv1' ORDER BY unit, rank"
    got = [(r["unit_label"], r["rank"], r["image_index"], r["image_path"], r["class"], r["activation"])
           for r in _rows(conn, sql, r=run_id)]  # fmt: skip
    assert got == [
        ("conv1.0", 1, 3, "a/3.jpg", "crane (n03126707)", 3.0),
        ("conv1.0", 2, 4, "a/4.jpg", "crane (n03126707)", 2.5),
        ("conv1.0", 3, 0, "a/0.jpg", "crane (n02012849)", 1.5),
        ("conv1.1", 1, 2, None, "crane (n03126707)", 1.0),
    ]


@pytest.mark.db
def test_layer_summary_matches_numpy(tiny):
    conn, run_id, _ = tiny
    sql = "SELECT * FROM seldb.layer_summary WHERE run_id = :r AND layer = 'conv1' AND measure = :m"
    (ccmas,) = _rows(conn, sql, r=run_id, m="ccmas")
    values = np.array([0.5, 0.1])
    _assert_rows([ccmas], [dict(
        model="tinynet", n_units=2, mean=values.mean(), sem=values.std(ddof=1) / math.sqrt(2),
        median=np.median(values), q25=np.percentile(values, 25), q75=np.percentile(values, 75), min=0.1, max=0.5,
    )])  # fmt: skip
    (ccmas2,) = _rows(conn, sql, r=run_id, m="ccmas2")  # NaN in one unit: ignored like a NULL
    _assert_rows([ccmas2], [dict(n_units=1, mean=0.2, sem=None, median=0.2, min=0.2, max=0.2)])
    listed = _rows(conn, "SELECT measure FROM seldb.layer_summary WHERE run_id = :r", r=run_id)
    measures = {r["measure"] for r in listed}
    correlated = {"precision_60", "precision_100", "n_classes_top100", "ccmas", "ccmas2", "recall_p1", "recall_p95",
                  "max_informedness", "mi_recall", "mi_specificity", "mi_false_discovery_rate"}  # fmt: skip
    assert correlated | {"ccmas_morcos", "localist_margin", "mi_precision", "mi_false_alarm_rate"} <= measures


@pytest.mark.db
def test_measure_correlations(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.measure_correlations WHERE run_id = :r ORDER BY layer NULLS FIRST", r=run_id)
    _assert_rows(got, [
        dict(model="tinynet", layer=None, measure_a="ccmas", measure_b="precision_60", n_units=2, pearson_r=-1.0,
             pearson_p=None, spearman_rho=-1.0, spearman_p=None),
        dict(model="tinynet", layer="conv1", measure_a="ccmas", measure_b="precision_60", n_units=2),
    ])  # fmt: skip


@pytest.mark.db
def test_detector_claims_and_high_false_alarms(tiny):
    conn, run_id, _ = tiny
    claims = _rows(conn, "SELECT * FROM seldb.detector_claims WHERE run_id = :r ORDER BY unit_label", r=run_id)
    assert [(r["unit_label"], r["classes_agree"]) for r in claims] == [("conv1.0", True), ("conv1.1", False)]
    assert claims[0]["mi_false_alarm_rate"] == 0.1 and claims[0]["recall_p1"] == 1.0
    high = _rows(conn, "SELECT * FROM seldb.high_precision_high_false_alarm WHERE run_id = :r", r=run_id)
    assert [(r["unit_label"], r["mi_false_discovery_rate"]) for r in high] == [("conv1.0", 0.6)]


@pytest.mark.db
def test_concept_measures_join_iou_by_case_insensitive_label(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.concept_measures WHERE run_id = :r ORDER BY unit", r=run_id)
    _assert_rows(got, [
        dict(layer="conv1", unit=0, unit_label="conv1.0", concept="Crane", n_a=5, mean_a=1.6, mean_not_a=None,
             precision_60=1.0, iou=0.12),
        dict(layer="conv1", unit=1, unit_label="conv1.1", concept="Crane", mean_a=0.6, iou=None),
    ])  # fmt: skip


@pytest.mark.db
@pytest.mark.parametrize("view", ["unit_class_stats", "unit_histograms", "unit_top_images"])
def test_a_unit_label_filter_applies_before_the_unnest(tiny, view):
    conn, _, _ = tiny
    plan = conn.execute(
        sa.text(f"EXPLAIN (FORMAT JSON) SELECT * FROM seldb.{view} WHERE unit_label = 'conv1.0'")
    ).scalar_one()
    plan = plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]
    own_text = lambda node: json.dumps({k: v for k, v in node.items() if k != "Plans"})  # noqa: E731
    filtering = [node for node in _nodes(plan) if "conv1.0" in own_text(node)]
    assert filtering, "the filter is not in the plan"
    for node in filtering:  # the node that applies the filter must sit below, not above, the unnest
        assert not any(n["Node Type"] == "Function Scan" for n in _nodes(node)), json.dumps(plan, indent=1)


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


# --------------------------------------------------------------------------- seldb_reader


def _reader_session(url: str) -> psycopg.Connection:
    conn = psycopg.connect(to_libpq_url(url), autocommit=True)
    conn.execute(f"SET ROLE {READER_ROLE}")
    return conn


@pytest.mark.db
def test_reader_can_select_every_view(migrated_db):
    with _reader_session(migrated_db) as conn:
        for view in ALL_VIEW_NAMES:
            conn.execute(f"SELECT * FROM seldb.{view} LIMIT 1").fetchall()


REFUSED_TO_READER = [
    "SELECT * FROM seldb_store.runs",
    "INSERT INTO seldb_store.concepts(name, classes) VALUES ('x', '{}')",
    "UPDATE seldb_store.run_classes SET label = 'x'",
    "DELETE FROM seldb_store.unit_arrays",
    "INSERT INTO seldb.runs(model) VALUES ('x')",  # seldb.runs is an auto-updatable view
    "UPDATE seldb.runs SET model = 'x'",
    "DELETE FROM seldb.runs",
    "CREATE VIEW seldb.mine AS SELECT 1 AS one",
    "CREATE SCHEMA mine",
    "SELECT * FROM public.seldb_alembic_version",
]


@pytest.mark.db
@pytest.mark.parametrize("statement", REFUSED_TO_READER)
def test_reader_may_do_nothing_else(migrated_db, statement):
    with _reader_session(migrated_db) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
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
        for view in ALL_VIEW_NAMES:
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
        assert conn.execute(
            "SELECT has_database_privilege(%s, current_database(), 'TEMP')", (READER_ROLE,)
        ).fetchone()[0] == via_public  # fmt: skip


@pytest.mark.db
def test_a_bi_login_in_role_seldb_reader_reads_the_views(migrated_db):
    login = f"seldb_test_bi_{secrets.token_hex(4)}"
    with psycopg.connect(to_libpq_url(migrated_db), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {login} LOGIN IN ROLE {READER_ROLE}")
        try:
            bi_url = sa.make_url(to_libpq_url(migrated_db)).set(username=login, password=None)
            with psycopg.connect(bi_url.render_as_string(hide_password=False)) as bi:
                assert bi.execute("SELECT count(*) FROM seldb.unit_measures").fetchone()[0] >= 0
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    bi.execute("SELECT * FROM seldb_store.unit_measures")
        finally:
            admin.execute(f"DROP ROLE {login}")


# --------------------------------------------------------------------------- seldb sql and seldb db


@pytest.fixture
def cli():
    """`seldb db` and `seldb sql` on an app of their own (other command groups may be unfinished)."""
    from seldb_cli import db_cmds

    app = typer.Typer()
    db_cmds.register(app)
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(app, list(args), **kw)


@pytest.mark.db
def test_run_sql_returns_columns_and_rows(migrated_db):
    columns, rows = run_sql("SELECT 1 AS one, 'a%' LIKE 'a%%' AS percent_is_plain; SELECT 2 AS two")
    assert (columns, rows) == (["two"], [(2,)])
    assert run_sql("SET work_mem = '8MB'") == ([], [])


@pytest.mark.db
def test_sql_is_read_only_unless_write(migrated_db, cli):
    insert = "INSERT INTO seldb_store.concepts(name, classes) VALUES ('cli-probe', '{a}')"
    for sql in (insert, f"COMMIT; {insert}"):  # a COMMIT inside the text does not escape read-only
        refused = cli("sql", sql)
        assert refused.exit_code == 1
        assert "read-only" in refused.stderr and "--write" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    try:
        assert cli("sql", "--write", insert).exit_code == 0
        assert run_sql("SELECT classes FROM seldb_store.concepts WHERE name = 'cli-probe'")[1] == [(["a"],)]
    finally:
        run_sql("DELETE FROM seldb_store.concepts WHERE name = 'cli-probe'", write=True)


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
    assert cli("db", "url").stdout.strip() == "postgresql+psycopg://me:***@db.example:5432/sel"
    assert cli("db", "url", "--libpq").stdout.strip() == "postgresql://me:***@db.example:5432/sel"


# --------------------------------------------------------------------------- the contract and other owners

SPEC_COLUMNS = {  # views.md, column for column: views may only add columns after these
    "runs": "run_id model dataset created_at source_file source_sha256 n_images_total n_images_analysed "
            "only_correct n_dropped bins top_k seldb_version options status",
    "layers": "run_id layer n_units reduction",
    "unit_measures": "run_id model dataset layer unit unit_label n_images ccmas ccmas_class ccmas2 ccmas2_class "
                     "ccmas_morcos precision_60 precision_60_class precision_100 precision_100_class "
                     "n_classes_top100 localist_margin is_localist recall_p1 recall_p1_class recall_p1_threshold "
                     "recall_p95 recall_p95_class recall_p95_threshold max_informedness mi_class mi_threshold "
                     "mi_recall mi_specificity mi_false_alarm_rate mi_false_discovery_rate mi_precision",
    "unit_precision_k": "run_id layer unit unit_label k precision class",
    "unit_class_stats": "run_id model layer unit unit_label class class_index class_key n mean std sem min max "
                        "n_nonzero frac_nonzero ccmas max_informedness mi_threshold",
    "unit_histograms": "run_id layer unit unit_label class class_index bin_lo bin_width n_bins n_zero counts",
    "unit_top_images": "run_id layer unit unit_label rank image_index image_path class activation",
    "layer_summary": "run_id model layer measure n_units mean sem median q25 q75 min max",
    "measure_correlations": "run_id model layer measure_a measure_b n_units pearson_r pearson_p spearman_rho "
                            "spearman_p",
    "concept_measures": "run_id model layer unit unit_label concept n_a n_not_a mean_a mean_not_a sem_a sem_not_a "
                        "frac_nonzero_a frac_nonzero_not_a precision_60 precision_100 ccmas max_informedness "
                        "mi_threshold mi_recall mi_false_alarm_rate mi_false_discovery_rate recall_p1 recall_p95 iou",
}  # fmt: skip
CONTAINS_COLUMNS = {  # views.md names these columns without fixing an order
    "detector_claims": "run_id unit_label precision_60 recall_p1 max_informedness mi_recall mi_false_alarm_rate "
                       "mi_false_discovery_rate classes_agree",
    "high_precision_high_false_alarm": "run_id unit_label precision_60 mi_false_discovery_rate",
}  # fmt: skip


@pytest.mark.db
def test_views_have_the_columns_of_views_md(migrated_db):
    with get_engine(migrated_db).connect() as conn:
        columns = {
            view: conn.scalars(
                sa.text("SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = 'seldb' AND table_name = :v ORDER BY ordinal_position"),
                {"v": view},
            ).all()
            for view in VIEW_NAMES
        }  # fmt: skip
    for view, spec in SPEC_COLUMNS.items():
        assert columns[view][: len(spec.split())] == spec.split(), view
    for view, spec in CONTAINS_COLUMNS.items():
        assert set(spec.split()) <= set(columns[view]), view


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
            from seldb.db.engine import dispose_engines

            dispose_engines()
            admin.execute(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER')
            admin.execute(f"REASSIGN OWNED BY {owner} TO CURRENT_USER")
            admin.execute(f"DROP OWNED BY {owner}")
            admin.execute(f"DROP ROLE {owner}")


@pytest.mark.unit
def test_the_embedded_server_never_lives_under_root_home(monkeypatch):
    monkeypatch.delenv("SELDB_DATABASE_URL", raising=False)
    monkeypatch.setenv("SELDB_DATA_DIR", "/root/.local/share/seldb")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(SeldbError, match="refusing to run the embedded PostgreSQL"):
        database_url()
