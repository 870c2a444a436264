"""`seldb demo`: offline, end to end into the database, deterministic, rerunnable."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seldb.demo import load_digits, run_demo, train


@pytest.mark.unit
def test_digits_ship_inside_a_wheel():
    images, labels, source = load_digits()
    assert images.shape[1:] == (28, 28) and len(images) == len(labels) >= 1797
    assert set(labels.tolist()) == set(range(10))


@pytest.mark.unit
def test_training_is_deterministic(tmp_path):
    images, labels, _ = load_digits()
    train(images[::20], labels[::20], tmp_path / "a.pth")
    train(images[::20], labels[::20], tmp_path / "b.pth")
    a, b = torch.load(tmp_path / "a.pth"), torch.load(tmp_path / "b.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.db
def test_demo_end_to_end_and_rerun(tmp_path, db):
    first = run_demo(db, tmp_path / "demo", progress=False)
    assert (
        first.columns
        == ["layer", "unit", "precision_60", "class", "recall_p1", "max_informedness", "mi_false_discovery_rate"]
        and len(first.rows) == 8
    )
    run = db.runs(run=first.run_id).row(0, named=True)
    assert run["model"] == "digit-cnn" and run["only_correct"]
    assert run["n_images_analysed"] >= 0.95 * run["n_images_total"]  # the trained CNN is accurate
    _rows_match_the_reference(first.rows, tmp_path / "demo" / "digits.digit-cnn.h5")
    precision = [row[2] for row in first.rows]
    assert precision == sorted(precision, reverse=True)  # "most selective by precision" first
    assert "seldb sql" in first.next_steps and f"{first.rows[0][0]}.{first.rows[0][1]}" in first.next_steps
    weights = torch.load(tmp_path / "demo" / "digit_cnn.pth")
    second = run_demo(db, tmp_path / "demo", progress=False)
    assert second.run_id == first.run_id and second.rows == first.rows  # reused, not loaded twice
    assert all(torch.equal(weights[k], v) for k, v in torch.load(tmp_path / "demo" / "digit_cnn.pth").items())


def _rows_match_the_reference(rows, activation_file) -> None:
    """Each shown unit's numbers, recomputed by the brute-force reference from the activation file."""
    from reference import reference_unit

    from seldb.h5.reader import ActivationFile

    with ActivationFile(activation_file) as afile:
        analysed = afile.preds == afile.labels
        for layer, unit, precision_60, class_name, recall_p1, informedness, fdr in rows:
            values = afile.read_units(layer, unit, unit + 1)[analysed, 0].astype(np.float64)
            want = reference_unit(values, afile.labels[analysed], afile.n_classes)
            assert afile.class_names[want["precision_60_class"]] == class_name
            for got, name in (
                (precision_60, "precision_60"),
                (recall_p1, "recall_p1"),
                (informedness, "max_informedness"),
                (fdr, "mi_false_discovery_rate"),
            ):
                assert math.isclose(got, want[name], rel_tol=1e-9, abs_tol=1e-12), (layer, unit, name)


@pytest.mark.db
def test_seldb_demo_command(tmp_path, db, cli):
    """The command a new user runs: its table, its next steps, and the run in the views."""
    result = cli("demo", "--data-dir", tmp_path / "data")
    assert result.exit_code == 0, result.output
    run_id = db.latest_run()
    words = " ".join(result.stdout.split())  # however the terminal wraps it
    assert f"run {run_id}: digit-cnn on" in words and "precision_60" in words
    assert "recall at precision 1" in words and "seldb report detectors" in words
    shown = db.sql("SELECT count(*) AS n FROM seldb.unit_measures WHERE run_id = :r", r=run_id)["n"][0]
    assert shown == 16 + 32 + 64  # conv1, conv2, fc1
