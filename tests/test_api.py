"""The notebook API: `seldb.connect()` with one method per view, each a polars frame."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest
from test_reports import _rows, toy  # noqa: F401  (the module's imported toy run)


@pytest.mark.unit
def test_import_seldb_stays_light():
    heavy = ("polars", "typer", "sqlalchemy", "matplotlib")
    code = f"import sys, seldb; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.db
def test_one_method_per_view(migrated_db, toy):  # noqa: F811
    import seldb
    from seldb.api import VIEWS

    db = seldb.connect()
    views = {r["v"] for r in _rows("SELECT table_name AS v FROM information_schema.views WHERE table_schema = 'seldb'")}
    assert views == set(VIEWS) and set(VIEWS) <= set(dir(db))
    for name in VIEWS:
        assert isinstance(getattr(db, name)(run=toy.run_id), pl.DataFrame), name


@pytest.mark.db
def test_frames_are_the_views_rows(migrated_db, toy):  # noqa: F811
    import seldb

    db = seldb.connect()
    units = db.unit_measures(run=toy.run_id)
    assert units.height == 24 and set(units["run_id"]) == {toy.run_id}
    assert units.schema["precision_60"] == pl.Float64 and units.schema["unit"] == pl.Int32
    want = _rows("SELECT unit_label, ccmas FROM seldb.unit_measures WHERE run_id = :r", r=toy.run_id)
    assert dict(zip(units["unit_label"], units["ccmas"])) == {w["unit_label"]: w["ccmas"] for w in want}
    stats = db.unit_class_stats(run=toy.run_id, unit_label="fc6.0", class_=["tench", "crane"])
    assert sorted(stats["class"]) == ["crane", "tench"]
    assert db.unit_histograms(run=toy.run_id, layer="fc6", unit=0).schema["counts"] == pl.List(pl.Int32)
    empty = db.detector_claims(run=toy.run_id, unit_label="nothing")
    assert empty.height == 0 and empty.schema["precision_60"] == pl.Float64  # typed even when empty
    latest = _rows("SELECT max(run_id) AS r FROM seldb.runs")[0]["r"]
    assert set(db.layers()["run_id"]) == {latest} == {db.latest_run()}
    assert db.runs().height == db.runs(run="all").height >= 1
    assert set(db.layers(run="all")["run_id"]) >= {toy.run_id}
    assert db.sql("SELECT count(*) AS n FROM seldb.layers WHERE run_id = :r", r=toy.run_id)["n"].to_list() == [3]


@pytest.mark.db
def test_bad_names_are_one_line(migrated_db, toy):  # noqa: F811
    import seldb

    db = seldb.connect()
    with pytest.raises(seldb.InputError, match="seldb.unit_measures has no column 'colour'"):
        db.unit_measures(run=toy.run_id, colour="red")
    with pytest.raises(seldb.NotFound, match="^no run 987654"):
        db.unit_measures(run=987654)
    with pytest.raises(seldb.InputError, match="no view 'unit_measure'.*did you mean 'unit_measures'"):
        db.view("unit_measure")


@pytest.mark.db
def test_sql_is_read_only_and_says_how_to_write(migrated_db, toy):  # noqa: F811
    import seldb

    db = seldb.connect()
    with pytest.raises(seldb.InputError, match=r"read-only .*db.execute\(sql, write=True\)"):
        db.sql("DELETE FROM seldb_store.concepts RETURNING name")
    assert db.sql("SELECT count(*) AS n FROM seldb_store.runs")["n"][0] >= 1  # nothing was deleted, handle still works
