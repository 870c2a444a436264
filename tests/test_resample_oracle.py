"""The fast replicate path against `compute_block` run on explicitly resampled data.

For every replicate, the oracle builds the resampled data set itself: for the
bootstrap, each image repeated as many times as it was drawn (copies keep
their image index, so ties order as in measures.md), for the chance baseline
the permuted labels; then calls compute_block and compares every scalar
measure and class. Values are multiples of 1/8 so every sum is exact: all
numbers must match bit for bit, except ccmas_morcos (polars and numpy sum the
class means in different orders; 1e-9 relative). Units are built to hit ties,
~70% exact zeros, negatives, absent classes, N < 60 and a single class.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seldb.measures import compute_block
from seldb.measures.resampling.block_replicates import replicates_for
from seldb.measures.resampling.draws import BOOTSTRAP, PERMUTATION, Draws
from seldb.measures.resampling.unit_replicates import VALUE_MEASURES

pytestmark = pytest.mark.unit
REPLICATES = 6


def random_layer(seed: int):
    rng = np.random.default_rng(seed)
    n, k, units = int(rng.integers(3, 260)), int(rng.integers(1, 7)), int(rng.integers(1, 5))
    labels = rng.integers(0, k, n)
    if rng.random() < 0.5:
        values = rng.choice(np.array([0, 0, 0, 0.5, 1, 1.5, 2, -1, 3.25, 0.125, -0.375]), (n, units))
    else:
        values = np.round(rng.normal(0, 1, (n, units)) * 8) / 8
    if rng.random() < 0.3:
        values[rng.random((n, units)) < 0.7] = 0.0
    if rng.random() < 0.2:  # a planted localist unit
        values[:, 0] = np.where(labels == labels[0], 2.0, 0.0)
    return values.astype(np.float32 if rng.random() < 0.5 else np.float64), labels, k


def _same(got: float, want, measure: str) -> bool:
    if want is None:
        return math.isnan(got)
    want = float(want)
    if measure == "ccmas_morcos":
        return abs(got - want) <= 1e-9 * max(1.0, abs(want))
    return got == want


def mismatches(values, labels, k, kind, seed):
    rep = replicates_for(values, labels, k, kind, REPLICATES, seed)
    draws = Draws(labels, k, seed)
    problems = []
    for r in range(REPLICATES):
        if kind == BOOTSTRAP:
            rows = np.repeat(np.arange(labels.size), draws.bootstrap_counts(r))
            oracle = compute_block(values[rows], labels[rows], k, image_index=rows).units
        else:
            oracle = compute_block(values, draws.permuted_labels(r), k).units
        for u in range(values.shape[1]):
            row = oracle.row(u, named=True)
            for measure in VALUE_MEASURES:
                if not _same(float(rep.values[measure][u, r]), row[measure], measure):
                    problems.append(f"r{r} u{u} {measure}: {rep.values[measure][u, r]!r} != {row[measure]!r}")
            for column, got in rep.classes.items():
                want = -1 if row[column] is None else row[column]
                if int(got[u, r]) != want:
                    problems.append(f"r{r} u{u} {column}: {int(got[u, r])} != {want}")
    return problems


@pytest.mark.parametrize("kind", [BOOTSTRAP, PERMUTATION])
@pytest.mark.parametrize("seed", range(60))
def test_replicates_match_compute_block_on_resampled_data(kind, seed):
    values, labels, k = random_layer(seed)
    assert mismatches(values, labels, k, kind, seed) == []


@pytest.mark.parametrize("kind", [BOOTSTRAP, PERMUTATION])
def test_tie_order_follows_image_index_not_row_order(kind):
    # Rows given in an order unlike their image indices: ties must follow the indices.
    rng = np.random.default_rng(7)
    values = rng.choice(np.array([0.0, 1.0, 2.0]), (150, 3))
    labels = rng.integers(0, 4, 150)
    index = rng.permutation(150) * 3 + 11
    rep = replicates_for(values, labels, 4, kind, 4, 5, image_index=index)
    draws = Draws(labels, 4, 5)
    for r in range(4):
        if kind == BOOTSTRAP:
            rows = np.repeat(np.arange(150), draws.bootstrap_counts(r))
            oracle = compute_block(values[rows], labels[rows], 4, image_index=index[rows]).units
        else:
            oracle = compute_block(values, draws.permuted_labels(r), 4, image_index=index).units
        for column in ("precision_60_class", "precision_100_class"):
            assert rep.classes[column][:, r].tolist() == oracle[column].fill_null(-1).to_list()


def test_continuous_values_agree_to_rounding():
    # Non-dyadic float32 activations: sums differ only in summation order.
    rng = np.random.default_rng(11)
    values = rng.gamma(1.5, 1.0, (400, 3)).astype(np.float32)
    values[rng.random((400, 3)) < 0.6] = 0
    labels = rng.integers(0, 8, 400)
    rep = replicates_for(values, labels, 8, BOOTSTRAP, 5, 3)
    draws = Draws(labels, 8, 3)
    for r in range(5):
        rows = np.repeat(np.arange(400), draws.bootstrap_counts(r))
        oracle = compute_block(values[rows], labels[rows], 8, image_index=rows).units
        for measure in VALUE_MEASURES:
            want = oracle[measure].cast(float).to_numpy()
            np.testing.assert_allclose(rep.values[measure][:, r], want, rtol=1e-12, atol=1e-12, err_msg=measure)
