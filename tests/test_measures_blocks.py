"""The engine beyond one block: a layer measured in many blocks, and more classes than the radix sort takes.

tests/test_measures.py checks compute_block against the brute-force
reference one block at a time; here the same reference checks (a) an
import whose layer is split into many blocks by seldb.engine.blocks, through the
views, and (b) a block with more than 65,536 classes, where the sweep falls
back from its two 16-bit radix sorts to a lexsort.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import reference_unit
from test_measures import EXACT_COLS, UNIT_COLS, _same

from seldb.h5.reader import write_activation_file
from seldb.measures import compute_block


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
        problems += [
            f"unit {u} {c}: {got[c]!r} != {want[c]!r}" for c in UNIT_COLS if not _same(got[c], want[c], c in EXACT_COLS)
        ]
    assert not problems, "\n".join(problems)
    assert units.row(2, named=True)["is_localist"] and units.row(2, named=True)["recall_p1_class"] == 65_537


@pytest.mark.db
def test_a_layer_in_many_blocks_matches_the_reference(migrated_db, tmp_path, monkeypatch):
    from support import import_file, rows

    import seldb.h5.reader

    rng = np.random.default_rng(22)
    n, units, K = 120, 37, 5
    labels = rng.integers(0, K, n)
    values = np.maximum(rng.normal(size=(n, units)), 0).astype(np.float32)  # ReLU zeros, ties at 0
    values[:, 5] = np.where(labels == 3, 4.0, values[:, 5])  # ties at the top, one class
    path = write_activation_file(
        tmp_path / "blocks.h5", class_names=[f"c{k}" for k in range(K)], labels=labels, layers={"fc": values}
    )
    monkeypatch.setattr(seldb.h5.reader, "ELEMENTS_PER_BLOCK", n * 5)  # blocks of at most 5 units
    assert len(seldb.h5.reader.ActivationFile(path).unit_blocks("fc", n)) >= 8
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
        top = rows(
            "SELECT image_index FROM seldb.unit_top_images WHERE run_id = :r AND unit = :u ORDER BY rank", r=run_id, u=u
        )
        if [t["image_index"] for t in top] != [t["image_index"] for t in want["top_images"]]:
            problems.append(f"fc.{u} top images differ")
    assert not problems, "\n".join(problems)


@pytest.mark.unit
@pytest.mark.parametrize("seed", range(6))
def test_distinct_values_and_dead_units(seed):
    rng = np.random.default_rng(100 + seed)
    n, K = int(rng.integers(2, 120)), 4
    labels = rng.integers(0, K, n)
    values = np.stack(
        [
            np.zeros(n),  # dead: all ReLU zeros
            np.full(n, 0.7),  # dead at a non-zero value
            np.where(rng.random(n) < 0.9, -0.0, rng.choice([0.0, 1.5, 2.5], n)),  # -0.0 and 0.0 are one value
            rng.choice([0.0, 0.25, 0.5], n),
            rng.normal(size=n),
        ],
        axis=1,
    ).astype(rng.choice([np.float32, np.float64]))
    units = compute_block(values, labels, K).units.sort("unit")
    for u in range(values.shape[1]):
        want = reference_unit(values[:, u], labels, K)
        got = units.row(u, named=True)
        assert (got["n_distinct_values"], got["is_dead"]) == (want["n_distinct_values"], want["is_dead"]), u
    assert units["is_dead"].to_list()[:2] == [True, True]


def _tie_heavy_block(rng, n=400, units=24, K=9):
    labels = rng.integers(0, K, n)
    labels[labels == 4] = 5  # a class without images
    values = (rng.integers(0, 7, (n, units)) / 4).astype(np.float32)  # few distinct values: ties everywhere
    values[rng.random((n, units)) < 0.7] = 0.0  # ReLU zeros: the floor
    values[:, 0] = 1.5  # constant
    values[:, 1] = -values[:, 1] - 0.5  # a negative floor, no zeros
    values[:7, 2] = -0.0  # negative zeros are zeros
    values[:, 3] = 0.0  # dead
    return values, labels, K


@pytest.mark.unit
def test_chunks_of_units_give_the_block_bit_for_bit(monkeypatch):
    """compute_block runs its numpy passes over chunks of units; any chunking must give the same bytes."""
    import pickle

    import seldb.measures.compute as compute
    from seldb.db.write import encode_unit_arrays

    values, labels, K = _tie_heavy_block(np.random.default_rng(41))

    def everything():
        r = compute_block(values, labels, K, top_k=(5, 60, 100), bins=6, image_index=np.arange(400)[::-1].copy())
        return pickle.dumps(
            [
                r.units.to_dicts(),
                r.precision_k.to_dicts(),
                r.class_stats.to_dicts(),
                r.histograms.to_dicts(),
                r.top_images.to_dicts(),
                b"".join(encode_unit_arrays(1, 0, 0, r)),
            ]
        )

    whole = everything()
    for chunk in (400, 400 * 5, 1):  # one unit per chunk, five, the last chunk short
        monkeypatch.setattr(compute, "CHUNK_ELEMENTS", chunk)
        assert everything() == whole, chunk


@pytest.mark.unit
def test_floor_counted_per_class_matches_counting_every_image():
    """Zeros (a unit's floor) are counted per class, not visited: histograms and zero counts by brute force."""
    values, labels, K = _tie_heavy_block(np.random.default_rng(42))
    bins = 6
    result = compute_block(values, labels, K, bins=bins)
    x = values.astype(np.float64) + 0.0
    for u in range(values.shape[1]):
        a = x[:, u]
        lo, hi = a.min(), a.max()
        for c in range(K):
            mine = a[labels == c]
            assert result.stats.n_zero[u, c] == np.sum(mine == 0) and result.stats.n_nonzero[u, c] == np.sum(mine > 0)
            if hi == lo:
                want = np.zeros(bins, int)
                want[0] = mine.size
            else:
                w = (hi - lo) / bins
                want = np.bincount(np.minimum(bins - 1, np.floor((mine - lo) / w).astype(int)), minlength=bins)
            assert result.hist.counts[u, c].tolist() == want.tolist(), (u, c)
