"""Target-set measures: a concept (a set of classes) against everything else.

A concept is measured as a two-class problem, A versus not-A, pooled over
images, by the same passes as the per-class measures (measures.md,
"Target-set measures"); this answers the paper's Tables A3-A5.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import polars as pl

from seldb import catalogue
from seldb.measures.block import prepare_block
from seldb.measures.classstats import class_stats
from seldb.measures.compute import DEFAULT_K, P_LEVELS, measure_engine, nan_to_null, p_name, sweep_and_counts
from seldb.measures.per_unit import class_ccmas

A, NOT_A = 1, 0

_concept_labels: list[tuple[np.ndarray, tuple[int, ...], np.ndarray]] = []  # the last few, by identity
_concept_lock = threading.Lock()


def _in_concept(labels, concept_classes) -> np.ndarray:
    """1 where an image's class is in the concept: one array per (layer's labels, concept), so that
    the compiled kernel lays it out once per layer, not once per block."""
    key = tuple(int(c) for c in concept_classes)
    with _concept_lock:
        for known, classes, in_a in _concept_labels:
            if known is labels and classes == key:
                return in_a
    in_a = np.isin(np.asarray(labels), np.asarray(key, dtype=np.int64)).astype(np.int64)
    with _concept_lock:
        _concept_labels.insert(0, (labels, key, in_a))
        del _concept_labels[8:]
    return in_a


def compiled_concept_parts(values: np.ndarray, in_a: np.ndarray, top_k):
    """(ClassStats, Sweep, [TopKCounts]) of A against not-A from the kernel; None where it does not apply."""
    from seldb.measures import kernel_block as kernel

    x32 = kernel.float32_units(values)
    if x32 is None or values.shape[0] == 0:
        return None
    layout = kernel.layout_of(in_a, 2, None)
    every_k = sorted(set(top_k) | set(DEFAULT_K))
    stats, swept, counts, _, _, _ = kernel.compiled_parts(x32, layout, every_k, P_LEVELS, 1, 1)
    return stats, swept, counts


def compute_concept_block(
    values: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    concept_classes: Sequence[int],
    *,
    top_k: Sequence[int] = DEFAULT_K,
) -> pl.DataFrame:
    """One row per unit: the concept's measures (views.md, seldb.concept_measures)."""
    in_a = _in_concept(labels, concept_classes)
    n_units = values.shape[1]
    parts = compiled_concept_parts(values, in_a, top_k) if n_units and measure_engine() == "numba" else None
    if parts is None:
        block = prepare_block(values, in_a, 2)
        stats = class_stats(block)
        swept, counts = sweep_and_counts(block, top_k, P_LEVELS)
    else:
        stats, swept, counts = parts
    n_a, n_not = int(stats.n[A]), int(stats.n[NOT_A])
    with np.errstate(divide="ignore", invalid="ignore"):
        tp, selected = swept.mi_tp[:, A], swept.mi_selected[:, A]
        columns = {
            "unit": np.arange(n_units, dtype=np.int32),
            "n_a": np.full(n_units, n_a),
            "n_not_a": np.full(n_units, n_not),
            "mean_a": stats.mean[:, A],
            "mean_not_a": stats.mean[:, NOT_A],
            "sem_a": stats.std[:, A] / np.sqrt(n_a),
            "sem_not_a": stats.std[:, NOT_A] / np.sqrt(n_not),
            "frac_nonzero_a": stats.n_nonzero[:, A] / n_a if n_a else np.full(n_units, np.nan),
            "frac_nonzero_not_a": stats.n_nonzero[:, NOT_A] / n_not if n_not else np.full(n_units, np.nan),
        }
        for c in counts:
            if c.k_requested in DEFAULT_K:
                columns[f"precision_{c.k_requested}"] = c.scaled[:, A] / (c.tie_size * c.k) if n_a else np.nan
        columns["max_informedness"] = swept.mi[:, A]
        columns["mi_threshold"] = swept.mi_threshold[:, A]
        columns["mi_recall"] = tp / n_a
        columns["mi_false_alarm_rate"] = (selected - tp) / n_not if n_not else np.nan
        columns["mi_false_discovery_rate"] = (selected - tp) / selected
        for p in P_LEVELS:
            recall = swept.recall_p[p][0][:, A]
            columns[p_name(p)] = np.where(recall < 0, 0.0, recall)
    frame = nan_to_null(pl.DataFrame({k: np.broadcast_to(v, (n_units,)) for k, v in columns.items()}))
    ccmas = class_ccmas(pl.col("mean_a"), pl.col("mean_not_a")).alias("ccmas")
    return frame.with_columns(ccmas).select("unit", *catalogue.names(catalogue.CONCEPT_MEASURES))
