"""`seldb uncertainty` end to end: tables, views, CLI, import options, reports.

A small activation file (two layers, a planted detector, a unit whose
precision_60 is high by luck) is imported; the stored intervals and p-values
must equal `measure_uncertainty` run on the same arrays with the same seed
(computed here from the arrays, not read back), the views must answer the
issue's questions in one query, and the same seed must store the same numbers.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from support import import_file, rows

from seldb.h5.reader import write_activation_file
from seldb.load.options import ImportOptions
from seldb.measures.resampling.estimates import UncertaintyOptions, measure_uncertainty

pytestmark = pytest.mark.db
K, PER_CLASS = 6, 60


def _layers(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(K), PER_CLASS)
    conv = rng.gamma(1.5, 1.0, (labels.size, 5)).astype(np.float32)
    conv[rng.random(conv.shape) < 0.5] = 0
    conv[:, 0] = np.where(labels == 2, 3.0, 0.0) + rng.random(labels.size).astype(np.float32) * 0.1  # a detector
    fc = rng.gamma(1.5, 1.0, (labels.size, 4)).astype(np.float32)
    # unit 1: 48 of class 4's 60 images raised: precision_60 about 0.8, less certain than conv.0
    fc[:, 1] = rng.random(labels.size).astype(np.float32)
    fc[np.flatnonzero(labels == 4)[:48], 1] += 0.9
    return labels, {"conv": conv, "fc": fc}


@pytest.fixture
def activation_file(tmp_path):
    labels, layers = _layers()
    return write_activation_file(
        tmp_path / "acts.h5", class_names=[f"c{i}" for i in range(K)], labels=labels, layers=layers
    )


def test_stored_numbers_are_the_library_numbers(db, activation_file):
    run = import_file(activation_file, force=True, bootstrap=40, permutations=30, seed=5).run_id
    labels, layers = _layers()
    options = UncertaintyOptions(bootstrap=40, permutations=30, seed=5, level=0.95)
    for layer, values in layers.items():
        want = measure_uncertainty(values, labels, K, options)
        got = pl.DataFrame(
            rows(
                "SELECT unit, measure, estimate, lo, hi, replicates, class_stability, method, bias"
                " FROM seldb.unit_measure_intervals WHERE run_id = :r AND layer = :l",
                r=run,
                l=layer,
            )
        )
        expected = want.intervals.select(got.columns)
        assert got.sort("measure", "unit").equals(expected.sort("measure", "unit")), layer
        chance = pl.DataFrame(
            rows(
                "SELECT unit, measure, p, q, null_p95 FROM seldb.unit_measure_chance WHERE run_id = :r AND layer = :l",
                r=run,
                l=layer,
            )
        )
        assert chance.sort("measure", "unit").equals(want.chance.select(chance.columns).sort("measure", "unit"))
        null = pl.DataFrame(
            rows(
                "SELECT measure, null_p95, null_p99 FROM seldb.layer_measure_null WHERE run_id = :r AND layer = :l",
                r=run,
                l=layer,
            )
        )
        assert null.sort("measure").equals(want.layer_null.select(null.columns).sort("measure"))


def test_estimates_are_the_stored_point_estimates(db, activation_file):
    run = import_file(activation_file, force=True, bootstrap=20, permutations=0).run_id
    mismatch = rows(
        """
        SELECT i.unit_label FROM seldb.unit_measure_intervals AS i
        JOIN seldb.unit_measures AS m ON m.run_id = i.run_id AND m.unit_label = i.unit_label
        WHERE i.run_id = :r AND i.measure = 'max_informedness'
          AND i.estimate IS DISTINCT FROM m.max_informedness""",
        r=run,
    )
    assert mismatch == []
    assert rows("SELECT count(*) AS n FROM seldb.unit_measure_chance WHERE run_id = :r", r=run)[0]["n"] == 0


@pytest.mark.parametrize("lower", [0.5, 0.8])
def test_one_query_finds_high_precision_with_a_low_lower_bound(db, activation_file, lower):
    # The question (lower bound 0.5), and one with an answer on this small data set (0.8).
    run = import_file(activation_file, force=True, bootstrap=60, permutations=0, seed=1).run_id
    found = rows(
        "SELECT unit_label FROM seldb.unit_measure_intervals WHERE run_id = :r"
        " AND measure = 'precision_60' AND estimate > 0.75 AND lo < :lower",
        r=run,
        lower=lower,
    )
    labels, layers = _layers()
    want = []
    for layer, values in layers.items():
        got = measure_uncertainty(values, labels, K, UncertaintyOptions(bootstrap=60, permutations=0, seed=1))
        hits = got.intervals.filter(
            (pl.col("measure") == "precision_60") & (pl.col("estimate") > 0.75) & (pl.col("lo") < lower)
        )
        want += [f"{layer}.{u}" for u in hits["unit"]]
    assert sorted(r["unit_label"] for r in found) == sorted(want)
    if lower == 0.8:
        assert "fc.1" in want and "conv.0" not in want  # the raised unit is less certain than the detector


def test_detector_claims_say_which_claims_survive(db, activation_file, cli):
    run = import_file(activation_file, force=True).run_id
    claims = rows("SELECT unit_label, survives FROM seldb.detector_claims WHERE run_id = :r", r=run)
    assert claims and all(c["survives"] is None for c in claims)  # not assessed yet
    result = cli("uncertainty", "--run", str(run), "--bootstrap", "50", "--permutations", "199", "--quiet")
    assert result.exit_code == 0, result.output
    assert "50 bootstrap + 199 permutation replicates" in result.output
    claims = {c["unit_label"]: c for c in rows("SELECT * FROM seldb.detector_claims WHERE run_id = :r", r=run)}
    assert claims["conv.0"]["survives"] is True  # the planted detector: lo = 1, p = 1/200
    for c in claims.values():
        assert c["survives"] == (c["precision_60_lo"] > 0.75 and c["precision_60_q"] < 0.05)
    summary = rows(
        "SELECT n_assessed, n_robust FROM seldb.detector_summary WHERE run_id = :r AND layer IS NULL", r=run
    )[0]
    assert summary == {"n_assessed": len(claims), "n_robust": sum(c["survives"] for c in claims.values())}
    layer_null = rows(
        "SELECT n_units, n_beats_chance FROM seldb.layer_measure_null WHERE run_id = :r"
        " AND layer = 'conv' AND measure = 'precision_60'",
        r=run,
    )[0]
    assert layer_null["n_units"] == 5 and layer_null["n_beats_chance"] >= 1


def test_same_seed_same_rows_and_recomputing_replaces(db, activation_file, cli):
    run = import_file(activation_file, force=True).run_id
    query = "SELECT * FROM seldb.unit_measure_intervals WHERE run_id = :r ORDER BY layer, measure, unit"
    assert (
        cli(
            "uncertainty", "--run", str(run), "--bootstrap", "30", "--permutations", "20", "--seed", "4", "-q"
        ).exit_code
        == 0
    )
    first = rows(query, r=run)
    assert (
        cli(
            "uncertainty",
            "--run",
            str(run),
            "--layers",
            "fc",
            "--bootstrap",
            "30",
            "--permutations",
            "20",
            "--seed",
            "4",
            "-q",
        ).exit_code
        == 0
    )
    assert rows(query, r=run) == first
    assert (
        cli(
            "uncertainty",
            "--run",
            str(run),
            "--layers",
            "fc",
            "--seed",
            "5",
            "--bootstrap",
            "30",
            "--permutations",
            "0",
            "-q",
        ).exit_code
        == 0
    )
    settings = rows(
        "SELECT layer, seed, permutation_seed, permutations FROM seldb.uncertainty_layers WHERE run_id = :r"
        " ORDER BY layer",
        r=run,
    )
    assert settings == [
        {"layer": "conv", "seed": 4, "permutation_seed": 4, "permutations": 20},
        {"layer": "fc", "seed": 5, "permutation_seed": 4, "permutations": 20},  # the permutations were kept
    ]


def test_one_sided_passes_add_to_what_is_stored(db, activation_file, cli):
    """Issue 25: a bootstrap-only pass used to delete the layer's permutation rows (and the reverse)."""
    run = import_file(activation_file, force=True).run_id
    chance = (
        "SELECT unit, measure, p, q, null_p95, seed FROM seldb.unit_measure_chance WHERE run_id = :r AND layer = 'fc'"
    )
    intervals = (
        "SELECT unit, measure, lo, hi, seed FROM seldb.unit_measure_intervals WHERE run_id = :r AND layer = 'fc'"
    )
    null = "SELECT measure, null_p95, permutations FROM seldb.layer_measure_null WHERE run_id = :r AND layer = 'fc'"
    base = ["uncertainty", "--run", str(run), "--layers", "fc", "-q"]
    assert cli(*base, "--bootstrap", "0", "--permutations", "20", "--seed", "4").exit_code == 0
    chance_rows, null_rows = rows(chance, r=run), rows(null, r=run)
    assert len(chance_rows) == 4 * 15 and len(null_rows) == 15 and rows(intervals, r=run) == []
    assert cli(*base, "--bootstrap", "30", "--permutations", "0", "--seed", "5").exit_code == 0
    assert rows(chance, r=run) == chance_rows and rows(null, r=run) == null_rows
    interval_rows = rows(intervals, r=run)
    assert len(interval_rows) == 4 * 15 and {r["seed"] for r in interval_rows} == {5}
    # the reverse: new permutations keep the intervals
    assert cli(*base, "--bootstrap", "0", "--permutations", "20", "--seed", "6").exit_code == 0
    assert rows(intervals, r=run) == interval_rows
    assert {r["seed"] for r in rows(chance, r=run)} == {6}
    # a two-sided pass after a partial one equals a fresh two-sided pass
    assert cli(*base, "--bootstrap", "30", "--permutations", "0", "--seed", "5", "--replace").exit_code == 0
    assert rows(chance, r=run) == [] and rows(null, r=run) == [] and rows(intervals, r=run) == interval_rows


def test_uncertainty_options_leave_the_fingerprint_alone(db, activation_file):
    plain = import_file(activation_file, force=True)
    again = import_file(activation_file, on_duplicate="reuse", bootstrap=10, permutations=10)
    assert again.reused and again.run_id == plain.run_id and again.uncertainty.rows > 0
    assert ImportOptions(bootstrap=5, seed=3).as_json() == ImportOptions().as_json()


def test_bad_input_is_one_line_and_writes_nothing(db, activation_file, cli, tmp_path):
    run = import_file(activation_file, force=True).run_id
    for args, message in (
        (["--level", "1.5"], "--level must lie strictly between 0 and 1"),
        (["--bootstrap", "0", "--permutations", "0"], "nothing to compute"),
        (["--layers", "fc9"], "no layer 'fc9' in run"),
        (["--bootstrap", "-1"], "--bootstrap must be 0 or more"),
    ):
        result = cli("uncertainty", "--run", str(run), *args, "-q")
        assert result.exit_code == 1 and message in result.output, result.output
    assert cli("uncertainty", "--run", "999", "-q").exit_code == 1
    activation_file.rename(tmp_path / "moved.h5")
    result = cli("uncertainty", "--run", str(run), "-q")
    assert result.exit_code == 1 and "is gone" in result.output and len(result.output.strip().splitlines()) == 1
    assert rows("SELECT count(*) AS n FROM seldb.uncertainty_layers WHERE run_id = :r", r=run)[0]["n"] == 0


def test_reports_show_intervals_robust_counts_and_the_chance_band(db, activation_file, tmp_path):
    import json

    run = import_file(activation_file, force=True, bootstrap=30, permutations=199, seed=2).run_id
    unit = db.reports.unit("conv.0", run=run).section("measures").frame
    view = pl.DataFrame(
        rows(
            "SELECT measure, lo, hi FROM seldb.unit_measure_intervals WHERE run_id = :r AND unit_label = 'conv.0'",
            r=run,
        )
    )
    shown = unit.filter(pl.col("lo").is_not_null()).select("measure", "lo", "hi").unique()  # precision_k: twice
    assert shown.sort("measure").equals(view.sort("measure"))
    assert set(unit.filter(pl.col("measure") == "precision_60")["p"]) == {1 / 200}

    top = db.reports.top(run=run, measures=["precision_60"], n=3).section("by_precision_60")
    assert top.brief[:5] == ["rank", "unit_label", "precision_60", "precision_60_lo", "precision_60_hi"]
    first = top.frame.row(0, named=True)
    want = rows(
        "SELECT lo FROM seldb.unit_measure_intervals WHERE run_id = :r AND measure = 'precision_60'"
        " AND unit_label = :u",
        r=run,
        u=first["unit_label"],
    )[0]["lo"]
    assert first["precision_60_lo"] == want

    report = db.reports.detectors(run=run)
    summary = rows(
        "SELECT n_robust, n_assessed FROM seldb.detector_summary WHERE run_id = :r AND layer IS NULL", r=run
    )[0]
    assert f"{summary['n_robust']:,} of the {summary['n_assessed']:,} claims assessed are robust" in report.notes[0]
    assert "survives" in report.section("claims").frame.columns

    files = db.reports.layers(run=run, measures=["precision_60"], plot=True, out_dir=tmp_path).files
    sidecar = json.loads(next(p for p in files if p.suffix == ".json").read_text())
    band = {r["layer"]: r["band_95"] for r in sidecar["chance_band"]["layers"]}
    null = rows(
        "SELECT layer, null_p95 FROM seldb.layer_measure_null WHERE run_id = :r AND measure = 'precision_60'", r=run
    )
    assert band == {r["layer"]: r["null_p95"] for r in null}


def test_reports_of_a_run_without_uncertainty_are_unchanged(db, activation_file):
    run = import_file(activation_file, force=True).run_id
    assert "lo" not in db.reports.unit("conv.0", run=run).section("measures").frame.columns
    assert "precision_60_lo" not in db.reports.top(run=run, measures=["precision_60"]).section("by_precision_60").brief
    assert "seldb uncertainty --run" in db.reports.detectors(run=run).notes[0]


def test_import_h5_takes_the_same_options(db, activation_file, cli):
    result = cli(
        "import-h5",
        str(activation_file),
        "--force",
        "--bootstrap",
        "12",
        "--permutations",
        "9",
        "--seed",
        "3",
        "--level",
        "0.9",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert "12 bootstrap + 9 permutation replicates (seed 3, level 0.9)" in result.output
    run = int(re.search(r"run (\d+) imported", result.output).group(1))
    assert rows(
        "SELECT DISTINCT level, replicates FROM seldb.unit_measure_intervals WHERE run_id = :r"
        " AND measure = 'precision_60'",
        r=run,
    ) == [{"level": 0.9, "replicates": 12}]
    bad = cli("import-h5", str(activation_file), "--force", "--level", "0", "-q")
    assert bad.exit_code == 1 and "--level must lie strictly between 0 and 1" in bad.output


def test_ingest_options_reach_the_import():
    from seldb.ingest.options import IngestOptions

    options = IngestOptions(data=".", bootstrap=7, permutations=8, seed=9, level=0.8).import_options("m", "d")
    assert (options.bootstrap, options.permutations, options.seed, options.level) == (7, 8, 9, 0.8)
    assert IngestOptions(data=".").import_options("m", "d").bootstrap == 0


def test_the_view_flags_intervals_by_the_documented_rule(db, activation_file, cli):
    """valid/reason in seldb.unit_measure_intervals: the bootstrap's flags, and for CCMAS the chance
    baseline's q of the same row (validity.combined_validity, applied here to the library's numbers)."""
    from seldb.measures.resampling.validity import NO_CHANCE, combined_validity

    run = import_file(activation_file, force=True, bootstrap=40, permutations=30, seed=5).run_id
    labels, layers = _layers()
    want = measure_uncertainty(layers["fc"], labels, K, UncertaintyOptions(bootstrap=40, permutations=30, seed=5))
    both = want.intervals.join(want.chance.select("unit", "measure", "q"), on=["unit", "measure"])
    expected = {
        (r["unit"], r["measure"]): combined_validity(r["measure"], r["valid"], r["reason"], r["q"])
        for r in both.iter_rows(named=True)
    }
    query = "SELECT unit, measure, valid, reason FROM seldb.unit_measure_intervals WHERE run_id = :r AND layer = 'fc'"
    got = {(r["unit"], r["measure"]): (r["valid"], r["reason"]) for r in rows(query, r=run)}
    assert got == expected
    assert {v for v, _ in got.values()} >= {True, False}
    # without permutations CCMAS's validity is unknown, and says why
    base = ["uncertainty", "--run", str(run), "--layers", "fc", "-q", "--bootstrap", "40", "--permutations", "0"]
    assert cli(*base, "--replace").exit_code == 0
    ccmas = rows(query + " AND measure = 'ccmas'", r=run)
    assert ccmas and all(r["valid"] is None and r["reason"] == NO_CHANCE for r in ccmas)
