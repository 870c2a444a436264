"""Reports against the views they present: numbers recomputed independently, plots checked by sidecar.

One small activation file (6 classes x 80 images, three layers, exact zeros,
a planted detector unit) is imported once for the module. Correlations are
recomputed with scipy and layer summaries with numpy from the rows of
seldb.unit_measures; the unit plot is drawn from the activation file and
again, with the file gone, from the database alone, and both sidecars are
compared with the data.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from support import import_file
from support import rows as _rows

from seldb.errors import InputError, NotFound
from seldb.h5.reader import write_activation_file

pytestmark = pytest.mark.db

NAMES = ["school bus", "trolleybus", "minibus", "monarch", "tench", "crane"]
KEYS = [f"r4n{i:03d}" for i in range(len(NAMES))]
CONCEPT = "r4_bus"
LAYERS = ["conv1", "conv2", "fc6"]


@dataclass
class Toy:
    run_id: int
    path: Path
    layers: dict[str, np.ndarray]
    labels: np.ndarray
    analysed: np.ndarray


def make_file(path: Path, seed: int = 4) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """480 images; ReLU-like units (exact zeros) with a class bump, fc6.0 a planted 'school bus' detector."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(NAMES)), 80))
    preds = np.where(rng.random(labels.size) < 0.9, labels, (labels + 1) % len(NAMES))

    def layer(units: int, strength: float) -> np.ndarray:
        values = np.maximum(rng.normal(size=(labels.size, units)), 0)
        bump = (labels[:, None] == np.arange(units) % len(NAMES)) * strength * rng.random(units)
        return (values + bump).astype(np.float32)

    layers = {"conv1": layer(6, 0.5), "conv2": layer(8, 1.5), "fc6": layer(10, 4.0)}
    layers["fc6"][:, 0] = np.where(labels == 0, 3 + rng.random(labels.size), 0.2 * rng.random(labels.size))
    write_activation_file(
        path,
        class_names=NAMES,
        class_keys=KEYS,
        labels=labels,
        preds=preds,
        layers=layers,
        reductions={"conv1": "max", "conv2": "max"},
        model="toy-net",
        dataset="toy",
    )
    return layers, labels, preds


@pytest.fixture(scope="module")
def toy(database_url, tmp_path_factory) -> Toy:
    """The toy file imported once (with a concept measured), into the session database."""
    import seldb

    path = tmp_path_factory.mktemp("reports") / "toy.h5"
    with pytest.MonkeyPatch.context() as mp, seldb.connect(database_url) as db:
        mp.setenv("SELDB_DATABASE_URL", database_url)
        db.upgrade("head")
        layers, labels, preds = make_file(path)
        run_id = import_file(path, force=True).run_id
        db.add_concept(CONCEPT, KEYS[:3], replace=True)  # a concept names classes some run has
        db.compute_concept(CONCEPT, run_id, progress=False)
        try:
            yield Toy(run_id, path, layers, labels, preds == labels)
        finally:  # other tests share this database: leave them no run and no concept of ours
            db.delete_run(run_id)
            db.execute(f"DELETE FROM seldb_store.concepts WHERE name = '{CONCEPT}'", write=True)


def _close(got, want, rel=1e-9) -> bool:
    if want is None or got is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=rel, abs_tol=1e-12)


# --------------------------------------------------------------------------- correlations


def test_correlations_match_scipy_on_unit_measures(db, toy):
    # views.md's list for seldb.measure_correlations, in its order (the pairs follow it)
    MEASURES = [
        "precision_60",
        "precision_100",
        "n_classes_top100",
        "ccmas",
        "ccmas2",
        "recall_p1",
        "recall_p95",
        "max_informedness",
        "mi_recall",
        "mi_specificity",
        "mi_false_discovery_rate",
    ]
    from seldb.reports.correlations import ALL_LABEL

    report = db.reports.correlations(toy.run_id)
    got = {(r["layer"], r["measure_a"], r["measure_b"]): r for r in report.sections[0].frame.iter_rows(named=True)}
    units = _rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r", r=toy.run_id)
    assert len(got) == (len(LAYERS) + 1) * len(MEASURES) * (len(MEASURES) - 1) // 2
    for layer in LAYERS + [None]:
        rows = [u for u in units if layer is None or u["layer"] == layer]
        for a, b in itertools.combinations(MEASURES, 2):
            pairs = [(u[a], u[b]) for u in rows if u[a] is not None and u[b] is not None]
            x, y = (np.array(v, dtype=float) for v in zip(*pairs))
            row = got[(layer or ALL_LABEL, a, b)]
            assert row["n_units"] == len(pairs)
            if np.ptp(x) == 0 or np.ptp(y) == 0:
                assert row["pearson_r"] is None and row["spearman_rho"] is None
                continue
            pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
            assert _close(row["pearson_r"], pearson.statistic), (layer, a, b)
            assert _close(row["pearson_p"], pearson.pvalue, rel=1e-6), (layer, a, b)
            assert _close(row["spearman_rho"], spearman.statistic), (layer, a, b)
            assert _close(row["spearman_p"], spearman.pvalue, rel=1e-6), (layer, a, b)


def test_correlations_of_one_layer_and_of_all_layers(db, toy):
    from seldb.reports.correlations import ALL_LABEL

    assert set(db.reports.correlations(toy.run_id, "conv2").sections[0].frame["layer"]) == {"conv2"}
    assert set(db.reports.correlations(toy.run_id, "all").sections[0].frame["layer"]) == {ALL_LABEL}
    with pytest.raises(NotFound, match="no layer 'fc9'.*conv1, conv2, fc6"):
        db.reports.correlations(toy.run_id, "fc9")


# --------------------------------------------------------------------------- layers


def test_layer_summary_matches_numpy(db, toy):
    from seldb.catalogue import summarised

    frame = db.reports.layers(toy.run_id).sections[0].frame
    assert frame.height == len(LAYERS) * len(summarised())
    assert frame["layer"].to_list()[: len(LAYERS)] == LAYERS  # network order within a measure
    units = _rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r", r=toy.run_id)
    for row in frame.iter_rows(named=True):
        values = np.array(
            [float(u[row["measure"]]) for u in units if u["layer"] == row["layer"] and u[row["measure"]] is not None]
        )
        assert row["n_units"] == values.size
        if values.size == 0:
            continue
        want = {
            "mean": values.mean(),
            "median": np.median(values),
            "min": values.min(),
            "max": values.max(),
            "q25": np.percentile(values, 25),
            "q75": np.percentile(values, 75),
            "sem": values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else None,
        }
        for name, expected in want.items():
            assert _close(row[name], expected), (row["layer"], row["measure"], name, row[name], expected)


def test_layers_plot_writes_a_box_plot_per_measure(db, toy, tmp_path):
    report = db.reports.layers(toy.run_id, ["max_informedness", "ccmas"], plot=True, out_dir=tmp_path)
    pngs = sorted(p.name for p in report.files if p.suffix == ".png")
    assert pngs == [f"layers-run{toy.run_id}-ccmas.png", f"layers-run{toy.run_id}-max_informedness.png"]
    meta = json.loads((tmp_path / f"layers-run{toy.run_id}-ccmas.json").read_text())
    assert (meta["x_label"], meta["y_label"], meta["whiskers"]) == ("layer", "ccmas", "min and max")
    assert [layer["layer"] for layer in meta["layers"]] == LAYERS
    assert _png_shape(tmp_path / pngs[0])[0] > 300
    with pytest.raises(InputError, match="unknown measure 'ccmass'.*did you mean 'ccmas'"):
        db.reports.layers(toy.run_id, ["ccmass"])


def _png_shape(path: Path) -> tuple[int, ...]:
    from matplotlib.image import imread

    return imread(path).shape


# --------------------------------------------------------------------------- unit plot


def test_unit_plot_from_the_file_and_from_the_database_alone(db, toy, tmp_path):
    copy = shutil.copy(toy.path, tmp_path / "copy.h5")  # a run of its own whose file we may delete
    run_id = import_file(copy, force=True).run_id
    try:
        exact = db.reports.unit("fc6.0", run_id, plot=True, out_dir=tmp_path / "exact")
        Path(copy).unlink()
        quantised = db.reports.unit("fc6.0", run_id, plot=True, out_dir=tmp_path / "db")
        mi = _rows(
            "SELECT mi_threshold FROM seldb.unit_class_stats WHERE run_id = :r AND unit_label = 'fc6.0'"
            " AND class = 'school bus'",
            r=run_id,
        )[0]["mi_threshold"]
    finally:
        db.delete_run(run_id)
    metas = [json.loads(next(p for p in r.files if p.suffix == ".json").read_text()) for r in (exact, quantised)]
    assert [m["source"] for m in metas] == ["activation_file", "database_histograms"]
    assert "is not there" in metas[1]["source_note"]
    values = toy.layers["fc6"][toy.analysed, 0].astype(np.float64)
    classes = toy.labels[toy.analysed]
    for meta in metas:
        assert meta["class"] == "school bus"  # the precision class by default
        axes = [(a["panel"], a["x_label"]) for a in meta["axes"]]
        assert axes == [("jitterplot", "activation"), ("histogram", "activation")]
        assert meta["axes"][0]["y_label"] == "class (jittered)" and meta["axes"][1]["y_label"] == "images of school bus"
        lines = {line["kind"]: line["x"] for line in meta["lines"]}
        assert lines["max_informedness_threshold"] == mi
        assert _close(lines["top60_threshold"], np.sort(values)[::-1][59], rel=1e-6)
        assert meta["points"] == {
            "total": values.size,
            "class": int((classes == 0).sum()),
            "other": int((classes != 0).sum()),
        }
    assert metas[0]["histogram"] == metas[1]["histogram"]  # exact values binned as the database binned them
    for report in (exact, quantised):
        png = next(p for p in report.files if p.suffix == ".png")
        assert _png_shape(png)[:2] == (864, 1200)


def test_unit_report_shows_the_views_rows(db, toy):
    report = db.reports.unit("conv2.3", toy.run_id, class_name="MONARCH", n=5)
    row = _rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r AND unit_label = 'conv2.3'", r=toy.run_id)[0]
    measures = {r["measure"]: r for r in report.section("measures").frame.iter_rows(named=True)}
    assert measures["max_informedness"]["value"] == row["max_informedness"]
    assert measures["max_informedness"]["class"] == row["mi_class"]
    assert measures["max_informedness"]["threshold"] == row["mi_threshold"]
    assert report.section("class").frame["class"].to_list() == ["monarch"]
    assert report.section("top_images").frame["rank"].to_list() == [1, 2, 3, 4, 5]
    assert report.section("concepts").frame["concept"].to_list() == [CONCEPT]
    with pytest.raises(NotFound, match="no class 'monarc'.*did you mean 'monarch'"):
        db.reports.unit("conv2.3", toy.run_id, class_name="monarc")
    with pytest.raises(NotFound, match="layer conv2 has units 0..7"):
        db.reports.unit("conv2.8", toy.run_id)


# --------------------------------------------------------------------------- top, concept, detectors


def test_top_units_by_a_measure(db, toy):
    frame = db.reports.top(toy.run_id, ["recall_p1"], n=4).section("by_recall_p1").frame
    values = sorted(
        (u["recall_p1"] for u in _rows("SELECT recall_p1 FROM seldb.unit_measures WHERE run_id = :r", r=toy.run_id)),
        reverse=True,
    )
    assert frame["recall_p1"].to_list() == values[:4]
    assert frame.columns[:3] == ["rank", "unit_label", "recall_p1"] and "mi_false_discovery_rate" in frame.columns
    lowest = db.reports.top(toy.run_id, ["recall_p1"], n=2, lowest=True).sections[0].frame
    assert lowest["recall_p1"].to_list() == sorted(values)[:2]


def test_concept_report(db, toy):
    frame = db.reports.concept(CONCEPT, toy.run_id, sort="network").sections[0].frame
    assert frame.height == 24 and frame["unit_label"].to_list()[:2] == ["conv1.0", "conv1.1"]
    some = db.reports.concept(CONCEPT, toy.run_id, units=["fc6.0", "conv1.2"], sort="network").sections[0].frame
    assert some["unit_label"].to_list() == ["conv1.2", "fc6.0"]
    default = db.reports.concept(CONCEPT, toy.run_id)  # no IoU in this run: by the concept's precision_100
    want = _rows(
        "SELECT unit_label FROM seldb.concept_measures WHERE run_id = :r AND concept = :c"
        " ORDER BY precision_100 DESC NULLS LAST, unit_label",
        r=toy.run_id,
        c=CONCEPT,
    )
    assert default.sections[0].frame["unit_label"].to_list() == [w["unit_label"] for w in want]
    assert default.notes == ["Units by precision_100, highest first."]
    best = db.reports.concept(CONCEPT, toy.run_id, sort="precision_60", n=1).sections[0].frame
    assert best["unit_label"].to_list() == ["fc6.0"] and best["iou"].to_list() == [None]
    with pytest.raises(NotFound, match="no concept 'r4_buss'"):
        db.reports.concept("r4_buss", toy.run_id)


def test_detectors_report_counts_agree_with_the_claims(db, toy):
    report = db.reports.detectors(toy.run_id)
    claims = _rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r AND precision_60 > 0.75", r=toy.run_id)
    assert report.section("claims").frame["unit_label"].to_list()[0] == "fc6.0"
    assert report.section("claims").frame.height == len(claims) > 0
    agree = sum(c["precision_60_class"] == c["ccmas_class"] == c["mi_class"] for c in claims)
    verdict = report.notes[0]
    assert verdict.startswith(f"{len(claims)} of the 24 units of run {toy.run_id}")
    assert f"name the same class for {agree} of them" in verdict
    per_layer = report.section("per_layer").frame
    assert per_layer["layer"].to_list() == LAYERS + ["(all layers)"]
    assert per_layer["n_claimed"].to_list()[-1] == len(claims)


def test_unknown_run(db, toy):
    with pytest.raises(NotFound, match="^no run 987654 "):
        db.reports.detectors(987654)


def test_default_run_is_the_latest_one(db, toy):
    latest = _rows("SELECT max(run_id) AS r FROM seldb.runs")[0]["r"]
    assert db.reports.detectors().run_id == latest


def test_report_files(db, toy, tmp_path):
    report = db.reports.unit("fc6.1", toy.run_id)
    stem = f"unit-run{toy.run_id}-fc6.1"
    csvs = report.save(tmp_path, "csv")
    assert {p.name for p in csvs} >= {f"{stem}-measures.csv", f"{stem}-top_images.csv", f"{stem}.txt"}
    data = json.loads(report.save(tmp_path, "json")[0].read_text())
    assert data["run_id"] == toy.run_id and data["tables"]["measures"][0]["measure"] == "n_images"
    markdown = report.save(tmp_path, "markdown")[0].read_text()
    assert markdown.startswith(f"# Unit fc6.1: run {toy.run_id} (toy-net on toy)") and "| measure | value |" in markdown


def test_reader_role_can_select_the_new_views(migrated_db, toy):
    """Revision 0003's views are granted to seldb_reader like revision 0002's."""
    import psycopg

    from seldb.db.server import to_libpq_url
    from seldb.db.views import VIEW_NAMES as REPORT_VIEWS

    with psycopg.connect(to_libpq_url(migrated_db), autocommit=True) as conn:
        conn.execute("SET ROLE seldb_reader")
        for view in REPORT_VIEWS:
            conn.execute(f"SELECT * FROM seldb.{view} LIMIT 1").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM seldb_store.am_ratings")


# --------------------------------------------------------------------------- dead units


def test_dead_units_are_flagged_and_left_out_of_summaries(db, tmp_path, cli):
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 3, 90)
    values = np.maximum(rng.normal(size=(90, 6)) + np.eye(3)[labels][:, [0, 1, 2, 0, 1, 2]], 0)
    values[:, 1] = 0.0  # dead at 0 (a ReLU that never fires)
    values[:, 4] = 0.3  # dead at a constant
    path = write_activation_file(
        tmp_path / "dead.h5", class_names=["a", "b", "c"], labels=labels, layers={"fc": values.astype(np.float32)}
    )
    run_id = import_file(path, force=True).run_id
    units = {r["unit"]: r for r in _rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r", r=run_id)}
    assert [u for u, r in sorted(units.items()) if r["is_dead"]] == [1, 4]
    assert units[1]["n_distinct_values"] == units[4]["n_distinct_values"] == 1
    live = [r for u, r in sorted(units.items()) if not r["is_dead"]]
    summary = _rows("SELECT * FROM seldb.layer_summary WHERE run_id = :r AND measure = 'max_informedness'", r=run_id)[0]
    assert (summary["n_units"], summary["n_dead"]) == (4, 2)
    assert summary["mean"] == pytest.approx(np.mean([r["max_informedness"] for r in live]), rel=1e-12)
    every = _rows(
        "SELECT * FROM seldb.layer_summary_with_dead WHERE run_id = :r AND measure = 'max_informedness'", r=run_id
    )[0]
    assert every["n_units"] == 6 and every["min"] == 0.0  # a dead unit's informedness is 0 (at its floor)
    pair = "measure_a = 'precision_60' AND measure_b = 'max_informedness' AND layer IS NULL"
    corr = _rows(f"SELECT * FROM seldb.measure_correlations WHERE run_id = :r AND {pair}", r=run_id)[0]
    want = stats.pearsonr([r["precision_60"] for r in live], [r["max_informedness"] for r in live]).statistic
    assert corr["n_units"] == 4 and corr["pearson_r"] == pytest.approx(want, rel=1e-9)
    assert (
        _rows(f"SELECT n_units FROM seldb.measure_correlations_with_dead WHERE run_id = :r AND {pair}", r=run_id)[0][
            "n_units"
        ]
        == 6
    )
    shown = cli("report", "layers", "--run", run_id, "--measure", "ccmas", "-f", "csv")
    assert shown.exit_code == 0 and "2 dead units (never above their lowest value: fc 2) left out" in shown.stderr
    kept = db.reports.layers(run_id, ["max_informedness"], include_dead=True)
    assert kept.sections[0].frame["n_units"].to_list() == [6] and "included" in kept.notes[0]
    plot = db.reports.unit("fc.1", run_id, class_name="a", plot=True, out_dir=tmp_path)
    sidecar = json.loads(next(p for p in plot.files if p.suffix == ".json").read_text())
    assert sidecar["dead"] is True
