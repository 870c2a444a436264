"""The Python side of the compiled kernel: a layer's layout once, a block's arrays, one call.

seldb.measures.kernel holds the numba loops; this module prepares what they
read (the class order of a layer's images and the ranks of their indices,
shared by every block of the layer), allocates what they fill, with the
numpy passes' dtypes and fill values, and wraps the result in the numpy
passes' own dataclasses, so that everything downstream is the same code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from seldb.measures.classstats import ClassStats, Histograms
from seldb.measures.kernel import measure_units
from seldb.measures.sweep import Sweep
from seldb.measures.topk import TopImages, TopKCounts


@dataclass
class Layout:
    """What every block of a layer shares: the class-contiguous order of its images and their ranks.

    Built once per (labels, image_index) pair: the import hands every block the same two arrays."""

    labels: np.ndarray
    image_index: np.ndarray | None
    order: np.ndarray | None  # None: labels already grouped by class
    class_start: np.ndarray
    class_n: np.ndarray
    label_of_pos: np.ndarray
    image_of_pos: np.ndarray
    rank_of_pos: np.ndarray
    pos_of_rank: np.ndarray
    label_of_rank: np.ndarray  # int32: the sweep's per-value lookup stays in cache
    rank_bits: int


def _make_layout(labels: np.ndarray, n_classes: int, image_index: np.ndarray | None) -> Layout:
    labels64 = np.asarray(labels, dtype=np.int64)
    grouped = bool(np.all(labels64[:-1] <= labels64[1:]))
    order = None if grouped else np.argsort(labels64, kind="stable")
    rows = np.arange(labels64.size) if image_index is None else np.asarray(image_index, dtype=np.int64)
    label_of_pos = labels64 if order is None else labels64[order]
    image_of_pos = rows if order is None else rows[order]
    class_n = np.bincount(labels64, minlength=n_classes).astype(np.int64)
    pos_of_rank = np.argsort(image_of_pos, kind="stable")
    rank_of_pos = np.empty_like(pos_of_rank)
    rank_of_pos[pos_of_rank] = np.arange(pos_of_rank.size)
    return Layout(
        labels,
        image_index,
        order,
        np.concatenate([[0], np.cumsum(class_n)[:-1]]).astype(np.int64),
        class_n,
        np.ascontiguousarray(label_of_pos),
        np.ascontiguousarray(image_of_pos),
        rank_of_pos,
        pos_of_rank,
        label_of_pos[pos_of_rank].astype(np.int32),
        max(1, int(labels64.size - 1).bit_length()),
    )


_layouts: list[tuple[int, Layout]] = []  # the last few layouts, keyed by n_classes and the arrays' identity
_layout_lock = threading.Lock()


def layout_of(labels: np.ndarray, n_classes: int, image_index: np.ndarray | None) -> Layout:
    with _layout_lock:
        for k, found in _layouts:
            if k == n_classes and found.labels is labels and found.image_index is image_index:
                return found
    made = _make_layout(labels, n_classes, image_index)
    with _layout_lock:
        _layouts.insert(0, (n_classes, made))
        del _layouts[4:]
    return made


def float32_units(values: np.ndarray) -> np.ndarray | None:
    """(units, images) float32 C-contiguous view or copy of `values` (images, units); None when the
    activations need float64 (the numpy path takes those)."""
    x = values.T
    if x.dtype == np.float64:
        x32 = x.astype(np.float32)
        if not np.array_equal(x32, x):
            return None
        return x32
    if x.dtype != np.float32:
        x = x.astype(np.float32)
    return np.ascontiguousarray(x)


def compiled_parts(x32: np.ndarray, layout: Layout, ks, p_levels, bins: int, n_top: int):
    """(ClassStats, Sweep, [TopKCounts], Histograms, TopImages, n_distinct) as the numpy passes give them."""
    if layout.order is not None:
        x32 = np.ascontiguousarray(x32[:, layout.order])
    n_units, n_images = x32.shape
    n_classes = layout.class_n.size
    shape = (n_units, n_classes)
    stats = ClassStats(
        n=layout.class_n,
        sum=np.zeros(shape),
        mean=np.full(shape, np.nan),
        std=np.full(shape, np.nan),
        min=np.full(shape, np.nan),
        max=np.full(shape, np.nan),
        n_nonzero=np.zeros(shape, dtype=np.int64),
        n_zero=np.zeros(shape, dtype=np.int64),
        first_at_max=np.full(shape, -1, dtype=np.int64),
    )
    hist = np.zeros((n_units, n_classes, bins), dtype=np.int32)
    lo, width = np.empty(n_units), np.empty(n_units)
    fractions = [Fraction(str(p)) for p in p_levels]
    scores = np.full((1 + len(fractions), *shape), np.nan)
    thresholds = np.full((1 + len(fractions), *shape), np.nan)
    mi_counts = np.full((2, *shape), np.nan)
    ks = np.asarray(ks, dtype=np.int64)
    scaled = np.zeros((ks.size, *shape), dtype=np.int64)
    tie_size = np.zeros((ks.size, n_units), dtype=np.int64)
    top = TopImages(
        np.full((n_units, n_top), -1, dtype=np.int64),
        np.full((n_units, n_top), np.nan),
        np.full((n_units, n_top), -1, dtype=np.int64),
    )
    n_distinct = np.zeros(n_units, dtype=np.int64)
    levels = (
        ks,
        np.array([f.numerator for f in fractions], dtype=np.int64),
        np.array([f.denominator for f in fractions], dtype=np.int64),
        layout.rank_bits,
    )
    statistics = (stats.sum, stats.mean, stats.std, stats.min, stats.max, stats.first_at_max)
    measure_units(
        x32,
        x32.view(np.int32),
        (layout.class_start, layout.class_n, layout.rank_of_pos, layout.image_of_pos),
        (layout.label_of_pos, layout.pos_of_rank, layout.label_of_rank),
        levels,
        (*statistics, stats.n_nonzero, stats.n_zero, hist),
        (lo, width),
        (scores, thresholds, mi_counts),
        (scaled, tie_size),
        (top.image_index, top.activation, top.label),
        n_distinct,
    )
    constant = width == 0
    swept = Sweep(
        kth_code=None,
        mi=scores[0],
        mi_threshold=thresholds[0],
        mi_tp=mi_counts[0],
        mi_selected=mi_counts[1],
        recall_p={p: (scores[1 + i], thresholds[1 + i]) for i, p in enumerate(p_levels)},
        runs=None,
    )
    counts = [TopKCounts(int(k), min(int(k), n_images), scaled[i], tie_size[i]) for i, k in enumerate(ks)]
    histograms = Histograms(lo=lo, width=width, n_bins=np.where(constant, 1, bins), counts=hist)
    return stats, swept, counts, histograms, top, n_distinct
