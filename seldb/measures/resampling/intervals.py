"""Summaries of replicates: percentile intervals, permutation p-values, BH q-values.

Pure functions over (units, replicates) arrays; NaN marks a replicate in
which the measure is NULL and is left out (the count of replicates used is
reported beside every summary).
"""

from __future__ import annotations

import numpy as np

from seldb.errors import InputError

# Measures for which a smaller value means a more selective unit; the chance
# test for them counts null values <= the observed one.
SMALLER_IS_SELECTIVE = frozenset({"mi_false_alarm_rate", "mi_false_discovery_rate", "n_classes_top100"})


def direction(measure: str) -> str:
    return "less" if measure in SMALLER_IS_SELECTIVE else "greater"


def check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise InputError(f"--level must lie strictly between 0 and 1, got {level}")
    return float(level)


def rowwise_quantiles(x: np.ndarray, qs: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(len(qs), rows) quantiles of each row's non-NaN values (numpy's default: linear between
    order statistics), NaN for a row with none; and the number of values used per row."""
    valid = ~np.isnan(x)
    used = valid.sum(axis=1)
    out = np.full((len(qs), x.shape[0]), np.nan)
    full = used == x.shape[1]
    if full.any() and x.shape[1]:
        out[:, full] = np.quantile(x[full], qs, axis=1)
    for row in np.flatnonzero(~full & (used > 0)):
        out[:, row] = np.quantile(x[row, valid[row]], qs)
    return out, used


def percentile_interval(replicates: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the (1 - level)/2 and (1 + level)/2 quantiles of the non-NaN replicates, and their count."""
    level = check_level(level)
    (lo, hi), used = rowwise_quantiles(replicates, [(1 - level) / 2, (1 + level) / 2])
    return lo, hi, used


def optimism_interval(estimate: np.ndarray, optimism: np.ndarray, level: float, bounds=(0.0, 1.0)):
    """Interval for a maximum over thresholds and classes, corrected for its selection bias.

    optimism[u, r] = replicate r's maximum minus the original sample's value at the class and
    threshold replicate r chose (Efron's bootstrap optimism: how much a choice made on a sample
    overstates that choice's value). Its distribution stands in for that of (estimate - population
    value), so the interval is [estimate - q_hi, estimate - q_lo] of the optimism (a basic
    bootstrap interval with the optimism as its root), clipped to the measure's range. Also
    returns the mean optimism (the estimated bias) and the replicates used."""
    level = check_level(level)
    (q_lo, q_hi), used = rowwise_quantiles(optimism, [(1 - level) / 2, (1 + level) / 2])
    with np.errstate(invalid="ignore"):
        bias = np.where(used > 0, np.nansum(optimism, axis=1) / np.maximum(used, 1), np.nan)
    lo, hi = np.clip(estimate - q_hi, *bounds), np.clip(estimate - q_lo, *bounds)
    return lo, hi, bias, used


def hull_interval(estimate: np.ndarray, replicates: np.ndarray, optimism: np.ndarray, level: float):
    """The hull of the optimism interval and the percentile interval of the replicates.

    For a maximum over thresholds and classes the optimism interval is right where one class
    clearly leads, but over-corrects weak units (a quarter of its intervals lie wholly below the
    population value) while the percentile interval covers those and misses strong ones from
    above; in the calibration suite (benchmarks/calibration.py) their hull covers 93-97% of both.
    Returns lo, hi, the mean optimism (the estimated bias) and the replicates used."""
    lo, hi, bias, used = optimism_interval(estimate, optimism, level)
    p_lo, p_hi, _ = percentile_interval(replicates, level)
    return np.fmin(lo, p_lo), np.fmax(hi, p_hi), bias, used


def percentile_basic_hull(estimate: np.ndarray, replicates: np.ndarray, level: float, bounds=(0.0, 1.0)):
    """The hull of the percentile interval [q_lo, q_hi] and the basic interval
    [2 estimate - q_hi, 2 estimate - q_lo], clipped to the measure's range, and the replicates used.

    For a measure that takes the best class (precision_k, CCMAS, recall at precision p) the
    replicates sit above the estimate as the estimate sits above the population value when the
    maximum over classes (or over the other classes' images) is doing the work, which the basic
    interval mirrors, and around it when one class clearly leads, where the percentile interval is
    right; the calibration suite (benchmarks/calibration.py) measures what the hull covers."""
    lo, hi, used = percentile_interval(replicates, level)
    basic_lo, basic_hi = 2 * estimate - hi, 2 * estimate - lo
    return np.clip(np.fmin(lo, basic_lo), *bounds), np.clip(np.fmax(hi, basic_hi), *bounds), used


def selection_hull(estimate: np.ndarray, replicates: np.ndarray, optimism: np.ndarray, level: float, bounds):
    """The hull of the percentile, basic and optimism intervals, clipped to the measure's range; the
    mean optimism (the estimated bias) and the replicates used.

    For CCMAS: on a unit with no class dependence the percentile and basic intervals of the class
    with the highest mean held the population value (0) in about two thirds of samples, the
    optimism interval in about 92%, and on a weak unit the optimism interval alone covered 69%
    (benchmarks/calibration.py); the hull keeps each where it is right."""
    lo, hi, used = percentile_basic_hull(estimate, replicates, level, bounds)
    o_lo, o_hi, bias, _ = optimism_interval(estimate, optimism, level, bounds)
    return np.fmin(lo, o_lo), np.fmax(hi, o_hi), bias, used


def stable_percentile(lo, hi, replicates: np.ndarray, stability: np.ndarray, level: float, share: float):
    """The percentile interval where the replicates chose the point estimate's class in at least
    `share` of replicates (the maximum over classes is not doing the work), else [lo, hi]; and
    which rows took the percentile interval."""
    p_lo, p_hi, _ = percentile_interval(replicates, level)
    stable = np.nan_to_num(stability, nan=0.0) >= share
    return np.where(stable, p_lo, lo), np.where(stable, p_hi, hi), stable


def class_stability(point_class: np.ndarray, replicate_classes: np.ndarray) -> np.ndarray:
    """Share of replicates whose class equals the point estimate's; NaN where the point has none."""
    same = (replicate_classes == point_class[:, None]).mean(axis=1)
    return np.where(point_class >= 0, same, np.nan)


def permutation_p(observed: np.ndarray, null: np.ndarray, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """(1 + #{null at least as extreme}) / (1 + #null), per unit; NaN where observed is NaN.

    At least as extreme: null >= observed, or <= for SMALLER_IS_SELECTIVE measures. Ties count as
    extreme, so for measures with many tied values the p-value is conservative (never too small)."""
    valid = ~np.isnan(null)
    if direction(measure) == "less":
        extreme = valid & (null <= observed[:, None])
    else:
        extreme = valid & (null >= observed[:, None])
    used = valid.sum(axis=1)
    p = (1.0 + extreme.sum(axis=1)) / (1.0 + used)
    return np.where(np.isnan(observed), np.nan, p), used


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over the non-NaN entries (NaN stays NaN)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    m = ok.size
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q


NULL_QUANTILES = {"null_p01": 0.01, "null_p05": 0.05, "null_p95": 0.95, "null_p99": 0.99}


def null_summary(null: np.ndarray) -> dict[str, np.ndarray]:
    """Per row: mean and the 1st, 5th, 95th, 99th percentiles of the non-NaN null values."""
    quantiles, used = rowwise_quantiles(null, list(NULL_QUANTILES.values()))
    with np.errstate(invalid="ignore"):
        mean = np.where(used > 0, np.nansum(null, axis=1) / np.maximum(used, 1), np.nan)
    return {"null_mean": mean, **dict(zip(NULL_QUANTILES, quantiles))}
