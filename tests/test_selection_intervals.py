"""Selection-aware intervals for the best-class measures (issue 25), against brute force and by hand.

CCMAS's bootstrap optimism is recomputed here from its definition (a
replicate's CCMAS minus the original images' CCMAS of the class that replicate
chose); the selection hull and the stable-class percentile rule are checked on
replicates whose quantiles are known exactly; and on a layer of units with no
class dependence, the q-value rule leaves no CCMAS interval valid where a
per-unit p <= 0.05 would have passed about one in twenty.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from seldb.measures.resampling.block_replicates import replicates_for
from seldb.measures.resampling.estimates import UncertaintyOptions, measure_uncertainty
from seldb.measures.resampling.intervals import selection_hull, stable_percentile
from seldb.measures.resampling.passes import engine as pick_engine
from seldb.measures.resampling.validity import NO_EFFECT, combined_validity

pytestmark = pytest.mark.unit


def _brute_ccmas_by_class(column: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """measures.md's CCMAS of every class c (its mean against the other images pooled) and Morcos'
    (against the mean of the other classes' means), with plain loops."""
    means = np.array([column[labels == c].mean() for c in range(k)])
    pooled = np.array([column[labels != c].mean() for c in range(k)])
    others = np.array([np.delete(means, c).mean() for c in range(k)])
    return (means - pooled) / (means + pooled), (means - others) / (means + others)


ENGINES = ["numpy"] + (["numba"] if pick_engine(None) == "numba" else [])


@pytest.mark.parametrize("engine", ENGINES)
def test_ccmas_optimism_is_the_replicate_minus_the_sample_at_the_replicates_class(engine):
    rng = np.random.default_rng(3)
    k = 5
    labels = np.repeat(np.arange(k), [20, 25, 18, 22, 15])  # unequal sizes: the two forms differ
    values = np.maximum(rng.normal(0.2 * (labels == 1)[:, None], 1.0, (labels.size, 4)), 0.0)
    values[:, 3] = rng.gamma(2.0, 1.0, labels.size)  # no exact zeros
    boot = replicates_for(values, labels, k, "bootstrap", 40, seed=9, engine=engine)
    for unit in range(values.shape[1]):
        ccmas, morcos = _brute_ccmas_by_class(values[:, unit], labels, k)
        chosen = boot.classes["ccmas_class"][unit]
        assert (chosen >= 0).all()
        want = boot.values["ccmas"][unit] - ccmas[chosen]
        np.testing.assert_allclose(boot.optimism["ccmas"][unit], want, rtol=0, atol=1e-12)
        want = boot.values["ccmas_morcos"][unit] - morcos[chosen]
        np.testing.assert_allclose(boot.optimism["ccmas_morcos"][unit], want, rtol=0, atol=1e-12)


def test_selection_hull_by_hand():
    # replicates 0.5..0.6 in 101 steps: percentile [0.5025, 0.5975]; estimate 0.55, so the basic
    # interval is the same; optimism 0.1..0.3: [0.55 - 0.295, 0.55 - 0.105] = [0.255, 0.445]
    replicates = 0.5 + np.arange(101.0)[None, :] / 1000
    optimism = 0.1 + np.arange(101.0)[None, :] / 500
    lo, hi, bias, used = selection_hull(np.array([0.55]), replicates, optimism, 0.95, (-1.0, 1.0))
    assert lo.tolist() == pytest.approx([0.255]) and hi.tolist() == pytest.approx([0.5975])
    assert bias.tolist() == pytest.approx([0.2]) and used.tolist() == [101]
    # clipped to the range: estimate -0.9 with the same optimism reaches below -1
    lo, _, _, _ = selection_hull(np.array([-0.9]), replicates - 1.4, optimism, 0.95, (-1.0, 1.0))
    assert lo.tolist() == [-1.0]


def test_stable_percentile_by_hand():
    replicates = np.tile(np.arange(101.0) / 100, (3, 1))  # percentile [0.025, 0.975] in every row
    lo, hi = np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0])
    got_lo, got_hi, stable = stable_percentile(lo, hi, replicates, np.array([0.9, 0.89, np.nan]), 0.95, 0.9)
    assert stable.tolist() == [True, False, False]
    assert got_lo.tolist() == pytest.approx([0.025, 0.0, 0.0]) and got_hi.tolist() == pytest.approx([0.975, 1.0, 1.0])


@pytest.fixture(scope="module")
def null_layer():
    """300 units with no class dependence (ReLU(N(-0.8, 1)), 10 classes x 100 images), both halves."""
    labels = np.repeat(np.arange(10), 100)
    values = np.maximum(np.random.default_rng(21).normal(-0.8, 1.0, (labels.size, 300)), 0.0)
    options = UncertaintyOptions(bootstrap=200, permutations=200, seed=22, block_units=100)
    result = measure_uncertainty(values, labels, 10, options)
    return result.intervals.join(result.chance.select("unit", "measure", "p", "q"), on=["unit", "measure"])


def test_ccmas_intervals_of_null_units_hold_zero_far_more_often_than_the_old_hull(null_layer):
    rows = null_layer.filter(pl.col("measure") == "ccmas")
    assert (rows["estimate"] > 0).all()  # the best of ten class means: always above the population's 0
    held = ((rows["lo"] <= 0) & (rows["hi"] >= 0)).mean()
    assert held >= 0.85, held  # 92% in benchmarks/calibration.py; the percentile-basic hull: about 67%


def test_no_ccmas_interval_of_a_null_layer_is_valid_while_p_would_pass_some(null_layer):
    rows = null_layer.filter(pl.col("measure") == "ccmas")
    shown = [combined_validity("ccmas", v, r, q) for v, r, q in rows.select("valid", "reason", "q").rows()]
    assert all(s == (False, NO_EFFECT) for s in shown)
    assert 5 <= (rows["p"] <= 0.05).sum() <= 30  # a per-unit 5% test lets about 15 of 300 through
    held = rows.filter(pl.col("p") <= 0.05)
    assert ((held["lo"] <= 0) & (held["hi"] >= 0)).mean() < 0.5  # and those intervals miss


def test_precision_k_takes_the_percentile_interval_where_its_class_is_stable():
    labels = np.repeat(np.arange(10), 100)
    rng = np.random.default_rng(23)
    values = np.maximum(rng.normal(-0.8, 1.0, (labels.size, 40)), 0.0)
    values[labels == 0, :20] += 3.0  # units 0-19: class 0 far ahead
    result = measure_uncertainty(values, labels, 10, UncertaintyOptions(bootstrap=100, permutations=0, seed=24))
    rows = result.intervals.filter(pl.col("measure") == "precision_60").sort("unit")
    stable = rows["class_stability"].to_numpy() >= 0.9
    assert stable[:20].all() and not stable[20:].any()
    assert rows["method"].to_list() == ["percentile"] * 20 + ["hull"] * 20
    boot = measure_uncertainty(
        values, labels, 10, UncertaintyOptions(bootstrap=100, permutations=0, seed=24), keep_replicates=True
    ).bootstrap
    q_lo, q_hi = np.quantile(boot.values["precision_60"][:20], [0.025, 0.975], axis=1)
    np.testing.assert_allclose(rows["lo"][:20], q_lo) and np.testing.assert_allclose(rows["hi"][:20], q_hi)
