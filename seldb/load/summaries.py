"""Per-(run, layer, class) summaries, computed at import so that whole-run aggregates are instant.

A BI tool's first question of a run ("which classes do the units of fc6
prefer? how many units claim each class?") would otherwise unnest
classes x units per-class arrays: seconds to minutes at AlexNet scale. The
importer already holds every block's per-class statistics, so it folds them
here into one row per (layer, class), over the layer's live (not dead)
units, and COPYs those rows beside the run: seldb.layer_class_summary.

Blocks are merged with Chan et al.'s pairwise update of (count, mean, M2), so
the standard deviation is as accurate as a two-pass computation whatever the
order and size of the blocks. Revision 0004 computes the same numbers in SQL
for runs imported before it (a test checks that both agree).

The pairwise correlations between measures across a layer's units (the
paper's Table A2, seldb.measure_correlations) are computed here too, from
the per-unit rows the import already holds.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from seldb import catalogue
from seldb.measures import BlockResult

CLAIM = 0.75  # Zhou et al. 2015's precision criterion, as seldb.detector_claims
COUNTED_CLASSES = {
    "n_ccmas_class": "ccmas_class",
    "n_precision_60_class": "precision_60_class",
    "n_mi_class": "mi_class",
}


@dataclass
class ClassSummary:
    """Running per-class numbers of one layer (arrays of length K)."""

    n_units: int
    n_live_units: int
    count: np.ndarray  # live units whose class mean exists
    mean: np.ndarray  # mean over those units of the class mean
    m2: np.ndarray  # sum of squared deviations from `mean`
    max_of_means: np.ndarray
    frac_nonzero_sum: np.ndarray
    max_class_informedness: np.ndarray
    counts: dict[str, np.ndarray]  # n_ccmas_class, n_precision_60_class, n_mi_class, n_claimed
    n_zero: np.ndarray

    @classmethod
    def of_block(cls, result: BlockResult, units: pl.DataFrame, class_n: np.ndarray) -> ClassSummary:
        """The summary of one block's units (`units`: the block's rows of unit_measures, in order)."""
        live = ~units["is_dead"].to_numpy()
        means = result.stats.mean[live]
        count = (~np.isnan(means)).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, np.nansum(means, axis=0) / count, np.nan)
            m2 = np.nansum((means - mean) ** 2, axis=0)
            frac = result.stats.n_nonzero[live] / np.where(class_n > 0, class_n, np.nan)
        n_classes = class_n.size
        counts = {
            name: _class_counts(units.filter(pl.Series(live)), column, n_classes)
            for name, column in COUNTED_CLASSES.items()
        }
        claims = units.filter(pl.Series(live) & (pl.col("precision_60") > CLAIM))
        counts["n_claimed"] = _class_counts(claims, "precision_60_class", n_classes)
        return cls(
            len(units),
            int(live.sum()),
            count,
            mean,
            m2,
            _nanmax(means),
            np.nansum(frac, axis=0),
            _nanmax(result.swept.mi[live]),
            counts,
            result.stats.n_zero.sum(axis=0),
        )

    def merge(self, other: ClassSummary) -> ClassSummary:
        count = self.count + other.count
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = other.mean - self.mean
            mean = np.where(
                other.count == 0,
                self.mean,
                np.where(self.count == 0, other.mean, self.mean + delta * other.count / count),
            )
            m2 = (
                self.m2
                + other.m2
                + np.where((self.count > 0) & (other.count > 0), delta**2 * self.count * other.count / count, 0.0)
            )
        return ClassSummary(
            self.n_units + other.n_units,
            self.n_live_units + other.n_live_units,
            count,
            mean,
            m2,
            np.fmax(self.max_of_means, other.max_of_means),
            self.frac_nonzero_sum + other.frac_nonzero_sum,
            np.fmax(self.max_class_informedness, other.max_class_informedness),
            {name: self.counts[name] + other.counts[name] for name in self.counts},
            self.n_zero + other.n_zero,
        )

    def rows(self, run_id: int, layer_id: int) -> list[tuple]:
        """One row per class, in seldb_store.layer_class_summary's column order (NaN for no value)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.where(self.count > 1, np.sqrt(self.m2 / (self.count - 1)), np.nan)
            frac = np.where(self.count > 0, self.frac_nonzero_sum / max(self.n_live_units, 1), np.nan)
        names = ("n_ccmas_class", "n_precision_60_class", "n_mi_class", "n_claimed")
        return [
            (
                run_id,
                layer_id,
                c,
                self.n_units,
                self.n_live_units,
                *_floats(self.mean[c], sd[c], self.max_of_means[c], frac[c], self.max_class_informedness[c]),
                *[int(self.counts[n][c]) for n in names],
                int(self.n_zero[c]),
            )
            for c in range(self.count.size)
        ]


def _class_counts(units: pl.DataFrame, column: str, n_classes: int) -> np.ndarray:
    chosen = units[column].drop_nulls().to_numpy().astype(np.int64)
    return np.bincount(chosen, minlength=n_classes)


def _nanmax(values: np.ndarray) -> np.ndarray:
    """Column maxima ignoring NaN; NaN where a column has no value (and no warning)."""
    if values.shape[0] == 0:
        return np.full(values.shape[1], np.nan)
    filled = np.where(np.isnan(values), -np.inf, values).max(axis=0)
    return np.where(np.isneginf(filled), np.nan, filled)


def _floats(*values) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def correlate(a: np.ndarray, b: np.ndarray) -> dict:
    """Pearson and Spearman between two columns (NaN = NULL, dropped pairwise)."""
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    row: dict[str, float | int | None] = {"n_units": int(a.size)}
    row |= {"pearson_r": None, "pearson_p": None, "spearman_rho": None, "spearman_p": None}
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return row
    from scipy import stats  # scipy.stats takes a second to import: only when a run is measured

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
