"""Pairwise correlations between measures across units (the paper's Table A2).

Computed once at import, from the same per-unit rows that seldb.unit_measures
shows, because p-values need the t distribution, which PostgreSQL lacks.
Rows with a NULL in either measure are dropped pair by pair; Spearman uses
average ranks for ties; r and p are NULL when either column is constant.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import polars as pl
from scipy import stats

from seldb import catalogue


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def correlate(a: np.ndarray, b: np.ndarray) -> dict:
    """Pearson and Spearman between two columns (NaN = NULL, dropped pairwise)."""
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    row = {"n_units": int(a.size), "pearson_r": None, "pearson_p": None, "spearman_rho": None, "spearman_p": None}
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = stats.pearsonr(a, b)
        spearman = stats.spearmanr(a, b)
    row.update(
        pearson_r=_finite(pearson.statistic),
        pearson_p=_finite(pearson.pvalue),
        spearman_rho=_finite(spearman.statistic),
        spearman_p=_finite(spearman.pvalue),
    )
    return row


def correlation_rows(units: pl.DataFrame, layer_id: int | None) -> list[dict]:
    """One row per pair of the catalogue's correlated measures, (a, b) in report order, over the given
    units (layer_id None = all layers)."""
    measures = catalogue.correlated()
    columns = {m: units[m].cast(pl.Float64).fill_null(np.nan).to_numpy() for m in measures}
    return [
        {"layer_id": layer_id, "measure_a": a, "measure_b": b, **correlate(columns[a], columns[b])}
        for a, b in itertools.combinations(measures, 2)
    ]
