"""The engine (seldb.measures) against the spec's worked examples and against the
brute-force reference (tests/reference.py) on many small random units built to
hit the awkward cases: heavy ties, ~80% exact zeros, negatives, -0.0 next to 0.0,
imbalanced and tiny classes (n = 1, n = 0), planted localist units, N < 60 and
N < 100, float16 / float32 / float64 input, one analysed class, all-equal units.

Unit measures match to 1e-9 (relative above 1), None must be None, class
columns exactly; class statistics, histograms, top images, precision at an
extra k and the concept measures are compared as well."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from reference import reference_concept, reference_unit

from seldb.measures import compute_block, compute_concept_block

pytestmark = pytest.mark.unit

UNIT_COLS = [
    "n_images",
    "ccmas",
    "ccmas_class",
    "ccmas2",
    "ccmas2_class",
    "ccmas_morcos",
    "precision_60",
    "precision_60_class",
    "precision_100",
    "precision_100_class",
    "n_classes_top100",
    "localist_margin",
    "is_localist",
    "recall_p1",
    "recall_p1_class",
    "recall_p1_threshold",
    "recall_p95",
    "recall_p95_class",
    "recall_p95_threshold",
    "max_informedness",
    "mi_class",
    "mi_threshold",
    "mi_recall",
    "mi_specificity",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "mi_precision",
]
CLASS_COLS = {
    "ccmas_class",
    "ccmas2_class",
    "precision_60_class",
    "precision_100_class",
    "recall_p1_class",
    "recall_p95_class",
    "mi_class",
}
EXACT_COLS = CLASS_COLS | {"n_images", "n_classes_top100", "is_localist"}
CONCEPT_COLS = [
    "n_a",
    "n_not_a",
    "mean_a",
    "mean_not_a",
    "sem_a",
    "sem_not_a",
    "frac_nonzero_a",
    "frac_nonzero_not_a",
    "precision_60",
    "precision_100",
    "ccmas",
    "max_informedness",
    "mi_threshold",
    "mi_recall",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "recall_p1",
    "recall_p95",
]
STAT_COLS = [
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
]
TOP_K = (10, 60, 100)


def _same(got, want, exact=False):
    if want is None or got is None:
        return got is None and want is None
    if exact:  # bools must be bools, ints ints (True == 1 is not a match)
        return isinstance(got, bool) == isinstance(want, bool) and got == want
    if isinstance(got, float) and math.isnan(got):
        return False
    return abs(got - want) <= 1e-9 * max(1.0, abs(want))


def _diff(where, got, want, exact=False):
    return [] if _same(got, want, exact) else [f"{where}: engine {got!r} != reference {want!r}"]


def compare_block(values, labels, K, *, top_k=TOP_K, bins=32):
    """All mismatches between engine and reference for one block, as strings."""
    res = compute_block(values, labels, K, top_k=top_k, bins=bins)
    units = res.units.sort("unit")
    problems = []
    assert units.columns[: len(UNIT_COLS) + 1] == ["unit", *UNIT_COLS], units.columns  # later measures follow
    for c in CLASS_COLS:
        assert units.schema[c] == pl.Int32, (c, units.schema[c])
    assert units.schema["is_localist"] == pl.Boolean
    assert units["unit"].to_list() == list(range(values.shape[1]))
    pk = res.precision_k
    cs = res.class_stats.sort("unit", "class_index")
    hs = res.histograms.sort("unit", "class_index")
    ti = res.top_images.sort("unit", "rank")
    for u in range(values.shape[1]):
        ref = reference_unit(values[:, u], labels, K, top_k=top_k, bins=bins)
        row = units.row(u, named=True)
        for col in UNIT_COLS:
            problems += _diff(f"unit {u} {col}", row[col], ref[col], col in EXACT_COLS)
        # precision at every requested k
        got = {r["k"]: (r["precision"], r["class_index"]) for r in pk.filter(pl.col("unit") == u).iter_rows(named=True)}
        if set(got) != set(top_k):
            problems.append(f"unit {u} precision_k: ks {sorted(got)} != {sorted(top_k)}")
        for k in top_k:
            if k in got:
                problems += _diff(f"unit {u} precision_k k={k}", got[k][0], ref["precision_k"][k][0])
                problems += _diff(f"unit {u} precision_k k={k} class", got[k][1], ref["precision_k"][k][1], True)
        # class statistics
        rows = cs.filter(pl.col("unit") == u).to_dicts()
        if [r["class_index"] for r in rows] != list(range(K)):
            problems.append(f"unit {u} class_stats classes {[r['class_index'] for r in rows]}")
        else:
            for r, s in zip(rows, ref["class_stats"]):
                for col in STAT_COLS:
                    problems += _diff(
                        f"unit {u} class {s['class_index']} {col}", r[col], s[col], col in ("n", "n_nonzero")
                    )
        # histograms
        rows = hs.filter(pl.col("unit") == u).to_dicts()
        if [r["class_index"] for r in rows] != list(range(K)):
            problems.append(f"unit {u} histograms classes {[r['class_index'] for r in rows]}")
        else:
            for r, h in zip(rows, ref["histograms"]):
                w = f"unit {u} hist class {h['class_index']}"
                problems += _diff(w + " bin_lo", r["bin_lo"], h["bin_lo"])
                problems += _diff(w + " bin_width", r["bin_width"], h["bin_width"])
                problems += _diff(w + " n_bins", r["n_bins"], h["n_bins"], True)
                problems += _diff(w + " n_zero", r["n_zero"], h["n_zero"], True)
                if list(r["counts"]) != h["counts"]:
                    problems.append(f"{w} counts {list(r['counts'])} != {h['counts']}")
        # top images
        rows = ti.filter(pl.col("unit") == u).to_dicts()
        want = ref["top_images"]
        if [(r["rank"], r["image_index"], r["class_index"]) for r in rows] != [
            (t["rank"], t["image_index"], t["class_index"]) for t in want
        ]:
            problems.append(
                f"unit {u} top_images order: engine {[r['image_index'] for r in rows][:12]}... "
                f"reference {[t['image_index'] for t in want][:12]}..."
            )
        else:
            for r, t in zip(rows, want):
                problems += _diff(f"unit {u} top rank {t['rank']} activation", r["activation"], t["activation"])
    return problems


def compare_concept(values, labels, K, concept, *, top_k=TOP_K):
    frame = compute_concept_block(values, labels, K, sorted(concept), top_k=top_k).sort("unit")
    assert frame.columns[0] == "unit" and set(CONCEPT_COLS) <= set(frame.columns), frame.columns
    problems = []
    for u in range(values.shape[1]):
        ref = reference_concept(values[:, u], labels, K, concept, top_k=top_k)
        row = frame.row(u, named=True)
        for col in CONCEPT_COLS:
            problems += _diff(
                f"concept {sorted(concept)} unit {u} {col}", row[col], ref[col], col in ("n_a", "n_not_a")
            )
    return problems


def _fail(problems, context):
    if problems:
        shown = "\n  ".join(problems[:25])
        pytest.fail(f"{len(problems)} mismatches ({context}):\n  {shown}")


# ----------------------------------------------------------------------------
# the spec's worked examples, through the engine


@pytest.mark.parametrize("layout", ["blocked", "interleaved"])
def test_worked_examples(layout):
    y = np.repeat(np.arange(10), 100) if layout == "blocked" else np.tile(np.arange(10), 100)
    a = np.zeros((1000, 3))
    a[np.flatnonzero(y == 0)[0], 0] = 1.0  # (a)
    a[:, 1] = np.where(y == 0, 1.0, 0.0)  # (b)
    a[:, 2] = np.where(y == 0, 0.9, 0.8)  # (c)
    u = compute_block(a, y, 10).units.sort("unit").to_dicts()
    ua, ub, uc = u

    def ok(x, v):
        return x is not None and abs(x - v) <= 1e-12

    assert ok(ua["ccmas"], 1.0) and ua["ccmas_class"] == 0
    assert ok(ua["precision_100"], (1 + 99 * 99 / 999) / 100) and ua["precision_100_class"] == 0
    assert ua["localist_margin"] == 0 and ua["is_localist"] is False
    assert ok(ua["recall_p1"], 0.01) and ua["recall_p1_class"] == 0
    assert ok(ua["max_informedness"], 0.01) and ua["mi_class"] == 0 and ua["mi_threshold"] == 1.0

    assert ok(ub["ccmas"], 1.0) and ok(ub["precision_100"], 1.0)
    assert ok(ub["localist_margin"], 1.0) and ub["is_localist"] is True
    assert ok(ub["recall_p1"], 1.0) and ok(ub["max_informedness"], 1.0) and ok(ub["mi_false_alarm_rate"], 0.0)

    assert ok(uc["ccmas"], 0.1 / 1.7) and ok(uc["precision_100"], 1.0) and uc["is_localist"] is True
    assert ok(uc["recall_p1"], 1.0) and ok(uc["max_informedness"], 1.0)

    _fail(compare_block(a, y, 10), f"worked examples, {layout}")


# ----------------------------------------------------------------------------
# random units


def _labels(rng, kind, n):
    if kind == "balanced":
        K = int(rng.integers(2, 11))
        return np.tile(np.arange(K), n // K + 1)[:n][rng.permutation(n)], K
    if kind == "imbalanced":
        K = int(rng.integers(2, 13))
        p = rng.dirichlet(np.full(K, 0.4))
        return rng.choice(K, n, p=p), K
    if kind == "tiny":  # singletons and classes with no image
        K = int(rng.integers(4, 15))
        big = rng.choice(K, size=max(1, K // 3), replace=False)
        y = rng.choice(big, n)
        singles = [c for c in range(K) if c not in big][: max(0, K // 3)]
        for _j, c in enumerate(singles[: n // 2]):
            y[rng.integers(n)] = c
        return y, K
    if kind == "single":
        K = int(rng.integers(1, 5))
        return np.full(n, int(rng.integers(K))), K
    raise ValueError(kind)


def _unit(rng, kind, y, K):
    n = len(y)
    if kind == "levels":
        levels = rng.choice(
            np.array([-2.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 3.0]), int(rng.integers(1, 5)), replace=False
        )
        return rng.choice(levels, n)
    if kind == "sparse":
        a = np.round(rng.exponential(1.0, n), int(rng.integers(0, 3)))
        a[rng.random(n) < 0.8] = 0.0
        return a
    if kind == "signed_zero":
        a = np.where(rng.random(n) < 0.5, 0.0, -0.0)
        m = rng.random(n) < 0.2
        a[m] = rng.choice(np.array([-1.0, 0.5, 2.0]), m.sum())
        return a
    if kind == "normal":
        return rng.normal(0.0, 1.0, n)
    if kind == "localist":
        c = int(rng.choice(np.unique(y)))
        a = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(-1.0, 0.9, n))
        a[y == c] = rng.uniform(1.0, 2.0, (y == c).sum())
        if rng.random() < 0.4 and (y != c).any():  # margin exactly 0
            a[rng.choice(np.flatnonzero(y != c))] = a[y == c].min()
        return a
    if kind == "equal_means":  # classes with the same multiset of values -> tied class means
        a = np.empty(n)
        for c in range(K):
            idx = np.flatnonzero(y == c)
            a[idx] = np.array([0.0, 0.1, 0.7, 0.3, 1.3])[np.arange(len(idx)) % 5]
        return a
    if kind == "constant":
        return np.full(n, rng.choice(np.array([0.0, -0.0, 1.5, -3.0])))
    if kind == "class_shift":
        shift = rng.choice(np.array([0.0, 0.5, 1.0]), K)
        return shift[y] + rng.choice(np.array([0.0, 0.25, 0.5]), n)
    raise ValueError(kind)


UNIT_KINDS = ["levels", "sparse", "signed_zero", "normal", "localist", "equal_means", "constant", "class_shift"]
SIZES = [1, 2, 3, 7, 30, 59, 60, 61, 99, 100, 101, 140, 200]


def _case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.choice(SIZES))
    label_kind = ["balanced", "imbalanced", "tiny", "single"][seed % 4]
    y, K = _labels(rng, label_kind, n)
    kinds = list(rng.choice(UNIT_KINDS, 4, replace=False))
    dtype = [np.float64, np.float32, np.float16][seed % 3]
    vals = np.stack([_unit(rng, k, y, K) for k in kinds], axis=1).astype(dtype)
    return (
        rng,
        vals,
        y.astype(np.int64),
        K,
        f"seed {seed}, N {n}, K {K}, labels {label_kind}, {dtype.__name__}, {kinds}",
    )


@pytest.mark.parametrize("seed", range(96))
def test_random_units_match_reference(seed):
    _, vals, y, K, ctx = _case(seed)
    _fail(compare_block(vals, y, K), ctx)


@pytest.mark.parametrize("seed", range(0, 96, 3))
def test_random_concepts_match_reference(seed):
    rng, vals, y, K, ctx = _case(seed)
    present = np.unique(y)
    problems = []
    for _ in range(2):
        size = int(rng.integers(1, len(present) + 1))
        concept = {int(c) for c in rng.choice(present, size, replace=False)}
        problems += compare_concept(vals, y, K, concept)
    _fail(problems, ctx)


@pytest.mark.parametrize("bins", [1, 3, 32])
def test_histogram_bins(bins):
    rng = np.random.default_rng(100 + bins)
    y = rng.integers(0, 5, 90)
    vals = np.stack([_unit(rng, k, y, 5) for k in ("levels", "normal", "sparse", "constant")], axis=1)
    _fail(compare_block(vals, y, 5, bins=bins), f"bins {bins}")


def test_special_units():
    # N < 60, n = 0 class, n = 1 class, exact zeros of both signs, all-equal unit, ties at the k-th place
    y = np.array([0, 0, 0, 1, 1, 3, 3, 3, 3, 4])  # class 2: none, class 4: one image
    vals = np.array(
        [
            [0.0, -0.0, 0.0, 0.0, -0.0, 0.0, 0.0, -0.0, 0.0, 0.0],  # all zero
            [1.0, 1.0, 0.5, 1.0, 0.5, 0.5, 0.5, 0.0, 0.0, 1.0],  # heavy ties
            [-1.0, -2.0, -3.0, -0.5, -0.5, -4.0, -4.0, -4.0, -4.0, -0.1],  # negatives
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0],  # single-image localist class
            [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # planted localist
        ]
    ).T
    for dtype in (np.float64, np.float32, np.float16):
        _fail(compare_block(vals.astype(dtype), y, 5, top_k=(1, 3, 9, 10, 60, 100)), dtype.__name__)
    _fail(compare_concept(vals, y, 5, {0, 4}), "concept {0,4}")
    _fail(compare_concept(vals, y, 5, {0, 1, 3, 4}), "concept = every analysed class")


def test_single_analysed_class_and_single_image():
    y = np.full(5, 2)
    vals = np.array([[0.5, 0.2, 0.9, 0.2, 0.0], [1.0] * 5]).T
    _fail(compare_block(vals, y, 4), "single analysed class")
    _fail(compare_block(np.array([[0.3, -0.0]]), np.array([1]), 3), "one image")


@pytest.mark.parametrize("seed", range(16))
def test_rounding_edges_match_reference(seed):
    """Float rounding corners: decimal activations that land on histogram bin
    edges, classes with the same multiset of non-dyadic values in different
    orders (class means tied within 1e-12 whatever the summation order), class
    means that cancel exactly (the CCMAS NULL rule), narrow label dtypes, and a
    concept whose only class has no analysed image."""
    rng = np.random.default_rng(10_000 + seed)
    n, K = int(rng.integers(1, 260)), int(rng.integers(2, 8))
    y = rng.integers(0, K - 1 if seed % 2 else K, n).astype([np.int32, np.uint8, np.int64][seed % 3])
    shuffled = np.empty(n)
    base = np.array([0.1, 0.7, 0.3, 1.3, 0.2, 0.6])
    for c in range(K):
        idx = np.flatnonzero(y == c)
        shuffled[idx] = rng.permutation(base[np.arange(len(idx)) % 6])
    vals = np.stack(
        [
            np.round(rng.uniform(-1, 2, n), 1),
            np.round(rng.uniform(-0.37, 0.91, n), 2),
            shuffled,
            np.where(y == 0, 0.1, -0.1) * rng.choice([1.0, 3.0], n),
        ],
        axis=1,
    )
    problems = compare_block(vals, y, K, bins=int(rng.choice([7, 10, 30, 32])))
    empty = [c for c in range(K) if not (y == c).any()]
    if empty:
        problems += compare_concept(vals, y, K, {empty[0]})
    _fail(problems, f"seed {seed}, N {n}, K {K}")
