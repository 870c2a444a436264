"""seldb report compare and its views, against the measures recomputed from the arrays by tests/reference.py.

Two runs of made-up units (some selective for a class, some mixed, some
dead); every median, quartile, share meeting a criterion and verdict count
of the report is recomputed here from the activation arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from seldb.h5.reader import write_activation_file
from tests.reference import reference_unit
from tests.support import import_file

pytestmark = pytest.mark.db

K = 3
CRITERIA = {
    ("precision_60", "> 0.75"): lambda u: u["precision_60"] is not None and u["precision_60"] > 0.75,
    ("localist_margin", "> 0 (localist)"): lambda u: bool(u["is_localist"]),
    ("recall_p1", ">= 0.5"): lambda u: u["recall_p1"] is not None and u["recall_p1"] >= 0.5,
    ("recall_p1", ">= 0.99"): lambda u: u["recall_p1"] is not None and u["recall_p1"] >= 0.99,
    ("max_informedness", ">= 0.9"): lambda u: u["max_informedness"] is not None and u["max_informedness"] >= 0.9,
    ("mi_false_discovery_rate", "<= 0.1"): lambda u: (
        u["mi_false_discovery_rate"] is not None and u["mi_false_discovery_rate"] <= 0.1
    ),
}


def units(seed: int, n_units: int, boost: float):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(K), 50).astype(np.int32)
    x = rng.normal(size=(labels.size, n_units))
    for u in range(n_units):
        x[labels == u % K, u] += boost * (u % 4)  # 0: mixed ... 3: strongly selective
    x[:, -1] = 0.0  # a dead unit
    return np.maximum(x, 0).astype(np.float32), labels


def verdict_of(u) -> str:
    if u["is_dead"]:
        return "dead"
    if (
        (u["max_informedness"] or 0) >= 0.9
        and u["mi_false_discovery_rate"] is not None
        and u["mi_false_discovery_rate"] <= 0.1
    ):
        return "strict detector"
    if u["precision_60"] is not None and u["precision_60"] > 0.75:
        return "precision only"
    return "not selective"


def expected(x, labels):
    ref = [reference_unit(x[:, j].tolist(), labels.tolist(), K) for j in range(x.shape[1])]
    live = [u for u in ref if not u["is_dead"]]
    summary = {}
    for (measure, criterion), meets in CRITERIA.items():
        values = np.array([float(u[measure]) for u in live if u[measure] is not None])
        summary[(measure, criterion)] = (
            float(np.median(values)),
            float(np.percentile(values, 25)),
            float(np.percentile(values, 75)),
            sum(meets(u) for u in live) / len(live),
        )
    names = ("strict detector", "precision only", "not selective", "dead")
    verdicts = {v: sum(verdict_of(u) == v for u in ref) for v in names}
    return summary, verdicts


def test_compare_report_matches_the_arrays(db, tmp_path):
    xa, labels = units(0, 12, 0.8)
    xb, _ = units(1, 10, 2.5)
    a = import_file(write_activation_file(tmp_path / "a.h5", class_names=["x", "y", "z"], labels=labels,
                                          layers={"l": xa}), force=True).run_id  # fmt: skip
    b = import_file(write_activation_file(tmp_path / "b.h5", class_names=["x", "y", "z"], labels=labels,
                                          layers={"m": xb}), force=True).run_id  # fmt: skip
    report = db.reports.compare([a, b], ["l", "m"], plot=True, out_dir=tmp_path)
    paired = {(r["measure"], r["criterion"]): r for r in report.section("compare").frame.iter_rows(named=True)}
    for side, x in (("a", xa), ("b", xb)):
        summary, verdicts = expected(x, labels)
        for key, (median, q25, q75, share) in summary.items():
            row = paired[key]
            assert row[f"median_{side}"] == pytest.approx(median), key
            assert row[f"q25_{side}"] == pytest.approx(q25), key
            assert row[f"q75_{side}"] == pytest.approx(q75), key
            assert row[f"share_meeting_{side}"] == pytest.approx(share), key
        counts = {r["verdict"]: r[f"n_units_{side}"] for r in report.section("verdicts").frame.iter_rows(named=True)}
        assert counts == verdicts
    assert verdicts["strict detector"] > 0  # run B's strong units are strict detectors
    assert "strict measures" in report.notes[2]
    assert [p.suffix for p in report.files] == [".png", ".json"] and report.files[0].stat().st_size > 1000


def test_compare_refuses_bad_runs_and_layers(db, cli, tmp_path):
    x, labels = units(0, 4, 1.0)
    a = import_file(write_activation_file(tmp_path / "a.h5", class_names=["x", "y", "z"], labels=labels,
                                          layers={"l": x}), force=True).run_id  # fmt: skip
    for args, message in (
        (["--runs", f"{a}"], "two run ids"),
        (["--runs", f"{a},999999"], "no run 999999"),
        (["--runs", f"{a},{a}", "--layers", "nope"], "no layer 'nope'"),
    ):
        result = cli("report", "compare", *args)
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output
