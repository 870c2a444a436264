"""The threshold sweep: every (class, threshold) of every unit in one pass.

Informedness and recall-at-precision both ask, for class c and threshold t,
TP = #{i in c : a_i >= t} and the number selected #{i : a_i >= t}. Their
maxima over t are always reached at an activation of a class-c image (moving
t down past an image of another class only adds a false positive), so only
the distinct (activation, class) pairs of a unit - its "runs" in descending
order - need to be visited, with whole tie groups counted at once.

A float64 sort of (activation code, class) keys, packed exactly below 2**53,
gives each unit's runs and the number selected at each threshold; two stable
radix sorts then group each class's runs in descending threshold order, where
a cumulative sum gives TP. A unit's lowest
value (the ReLU's zeros) is counted per class instead of sorted.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from seldb.measures.block import Block

TIE = 1e-12


@dataclass
class Sweep:
    """Per (unit, class) results; NaN where the class has no analysed image."""

    # code of each unit's k-th largest activation, and the runs of equal values: what the top-k passes
    # of the same chunk read; None in a sweep merged from chunks, which keeps the per-unit results only
    kth_code: KthCode | None
    mi: np.ndarray  # (U, K) class's maximum informedness
    mi_threshold: np.ndarray  # (U, K)
    mi_tp: np.ndarray  # (U, K) TP at that threshold
    mi_selected: np.ndarray  # (U, K) TP + FP at that threshold
    recall_p: dict[float, tuple[np.ndarray, np.ndarray]]  # p -> (recall (U,K), threshold (U,K)); -1: none
    runs: Runs | None


@dataclass
class Runs:
    unit: np.ndarray
    cls: np.ndarray
    code: np.ndarray
    length: np.ndarray
    selected: np.ndarray  # images with activation >= this run's activation


def _floor_runs(block: Block) -> Runs:
    """Runs of each unit's lowest activation, counted rather than sorted.

    The lowest value is often shared by most images (exact zeros after a
    ReLU); sorting them is the slowest part of a sweep and tells nothing that
    a count per class does not.
    """
    counts = block.floor_per_class.ravel()
    cell = np.flatnonzero(counts)
    unit = cell // block.n_classes
    full = np.full(cell.size, block.n_images, dtype=np.int64)
    return Runs(unit, cell % block.n_classes, block.floor_code[unit], counts[cell], full)


def _sorted_runs(block: Block) -> tuple[Runs, KthCode]:
    """Runs of every unit in descending activation order, then the floor runs."""
    class_bits = max(1, int(block.n_classes - 1).bit_length())
    if int(block.desc_codes.max(initial=0)) >= 2 ** (53 - class_bits):
        raise ValueError("too many classes to pack beside 32-bit activation codes")
    scale = float(1 << class_bits)
    above = block.above
    keys = block.desc_codes.ravel()[above].astype(np.float64)
    keys *= scale
    keys += block.above_cell % block.n_classes
    per_unit = np.bincount(above // block.n_images, minlength=block.n_units)
    offsets = np.concatenate([[0], np.cumsum(per_unit)])
    for u in range(block.n_units):
        keys[offsets[u] : offsets[u + 1]].sort()
    codes = np.floor(keys / scale)
    cls = (keys - codes * scale).astype(np.int64)
    codes = codes.astype(np.int64)
    del keys
    unit_of = np.repeat(np.arange(block.n_units), np.diff(offsets))
    new_group = np.zeros(codes.size, dtype=bool)
    new_group[offsets[:-1][offsets[:-1] < codes.size]] = True
    new_group[1:] |= codes[1:] != codes[:-1]
    new_run = new_group.copy()
    new_run[1:] |= cls[1:] != cls[:-1]
    group_starts = np.flatnonzero(new_group)
    group_ends = np.append(group_starts[1:], codes.size)  # exclusive
    group_of = np.cumsum(new_group) - 1
    run_starts = np.flatnonzero(new_run)
    unit = unit_of[run_starts]
    selected = group_ends[group_of[run_starts]] - offsets[unit]
    sorted_runs = Runs(unit, cls[run_starts], codes[run_starts], np.diff(np.append(run_starts, codes.size)), selected)
    floor = _floor_runs(block)
    runs = Runs(*[np.concatenate([getattr(sorted_runs, f), getattr(floor, f)]) for f in Runs.__dataclass_fields__])
    return runs, KthCode(codes, offsets, block.floor_code)


@dataclass
class KthCode:
    """The code of each unit's k-th largest activation (k from 1)."""

    codes: np.ndarray  # descending codes above the floor, unit after unit
    offsets: np.ndarray
    floor_code: np.ndarray

    def n_distinct(self) -> np.ndarray:
        """Distinct activation values per unit: the distinct codes above the floor, plus the floor."""
        n_units = self.offsets.size - 1
        unit_of = np.repeat(np.arange(n_units), np.diff(self.offsets))
        new_value = np.ones(self.codes.size, dtype=bool)
        new_value[1:] = (self.codes[1:] != self.codes[:-1]) | (unit_of[1:] != unit_of[:-1])
        return np.bincount(unit_of[new_value], minlength=n_units) + 1

    def __call__(self, k: int) -> np.ndarray:
        above = np.diff(self.offsets)
        index = np.minimum(self.offsets[:-1] + k - 1, np.maximum(self.offsets[1:] - 1, 0))
        picked = self.codes[index] if self.codes.size else self.floor_code
        return np.where(k <= above, picked, self.floor_code)


def _by_class(runs: Runs, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order runs by (unit, class, descending activation); TP per run; segment starts."""
    n_runs = runs.unit.size
    segment = runs.unit * n_classes + runs.cls
    if n_classes <= 1 << 16 and int(runs.unit.max(initial=0)) < 1 << 16:
        # Two stable radix sorts on 16-bit keys (class, then unit) keep each class's runs in order.
        by_class = np.argsort(runs.cls.astype(np.uint16), kind="stable")
        order = by_class[np.argsort(runs.unit[by_class].astype(np.uint16), kind="stable")]
    else:
        order = np.lexsort((np.arange(n_runs), segment))
    seg = segment[order]
    first = np.ones(n_runs, dtype=bool)
    first[1:] = seg[1:] != seg[:-1]
    starts = np.flatnonzero(first)
    lengths = runs.length[order]
    total = np.cumsum(lengths)
    before = total[starts] - lengths[starts]
    tp = total - np.repeat(before, np.diff(np.append(starts, n_runs)))
    return order, tp, starts


def _best_per_segment(score: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the first score within TIE of its segment's max (= highest threshold)."""
    valid = ~np.isnan(score)
    filled = np.where(valid, score, -np.inf)
    best = np.maximum.reduceat(filled, starts)
    counts = np.diff(np.append(starts, score.size))
    candidate = valid & (filled >= np.repeat(best, counts) - TIE)
    index = np.where(candidate, np.arange(score.size), score.size)
    return np.minimum.reduceat(index, starts)


def _scatter(shape, seg_unit, seg_cls, values, fill=np.nan) -> np.ndarray:
    out = np.full(shape, fill, dtype=np.float64)
    out[seg_unit, seg_cls] = values
    return out


def sweep(block: Block, p_levels=(1.0, 0.95)) -> Sweep:
    runs, kth_code = _sorted_runs(block)
    order, tp, starts = _by_class(runs, block.n_classes)
    unit, cls = runs.unit[order], runs.cls[order]
    selected = runs.selected[order]
    n_c = block.class_n[cls].astype(np.float64)
    n_not_c = block.n_images - n_c
    with np.errstate(divide="ignore", invalid="ignore"):
        informedness = tp / n_c - (selected - tp) / np.where(n_not_c > 0, n_not_c, np.nan)
    shape = (block.n_units, block.n_classes)
    seg_unit, seg_cls = unit[starts], cls[starts]
    code = runs.code[order]

    def thresholds(picked: np.ndarray) -> np.ndarray:  # decoded only where a maximum was found
        return block.decode.values(unit[picked], code[picked])

    pick = _best_per_segment(informedness, starts)
    has = pick < informedness.size
    pick_ok = np.where(has, pick, 0)
    result = dict(
        mi=_scatter(shape, seg_unit, seg_cls, np.where(has, informedness[pick_ok], np.nan)),
        mi_threshold=_scatter(shape, seg_unit, seg_cls, np.where(has, thresholds(pick_ok), np.nan)),
        mi_tp=_scatter(shape, seg_unit, seg_cls, np.where(has, tp[pick_ok], np.nan)),
        mi_selected=_scatter(shape, seg_unit, seg_cls, np.where(has, selected[pick_ok], np.nan)),
    )
    recall_p = {}
    for p in p_levels:
        frac = Fraction(str(p))
        ok = tp * frac.denominator >= frac.numerator * selected  # exact: precision >= p
        recall = np.where(ok, tp / n_c, np.nan)
        pick = _best_per_segment(recall, starts)
        has = pick < recall.size
        pick_ok = np.where(has, pick, 0)
        recall_p[p] = (
            _scatter(shape, seg_unit, seg_cls, np.where(has, recall[pick_ok], -1.0)),
            _scatter(shape, seg_unit, seg_cls, np.where(has, thresholds(pick_ok), np.nan)),
        )
    return Sweep(kth_code, recall_p=recall_p, runs=runs, **result)
