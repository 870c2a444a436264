"""`seldb demo`: offline, end to end into the database, deterministic, rerunnable."""

from __future__ import annotations

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
def test_demo_end_to_end_and_rerun(tmp_path, migrated_db):
    first = run_demo(tmp_path / "demo", progress=False)
    assert first.columns[:3] == ["layer", "unit", "precision_60"] and len(first.rows) == 8
    assert all(row[2] is not None for row in first.rows)
    assert "seldb sql" in first.next_steps
    weights = torch.load(tmp_path / "demo" / "digit_cnn.pth")
    second = run_demo(tmp_path / "demo", progress=False)
    assert second.run_id == first.run_id and second.rows == first.rows  # reused, not loaded twice
    assert all(torch.equal(weights[k], v) for k, v in torch.load(tmp_path / "demo" / "digit_cnn.pth").items())
