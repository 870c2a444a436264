"""Planted memory units (seldb.control.planted_memory) found by the per-step analysis (seldb.control.memory).

Expected values come from the construction: every planted unit lists the
steps, class space, class and direction at which it is selective, and its
margin there is at least the margin it was built with. Hand-worked margins
check the two margin functions on a few rows.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from seldb.control.memory import analyse, class_margins, rows_from_file, set_margins
from seldb.control.planted_memory import planted_memory, write_planted_memory

pytestmark = pytest.mark.unit

CASES = [("free", "superposition", (1, 3, 5)), ("serial", "superposition", (1, 3)), ("serial", "single", (2, 3))]


def check_found(units: pl.DataFrame, planted) -> int:
    """Every planted selective unit where it should be; no distributed or dead unit localist anywhere."""
    checked = 0
    for i, pu in enumerate(planted.units):
        mine = units.filter(pl.col("unit") == i)
        if pu.kind in ("distributed", "dead"):
            assert mine.filter(pl.col("best_margin") > 0).is_empty(), (pu.kind, i)
            continue
        assert pu.expected, pu
        for length, step, space, cls, direction in pu.expected:
            row = mine.filter(
                (pl.col("length") == length) & (pl.col("step") == step) & (pl.col("class_space") == space)
            ).row(0, named=True)
            assert (row["best_class"], row["direction"]) == (cls, direction), (pu, step, space)
            assert row["best_margin"] > 0 and row["best_margin"] >= pu.margin - 0.01, (pu, step, row["best_margin"])
            checked += 1
    return checked


@pytest.mark.parametrize(("task", "condition", "lengths"), CASES)
def test_every_planted_unit_found_in_arrays(task, condition, lengths):
    planted = planted_memory(task, condition, lengths=lengths, repeats=4, per_kind=6, seed=3)
    assert check_found(analyse(planted.rows).units, planted) > 50


@pytest.mark.parametrize(("task", "condition", "lengths"), CASES[:2])
def test_every_planted_unit_found_in_activation_files(tmp_path, task, condition, lengths):
    planted = planted_memory(task, condition, lengths=lengths, repeats=3, per_kind=6, seed=5)
    files = write_planted_memory(planted, tmp_path)
    rows = rows_from_file(files["word"])
    np.testing.assert_array_equal(rows.list_words, planted.rows.list_words)
    np.testing.assert_array_equal(rows.position, planted.rows.position)
    assert check_found(analyse(rows).units, planted) > 30


def test_wrong_lists_are_left_out():
    planted = planted_memory("free", lengths=(3,), repeats=2, per_kind=1, seed=0)
    rows = planted.rows
    wrong = rows.list_id % 2 == 1
    half = analyse(type(rows)(**{**rows.__dict__, "correct": ~wrong}))
    assert set(half.steps["rows"].to_list()) == {int((~wrong).sum() // 4)}


def test_memory_unit_needs_the_in_list_space():
    """The issue's finding: a memory unit is no localist unit for the word at the step after encode1."""
    planted = planted_memory("serial", "superposition", lengths=(3,), repeats=4, per_kind=1, seed=1)
    units = analyse(planted.rows).units.filter(pl.col("unit") == 0)
    word = units.filter((pl.col("class_space") == "word") & (pl.col("step") != "encode1"))
    assert (word["best_margin"] <= 0).all()
    in_list = units.filter(pl.col("class_space") == "word-in-list")
    assert in_list["step"].to_list() == ["encode3", "recall1", "recall2", "recall3"]
    assert (in_list["best_margin"] > 0).all() and in_list["same_every_step"].all()


def test_margins_by_hand():
    values = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.6]])
    labels = np.array([0, 0, 1, 1])
    on_m, on_c, off_m, off_c = class_margins(values, labels, 2)
    # unit 0: class 0 on (0.8 - 0.3 = 0.5); off: class 1 (min non-member 0.8 - max member 0.3 = 0.5)
    np.testing.assert_allclose(on_m, [0.5, 0.4])
    assert on_c.tolist() == [0, 1] and off_c.tolist() == [1, 0]
    np.testing.assert_allclose(off_m, [0.5, 0.4])
    members = [np.array([True, True, False, False]), np.array([True, False, True, False])]
    s_on, s_c, s_off, _ = set_margins(values, members)
    np.testing.assert_allclose(s_on, [0.5, -0.5])  # unit 1, set 1: min(0.1, 0.7) - max(0.2, 0.6)
    assert s_c.tolist() == [0, 1]


def test_dead_and_constant_units_never_count():
    planted = planted_memory("free", lengths=(3,), repeats=3, per_kind=6, seed=2)
    steps = analyse(planted.rows).steps
    dead = [i for i, u in enumerate(planted.units) if u.kind == "dead"]
    units = analyse(planted.rows).units.filter(pl.col("unit").is_in(dead))
    assert (units["best_margin"] == 0).all()
    assert {"n_on_m00", "n_off_m05", "n_same_on_m01", "trivial"} <= set(steps.columns)
