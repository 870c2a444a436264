"""The engine beyond one block: a layer measured in many blocks, and more classes than the radix sort takes.

tests/test_measures.py checks compute_block against the brute-force
reference one block at a time; here the same reference checks (a) an
import whose layer is split into many blocks by seldb.blockwise, through the
views, and (b) a block with more than 65,536 classes, where the sweep falls
back from its two 16-bit radix sorts to a lexsort.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference import reference_unit
from seldb.activations import write_activation_file
from seldb.measures import compute_block
from test_measures import EXACT_COLS, UNIT_COLS, _same


@pytest.mark.unit
def test_more_classes_than_the_radix_sort_takes():
    K = 70_000  # > 2**16: the sweep's lexsort fallback
    rng = np.random.default_rng(21)
    classes = np.array([0, 3, 65_535, 65_536, 65_537, 69_999])
    labels = rng.choice(classes, size=80)
    values = rng.choice([0.0, 0.25, 0.5, 1.0, 2.0], size=(80, 3))  # ties: few thresholds
    values[labels == 65_537, 2] += 5.0  # a planted localist unit for a class beyond 2**16
    units = compute_block(values, labels, K).units.sort("unit")
    problems = []
    for u in range(3):
        want = reference_unit(values[:, u], labels, K)
        got = units.row(u, named=True)
        problems += [f"unit {u} {c}: {got[c]!r} != {want[c]!r}" for c in UNIT_COLS
                     if not _same(got[c], want[c], c in EXACT_COLS)]  # fmt: skip
    assert not problems, "\n".join(problems)
    assert units.row(2, named=True)["is_localist"] and units.row(2, named=True)["recall_p1_class"] == 65_537


@pytest.mark.db
def test_a_layer_in_many_blocks_matches_the_reference(migrated_db, tmp_path, monkeypatch):
    import seldb.activations
    from support import import_file, rows

    rng = np.random.default_rng(22)
    n, units, K = 120, 37, 5
    labels = rng.integers(0, K, n)
    values = np.maximum(rng.normal(size=(n, units)), 0).astype(np.float32)  # ReLU zeros, ties at 0
    values[:, 5] = np.where(labels == 3, 4.0, values[:, 5])  # ties at the top, one class
    path = write_activation_file(tmp_path / "blocks.h5", class_names=[f"c{k}" for k in range(K)], labels=labels,
                                 layers={"fc": values})  # fmt: skip
    monkeypatch.setattr(seldb.activations, "ELEMENTS_PER_BLOCK", n * 5)  # blocks of at most 5 units
    assert len(seldb.activations.ActivationFile(path).unit_blocks("fc", n)) >= 8
    run_id = import_file(path, force=True).run_id
    view = rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r ORDER BY unit", r=run_id)
    assert [r["unit"] for r in view] == list(range(units))
    problems = []
    for u, row in enumerate(view):
        want = reference_unit(values[:, u].astype(np.float64), labels, K)
        for c in UNIT_COLS:
            expected = f"c{want[c]}" if c.endswith("_class") and want[c] is not None else want[c]
            if not _same(row[c], expected, c in EXACT_COLS):
                problems.append(f"fc.{u} {c}: view {row[c]!r} != reference {expected!r}")
        top = rows("SELECT image_index FROM seldb.unit_top_images WHERE run_id = :r AND unit = :u ORDER BY rank",
                   r=run_id, u=u)  # fmt: skip
        if [t["image_index"] for t in top] != [t["image_index"] for t in want["top_images"]]:
            problems.append(f"fc.{u} top images differ")
    assert not problems, "\n".join(problems)


@pytest.mark.unit
@pytest.mark.parametrize("seed", range(6))
def test_distinct_values_and_dead_units(seed):
    rng = np.random.default_rng(100 + seed)
    n, K = int(rng.integers(2, 120)), 4
    labels = rng.integers(0, K, n)
    values = np.stack([
        np.zeros(n),  # dead: all ReLU zeros
        np.full(n, 0.7),  # dead at a non-zero value
        np.where(rng.random(n) < 0.9, -0.0, rng.choice([0.0, 1.5, 2.5], n)),  # -0.0 and 0.0 are one value
        rng.choice([0.0, 0.25, 0.5], n),
        rng.normal(size=n),
    ], axis=1).astype(rng.choice([np.float32, np.float64]))  # fmt: skip
    units = compute_block(values, labels, K).units.sort("unit")
    for u in range(values.shape[1]):
        want = reference_unit(values[:, u], labels, K)
        got = units.row(u, named=True)
        assert (got["n_distinct_values"], got["is_dead"]) == (want["n_distinct_values"], want["is_dead"]), u
    assert units["is_dead"].to_list()[:2] == [True, True]
