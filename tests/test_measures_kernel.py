"""The compiled kernel (seldb.measures.kernel) against the numpy passes, the reference: same blocks, same bytes.

tests/test_measures.py checks the numpy path against brute force; here both
engines measure the same blocks and every array and every row they give must
be identical, float bits and NaN/NULL positions included.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import seldb.measures.compute as compute
from seldb.db.write import encode_unit_arrays
from seldb.errors import InputError
from seldb.measures import compute_block

pytest.importorskip("numba")
pytestmark = pytest.mark.unit

ARRAYS = {
    "stats": ("sum", "mean", "std", "min", "max", "n_nonzero", "n_zero", "first_at_max"),
    "swept": ("mi", "mi_threshold", "mi_tp", "mi_selected"),
    "hist": ("lo", "width", "n_bins", "counts"),
    "top": ("image_index", "activation", "label"),
}


def _everything(monkeypatch, engine: str, values, labels, n_classes, **kw) -> list:
    monkeypatch.setenv("SELDB_ENGINE", engine)
    r = compute_block(values, labels, n_classes, **kw)
    arrays = [
        (name, field, getattr(getattr(r, name), field).dtype.str, getattr(getattr(r, name), field).tobytes())
        for name, fields in ARRAYS.items()
        for field in fields
    ]
    arrays += [(p, r.swept.recall_p[p][0].tobytes(), r.swept.recall_p[p][1].tobytes()) for p in r.swept.recall_p]
    frames = [r.units, r.precision_k, r.class_stats, r.histograms, r.top_images]
    return [
        arrays,
        *[(f.schema, pickle.dumps(f.to_dicts())) for f in frames],
        b"".join(encode_unit_arrays(1, 0, 0, r)),
    ]


def _assert_same(monkeypatch, values, labels, n_classes, **kw) -> None:
    reference = _everything(monkeypatch, "numpy", values, labels, n_classes, **kw)
    compiled = _everything(monkeypatch, "numba", values, labels, n_classes, **kw)
    for want, got in zip(reference[0], compiled[0], strict=True):
        assert want == got, want[:2]
    assert compiled[1:] == reference[1:]


def _random_block(rng: np.random.Generator, n: int, units: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, n_classes, n)
    if n_classes > 3:
        labels[labels == 2] = 3  # a class without images
    scale = 10.0 ** rng.uniform(-6, 6, units)
    values = (rng.standard_normal((n, units)) * scale).astype(np.float32)
    values[rng.random((n, units)) < 0.8] = 0.0  # ReLU zeros: the floor
    ties = rng.random((n, units)) < 0.3
    values[ties] = np.round(values[ties] * 4) / 4  # many ties above the floor
    return values, labels


def test_tie_heavy_blocks_are_identical(monkeypatch):
    rng = np.random.default_rng(2401)
    n, units, k = 400, 10, 9
    values, labels = _random_block(rng, n, units, k)
    values[:, 0] = 1.5  # constant
    values[:, 1] = -np.abs(values[:, 1]) - 0.5  # a negative floor, no zeros
    values[:7, 2] = -0.0  # negative zeros are zeros
    values[:, 3] = 0.0  # dead
    values[:, 4] = (rng.integers(0, 3, n) - 1).astype(np.float32)  # three values, zero in the middle
    image_index = np.arange(n)[::-1].copy()
    _assert_same(monkeypatch, values, labels, k, top_k=(5, 60, 100), bins=6, image_index=image_index)


def test_float32_edge_values_are_identical(monkeypatch):
    rng = np.random.default_rng(2402)
    n, k = 300, 5
    labels = rng.integers(0, k, n)
    big, tiny = np.finfo(np.float32).max, np.float32(1e-45)  # largest finite and smallest subnormal
    columns = [
        rng.choice(np.array([big, -big, 0.0], dtype=np.float32), n),
        rng.choice(np.array([tiny, -tiny, 0.0, -0.0], dtype=np.float32), n),
        rng.choice(np.array([big, tiny, 1.0], dtype=np.float32), n),
        (rng.standard_normal(n) * 1e30).astype(np.float32),
        np.full(n, -big, dtype=np.float32),  # dead at the lowest value
    ]
    values = np.stack(columns, axis=1)
    _assert_same(monkeypatch, values, labels, k, top_k=(1, 5, 60, 100), bins=32)


@pytest.mark.parametrize("seed", range(6))
def test_random_blocks_are_identical(monkeypatch, seed):
    """Sizes around the pairwise sum's block of 128 values and its halving, one image, one class."""
    rng = np.random.default_rng(2410 + seed)
    n = int(rng.choice([1, 7, 9, 129, 257, 1000, 3001]))
    k = int(rng.choice([1, 2, 7, 40]))
    units = int(rng.integers(1, 12))
    values, labels = _random_block(rng, n, units, k)
    image_index = rng.permutation(n) * 3 + 1  # rows of a bigger file, not in label order
    top_k = tuple(sorted({1, 5, int(rng.integers(1, 2 * n + 2))}))
    _assert_same(monkeypatch, values, labels, k, top_k=top_k, bins=int(rng.integers(1, 40)), image_index=image_index)


def test_float16_and_exact_float64_take_the_kernel(monkeypatch):
    import seldb.measures.kernel_block as kernel

    rng = np.random.default_rng(2420)
    values, labels = _random_block(rng, 500, 6, 8)
    values = np.clip(values, -6e4, 6e4)  # finite in float16
    calls = []
    real = kernel.compiled_parts
    monkeypatch.setattr(kernel, "compiled_parts", lambda *a: calls.append(1) or real(*a))
    for dtype in (np.float16, np.float64):
        _assert_same(monkeypatch, values.astype(dtype), labels, 8)
    assert len(calls) == 2


def test_float64_beyond_float32_falls_back_to_numpy(monkeypatch):
    import seldb.measures.kernel_block as kernel

    rng = np.random.default_rng(2421)
    values = rng.standard_normal((200, 4))  # float64 values float32 cannot hold
    labels = rng.integers(0, 3, 200)
    monkeypatch.setattr(kernel, "compiled_parts", lambda *a: pytest.fail("float64 took the kernel"))
    _assert_same(monkeypatch, values, labels, 3)


def test_engine_choice(monkeypatch):
    monkeypatch.setenv("SELDB_ENGINE", "numpy")
    assert compute.measure_engine() == "numpy"
    monkeypatch.setenv("SELDB_ENGINE", "NumBa")
    assert compute.measure_engine() == "numba"
    monkeypatch.delenv("SELDB_ENGINE")
    assert compute.measure_engine() == "numba"
    monkeypatch.setattr(compute, "numba_available", lambda: False)
    assert compute.measure_engine() == "numpy"  # numba missing: the reference, never an error
    monkeypatch.setenv("SELDB_ENGINE", "fortran")
    with pytest.raises(InputError, match="SELDB_ENGINE"):
        compute.measure_engine()


def test_every_block_of_a_layer_shares_one_layout(monkeypatch):
    import seldb.measures.kernel_block as kernel

    rng = np.random.default_rng(2430)
    values, labels = _random_block(rng, 300, 8, 5)
    rows = np.arange(300) * 2
    made = []
    real = kernel._make_layout
    monkeypatch.setattr(kernel, "_make_layout", lambda *a: made.append(1) or real(*a))
    monkeypatch.setenv("SELDB_ENGINE", "numba")
    for u0 in range(0, 8, 2):
        compute_block(values[:, u0 : u0 + 2], labels, 5, image_index=rows)
    assert len(made) == 1


@pytest.mark.parametrize("n", [9, 100, 129, 1000, 4099])
def test_dense_sums_add_in_numpy_order(monkeypatch, n):
    """No floor, mixed magnitudes: every rounding of the class sums and squared deviations shows."""
    rng = np.random.default_rng(2440 + n)
    values = (rng.standard_normal((n, 6)) * 10.0 ** rng.uniform(-3, 3, (n, 6))).astype(np.float32)
    labels = rng.integers(0, 3, n)
    _assert_same(monkeypatch, values, labels, 3)


@pytest.mark.db
@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_the_run_says_which_engine_measured_it(migrated_db, tmp_path, monkeypatch, engine):
    from support import import_file, rows

    from seldb.h5.reader import write_activation_file

    rng = np.random.default_rng(2450)
    values, labels = _random_block(rng, 90, 7, 4)
    # a float64 file: "fc" holds float32 values (the kernel), "wide" values float32 cannot hold (numpy)
    layers = {"wide": rng.standard_normal((90, 3)), "fc": values.astype(np.float64)}
    path = write_activation_file(
        tmp_path / "e.h5", class_names=[f"c{k}" for k in range(4)], labels=labels, layers=layers
    )
    monkeypatch.setenv("SELDB_ENGINE", engine)
    run_id = import_file(path, force=True, layers=["fc"]).run_id
    record = rows("SELECT options FROM seldb_store.runs WHERE run_id = :r", r=run_id)[0]["options"]
    assert record["measure_engine"] == engine
    run_id = import_file(path, force=True).run_id
    record = rows("SELECT options FROM seldb_store.runs WHERE run_id = :r", r=run_id)[0]["options"]
    assert record["measure_engine"] == ("numba+numpy" if engine == "numba" else "numpy")


@pytest.mark.parametrize("seed", range(3))
def test_concept_measures_are_identical(monkeypatch, seed):
    import seldb.measures.kernel_block as kernel
    from seldb.measures import compute_concept_block

    calls = []
    real = kernel.compiled_parts
    monkeypatch.setattr(kernel, "compiled_parts", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(2460 + seed)
    values, labels = _random_block(rng, int(rng.choice([50, 700, 2000])), 9, 6)
    values[:, 0] = 0.0  # dead
    values[:, 1] = -np.abs(values[:, 1]) - 1.0  # negative floor
    frames = {}
    for engine in ("numpy", "numba"):
        monkeypatch.setenv("SELDB_ENGINE", engine)
        frames[engine] = [
            compute_concept_block(values, labels, 6, concept, top_k=(5, 60, 100))
            for concept in ([1, 4], [0], [0, 1, 2, 3, 4, 5], [2])  # class 2 has no image
        ]
    assert len(calls) == 4  # the numba engine's four concepts took the kernel
    assert [(f.schema, pickle.dumps(f.to_dicts())) for f in frames["numba"]] == [
        (f.schema, pickle.dumps(f.to_dicts())) for f in frames["numpy"]
    ]
