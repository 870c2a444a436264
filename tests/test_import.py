"""import-h5 end to end: the views against the brute-force reference, and atomicity.

A small activation file (ties, exact zeros, negatives, an imbalanced and an
empty class, a planted localist unit) goes through `seldb.connect().import_h5` into a real
PostgreSQL; every column of seldb.unit_measures and the per-class views is
compared with tests/reference.py, computed independently from the same arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference import reference_concept, reference_unit
from support import import_file, rows

from seldb.h5.reader import write_activation_file

pytestmark = pytest.mark.db

K = 6
NAMES = ["cat", "crane", "dog", "crane", "bus", "empty"]
KEYS = ["n001", "n002", "n003", "n004", "n005", "n006"]


def make_units(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = rng.choice(5, size=n, p=[0.4, 0.3, 0.15, 0.1, 0.05])  # class 5 has no image
    preds = np.where(rng.random(n) < 0.85, labels, (labels + 1) % K)
    columns = [
        np.maximum(rng.normal(size=n), 0),  # ReLU-like: many exact zeros
        rng.choice([0.0, 0.5, 1.0, 2.0], size=n),  # heavy ties
        rng.normal(size=n) - 1.0,  # negative values
        np.where(labels == 2, 5.0 + rng.random(n), rng.random(n)),  # localist for class 2
        np.zeros(n),  # constant unit
        np.where(rng.random(n) < 0.8, 0.0, rng.gamma(2.0, 1.0, n)),
    ]
    return np.stack(columns, axis=1).astype(np.float32), labels, preds


@pytest.fixture
def small_file(tmp_path):
    rng = np.random.default_rng(7)
    values, labels, preds = make_units(rng, 240)
    path = write_activation_file(
        tmp_path / "small.h5",
        class_names=NAMES,
        class_keys=KEYS,
        labels=labels,
        preds=preds,
        layers={"conv5": values[:, :3], "fc6": values[:, 3:]},
        reductions={"conv5": "max"},
        paths=[f"img/{i}.jpg" for i in range(len(labels))],
        model="tiny",
        dataset="gen",
    )
    return path, values, labels, preds


def _close(got, want) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if isinstance(want, (bool, str)):
        return got == want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


@pytest.fixture
def each_server_db(fresh_database_url, monkeypatch):
    """A fresh database on the embedded server and on SELDB_TEST_DATABASE_URL's (when set)."""
    monkeypatch.setenv("SELDB_DATABASE_URL", fresh_database_url)
    return fresh_database_url


def test_unit_measures_view_matches_reference(each_server_db, small_file):
    path, values, labels, preds = small_file
    result = import_file(path, progress=False, top_k=(10, 60, 100))
    analysed = preds == labels
    labels_of = {
        r["class_index"]: r["label"]
        for r in rows("SELECT * FROM seldb_store.run_classes WHERE run_id=:r", r=result.run_id)
    }
    assert labels_of[1] == "crane (n002)" and labels_of[3] == "crane (n004)"  # shared names get their key
    view = rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r ORDER BY layer, unit", r=result.run_id)
    assert [r["unit_label"] for r in view] == ["conv5.0", "conv5.1", "conv5.2", "fc6.0", "fc6.1", "fc6.2"]
    problems = []
    for column, row in enumerate(view):
        want = reference_unit(values[analysed, column].astype(np.float64), labels[analysed], K, top_k=(10, 60, 100))
        for name, got in row.items():
            if name in ("run_id", "model", "dataset", "layer", "unit", "unit_label", "unit_key"):
                continue
            expected = want[name]
            if name.endswith("_class") and expected is not None:
                expected = labels_of[expected]
            if not _close(got, expected):
                problems.append(f"{row['unit_label']}.{name}: view {got!r} != reference {expected!r}")
    assert not problems, "\n".join(problems)
    extra = rows(
        "SELECT * FROM seldb.unit_precision_k WHERE run_id = :r AND k = 10 ORDER BY layer, unit", r=result.run_id
    )
    assert len(extra) == 6
    for column, row in enumerate(extra):
        precision, cls = reference_unit(values[analysed, column], labels[analysed], K, top_k=(10,))["precision_k"][10]
        assert _close(row["precision"], precision) and row["class"] == labels_of[cls]


def test_per_class_views_match_reference(migrated_db, small_file):
    path, values, labels, preds = small_file
    run_id = import_file(path, force=True, progress=False, layers=["fc6"], all_images=True).run_id
    for unit in range(3):
        want = reference_unit(values[:, 3 + unit].astype(np.float64), labels, K)
        stats = rows(
            "SELECT * FROM seldb.unit_class_stats WHERE run_id=:r AND unit_label=:u ORDER BY class_index",
            r=run_id,
            u=f"fc6.{unit}",
        )
        assert len(stats) == K
        assert [g["class_index"] for g in stats] == [e["class_index"] for e in want["class_stats"]] == list(range(K))
        for got, exp in zip(stats, want["class_stats"]):
            for name in (
                "n",
                "mean",
                "std",
                "sem",
                "min",
                "max",
                "n_nonzero",
                "frac_nonzero",
                "ccmas",
                "max_informedness",
                "mi_threshold",
            ):
                assert _close(got[name], exp[name]), (unit, got["class_index"], name, got[name], exp[name])
        hists = rows(
            "SELECT * FROM seldb.unit_histograms WHERE run_id=:r AND unit_label=:u ORDER BY class_index",
            r=run_id,
            u=f"fc6.{unit}",
        )
        assert [g["class_index"] for g in hists] == [e["class_index"] for e in want["histograms"]] == list(range(K))
        for got, exp in zip(hists, want["histograms"]):
            assert got["counts"] == exp["counts"] and got["n_zero"] == exp["n_zero"]
            assert got["n_bins"] == exp["n_bins"] and _close(got["bin_width"], exp["bin_width"])
            assert _close(got["bin_lo"], exp["bin_lo"])
        top = rows(
            "SELECT * FROM seldb.unit_top_images WHERE run_id=:r AND unit_label=:u ORDER BY rank",
            r=run_id,
            u=f"fc6.{unit}",
        )
        assert [t["image_index"] for t in top] == [t["image_index"] for t in want["top_images"]]
        assert top[0]["image_path"] == f"img/{top[0]['image_index']}.jpg"


def test_worked_examples_through_the_database(migrated_db, tmp_path):
    labels = np.repeat(np.arange(10), 100)
    a = np.zeros((1000, 3), dtype=np.float32)
    a[0, 0] = 1.0
    a[:100, 1] = 1.0
    a[:, 2], a[:100, 2] = 0.8, 0.9
    path = write_activation_file(
        tmp_path / "worked.h5", class_names=[f"c{i}" for i in range(10)], labels=labels, layers={"ex": a}
    )
    run_id = import_file(path, progress=False).run_id
    a_, b_, c_ = rows("SELECT * FROM seldb.unit_measures WHERE run_id=:r ORDER BY unit", r=run_id)
    assert a_["ccmas"] == pytest.approx(1, abs=1e-12)
    assert a_["precision_100"] == pytest.approx((1 + 99 * 99 / 999) / 100, abs=1e-12)
    assert a_["precision_100_class"] == "c0" and a_["localist_margin"] == 0 and a_["is_localist"] is False
    assert a_["recall_p1"] == pytest.approx(0.01, abs=1e-12)
    assert (a_["max_informedness"], a_["mi_class"], a_["mi_threshold"]) == (pytest.approx(0.01, abs=1e-12), "c0", 1.0)
    assert b_["precision_100"] == 1 and b_["localist_margin"] == 1 and b_["is_localist"] is True
    assert b_["recall_p1"] == 1 and b_["max_informedness"] == 1 and b_["mi_false_alarm_rate"] == 0
    # float32 0.9 and 0.8 are not 0.9 and 0.8: the fraction is of the stored values
    assert c_["ccmas"] == pytest.approx(
        (np.float32(0.9) - np.float32(0.8)) / (np.float32(0.9) + np.float32(0.8)), abs=1e-9
    )
    assert c_["precision_100"] == 1 and c_["is_localist"] is True and c_["recall_p1"] == 1
    assert c_["max_informedness"] == 1


def test_concepts_measured_at_import_and_on_demand(own_db, small_file):
    from seldb.errors import SeldbError

    db = own_db  # concepts resolve class names across every run of a database: no other test's runs here
    path, values, labels, preds = small_file
    run_id = import_file(path, force=True, progress=False, layers=["conv5"]).run_id
    with pytest.raises(SeldbError, match="ambiguous.*n002, n004"):
        db.add_concept("birds", ["crane"])
    assert db.add_concept("pets", ["cat", "n003"]) == ["n001", "n003"]
    with pytest.raises(SeldbError, match="exists already"):
        db.add_concept("pets", ["cat"])
    with pytest.raises(SeldbError, match="no run has class 'n999'"):
        db.add_concept("ghost", ["n999"])
    db.execute("INSERT INTO seldb_store.concepts (name, classes) VALUES ('ghost', '{n999}')", write=True)
    written = db.compute_concept("pets", run_id, progress=False)
    assert written == 3
    second = import_file(path, force=True, progress=False, layers=["conv5"], bins=8)
    assert "ghost" in second.skipped_concepts  # a concept a run cannot measure is named, not an error
    analysed = preds == labels
    for rid in (run_id, second.run_id):
        found = rows("SELECT * FROM seldb.concept_measures WHERE run_id=:r AND concept='pets' ORDER BY unit", r=rid)
        assert len(found) == 3
        for unit, row in enumerate(found):
            want = reference_concept(values[analysed, unit], labels[analysed], K, {0, 2})
            for name, expected in want.items():
                if name != "precision_k":
                    assert _close(row[name], expected), (rid, unit, name, row[name], expected)


def test_layer_names_are_data_not_sql(migrated_db, tmp_path):
    name = "fc6'; DROP TABLE seldb_store.runs; --"
    rng = np.random.default_rng(1)
    path = write_activation_file(
        tmp_path / "odd.h5",
        class_names=["a", "b"],
        labels=rng.integers(0, 2, 50),
        layers={name: rng.random((50, 2)).astype(np.float32)},
    )
    run_id = import_file(path, progress=False, layers=[name]).run_id
    assert (
        rows("SELECT unit_label FROM seldb.unit_measures WHERE run_id=:r ORDER BY unit", r=run_id)[0]["unit_label"]
        == name + ".0"
    )


def test_concept_commands(own_migrated_db, small_file, cli):
    path, values, labels, preds = small_file
    imported = cli("import-h5", path, "-q", "--force", "--layers", "fc6")
    assert imported.exit_code == 0, imported.output
    run_id = rows("SELECT max(run_id) AS r FROM seldb.runs")[0]["r"]
    added = cli("concept", "add", "cli-dogs", "--classes", "dog, n001")
    assert added.exit_code == 0 and "concept cli-dogs: n003, n001" in added.stdout, added.output
    listed = cli("concept", "list", "-f", "csv")
    assert listed.exit_code == 0 and 'cli-dogs,"dog (n003), cat (n001)"' in listed.stdout
    computed = cli("concept", "compute", "cli-dogs", "--run", run_id, "-q")
    assert computed.exit_code == 0 and f"concept cli-dogs: 3 units measured in run {run_id}" in computed.stdout
    analysed = preds == labels
    found = rows(
        "SELECT * FROM seldb.concept_measures WHERE run_id = :r AND concept = 'cli-dogs' ORDER BY unit", r=run_id
    )
    assert len(found) == 3
    for unit, row in enumerate(found):
        want = reference_concept(values[analysed, 3 + unit], labels[analysed], K, {0, 2})
        assert all(_close(row[name], value) for name, value in want.items() if name != "precision_k"), unit
    again = cli("concept", "add", "cli-dogs", "--classes", "dog")
    assert again.exit_code == 1 and "exists already" in again.stderr
    typo = cli("concept", "add", "cli-cats", "--classes", "cat,dgo")
    assert typo.exit_code == 1 and "no run has class 'dgo' (did you mean " in typo.stderr
    assert "'dog'" in typo.stderr.split("did you mean")[1]  # other tests' classes may be as close
    deleted = cli("concept", "delete", "cli-dogs", "--yes")
    assert deleted.exit_code == 0 and not rows("SELECT 1 FROM seldb.concept_measures WHERE concept = 'cli-dogs'")
    assert cli("concept", "delete", "cli-dogs").exit_code == 1
