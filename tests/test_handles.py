"""`seldb.connect(url)`: a handle owns its connections, so two handles on two databases never mix."""

from __future__ import annotations

import numpy as np
import pytest

import seldb
from seldb.h5.reader import write_activation_file
from seldb.load.options import ImportOptions

pytestmark = pytest.mark.db


def _file(path, seed: int, units: int):
    rng = np.random.default_rng(seed)
    return write_activation_file(
        path,
        class_names=["x", "y"],
        labels=rng.integers(0, 2, 40),
        layers={"fc": rng.random((40, units)).astype(np.float32)},
        model=f"net{seed}",
    )


def test_two_handles_write_and_read_their_own_databases(embedded_server, tmp_path, monkeypatch):
    monkeypatch.delenv("SELDB_DATABASE_URL", raising=False)  # nothing global to fall back on
    url_a, url_b = embedded_server.create_database(), embedded_server.create_database()
    with seldb.connect(url_a) as a, seldb.connect(url_b) as b:
        a.add_concept("first", ["x"])
        b.add_concept("second", ["y"])
        run_a = a.import_h5(_file(tmp_path / "a.h5", 1, 3), ImportOptions(), progress=False)
        run_b = b.import_h5(_file(tmp_path / "b.h5", 2, 5), ImportOptions(), progress=False)
        assert (run_a.n_units, run_b.n_units) == (3, 5)
        assert a.runs()["model"].to_list() == ["net1"] and b.runs()["model"].to_list() == ["net2"]
        assert a.unit_measures().height == 3 and b.unit_measures().height == 5
        assert [c["name"] for c in a.list_concepts()] == ["first"]
        assert [c["name"] for c in b.list_concepts()] == ["second"]
        assert set(a.concept_measures()["concept"]) == {"first"} and set(b.concept_measures()["concept"]) == {"second"}
        assert a.reports.top(measures=["ccmas"], n=10).sections[0].frame.height == 3
        assert b.reports.top(measures=["ccmas"], n=10).sections[0].frame.height == 5
        a.delete_run(run_a.run_id)
        assert a.list_runs() == [] and len(b.list_runs()) == 1


def test_a_duplicate_is_refused_reused_or_replaced(db, tmp_path):
    path = _file(tmp_path / "d.h5", 3, 2)
    first = db.import_h5(path, ImportOptions(), progress=False)
    with pytest.raises(seldb.SeldbError, match=f"already imported with these options as run {first.run_id}"):
        db.import_h5(path, ImportOptions(), progress=False)
    reused = db.import_h5(path, ImportOptions(on_duplicate="reuse"), progress=False)
    assert reused.reused and (reused.run_id, reused.n_units, reused.n_images_analysed) == (first.run_id, 2, 40)
    replaced = db.import_h5(path, ImportOptions(on_duplicate="replace"), progress=False)
    assert replaced.replaced == [first.run_id] and replaced.run_id != first.run_id
    ids = set(db.runs(run="all")["run_id"])
    assert replaced.run_id in ids and first.run_id not in ids
    extra = db.import_h5(path, ImportOptions(on_duplicate="new"), progress=False)
    assert {replaced.run_id, extra.run_id} <= set(db.runs(run="all")["run_id"])
    with pytest.raises(seldb.InputError, match="--on-duplicate is one of error, reuse, replace, new"):
        db.import_h5(path, ImportOptions(on_duplicate="sometimes"), progress=False)
