"""Every scalar measure of a unit, recomputed for many replicates at once.

Resampling images (bootstrap) or permuting labels (chance baseline) never
changes a unit's activation order, so each unit is sorted once (`UnitOrder`)
and a replicate is only new weights (copies per image) or new labels fed to
the same cumulative sweep as the point estimate. Two facts keep it cheap:

- the unit's lowest activation (the ReLU's zeros) is one tie group whose
  images are interchangeable except for their class, so it is carried as a
  count per class, never element by element;
- informedness and recall at precision p only need, per element in class
  order, the cumulative copies of its class (TP) and the copies selected at
  its threshold. An element that is not the last of its (class, threshold)
  run has a TP lower by at least one copy, so it can never be within 1e-12 of
  the best and needs no masking; an element whose class has no copy yet
  (TP = 0) is excluded; one whose class has no copy at its threshold is
  dominated by the class's previous threshold (same TP, no more selected).

Duplicated images (bootstrap) are copies with the same activation, class and
image index: they tie with each other exactly as measures.md says for ties.
Results match `compute_block` run on the explicitly resampled data
(tests/test_resample_oracle.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seldb.measures.block import Block
from seldb.measures.resampling.top import Context, Prefix
from seldb.measures.sweep import TIE


@dataclass
class UnitOrder:
    """One unit's images above its lowest activation, activation descending, image index ascending."""

    cols: np.ndarray  # (m,) block columns
    group: np.ndarray  # (m,) tie group, 0 = highest activation
    group_first: np.ndarray  # (m,)
    group_last: np.ndarray  # (m,)
    label: np.ndarray  # (m,) class
    value: np.ndarray  # (m,) activation
    floor_value: float
    floor_cols: np.ndarray  # block columns at the lowest activation
    by_class: np.ndarray  # (m,) elements grouped by class, order kept within a class
    class_bounds: np.ndarray  # (K + 1,) each class's slice of by_class

    @property
    def size(self) -> int:
        return self.cols.size


def image_rank(block: Block) -> np.ndarray:
    """Rank of each block column by image index (the tie order of measures.md)."""
    rank = np.empty(block.n_images, dtype=np.int64)
    rank[np.argsort(block.image_index, kind="stable")] = np.arange(block.n_images)
    return rank


def unit_order(block: Block, unit: int, rank: np.ndarray) -> UnitOrder:
    codes = block.desc_codes[unit]
    floor_code = codes.max()
    above = np.flatnonzero(codes != floor_code)
    cols = above[np.argsort(codes[above] * block.n_images + rank[above])]
    sorted_codes = codes[cols]
    new_group = np.ones(cols.size, dtype=bool)
    new_group[1:] = sorted_codes[1:] != sorted_codes[:-1]
    group = np.cumsum(new_group) - 1
    firsts = np.flatnonzero(new_group)
    lasts = np.append(firsts[1:], cols.size) - 1
    label = block.labels[cols]
    by_class = np.argsort(label, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(label, minlength=block.n_classes))])
    floor_cols = np.flatnonzero(codes == floor_code)
    return UnitOrder(
        cols,
        group,
        firsts[group],
        lasts[group],
        label,
        block.values[unit, cols],
        float(block.values[unit, floor_cols[0]]),
        floor_cols,
        by_class,
        bounds,
    )


def make_prefix(order: UnitOrder, weight, label, floor: np.ndarray, above_total: np.ndarray, length: int) -> Prefix:
    """weight, label: (R, >= length) arrays in activation order; floor: (R, K) copies at the floor."""
    g = slice(0, length)
    return Prefix(
        weight=weight[:, g],
        label=label[:, g],
        group=order.group[g],
        group_first=order.group_first[g],
        group_last=order.group_last[g],
        value=order.value[g],
        floor=floor,
        above_total=above_total,
        complete=length == order.size,
    )


# --- informedness -----------------------------------------------------------------------------------------------


@dataclass
class Informedness:
    value: np.ndarray  # (R,)
    cls: np.ndarray  # (R,) -1 when undefined
    tp: np.ndarray  # (R,) at the chosen (class, threshold)
    selected: np.ndarray  # (R,)
    group: np.ndarray | None = None  # (R,) tie group of the chosen threshold, -1: the lowest activation


def mi_pick(ctx: Context, best: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether the best above the floor wins over the floor runs (informedness 0 at the lowest
    threshold, so they win only when nothing above comes within 1e-12), and the floor's class."""
    floor_here = (floor > 0) & ctx.present[None, :]
    floor_any = floor_here.any(axis=1)
    above_wins = ~floor_any | (best >= np.maximum(best, 0.0) - TIE)
    return above_wins, np.where(floor_any, floor_here.argmax(axis=1), -1)


def finish_mi(ctx: Context, rows, above_wins, floor_class, cls, tp, selected, group=None) -> Informedness:
    """Value and counts at the pick, with the engine's formula (bit-identical to compute_block)."""
    group = None if group is None else np.where(above_wins, group, -1)
    cls = np.where(above_wins, cls, floor_class)
    n_c = np.where(cls >= 0, ctx.class_n[np.maximum(cls, 0)], 0)
    tp = np.where(above_wins, tp, n_c).astype(np.int64)
    selected = np.where(above_wins, selected, ctx.n_images).astype(np.int64)
    if ctx.n_present < 2:
        nan = np.full(rows, np.nan)
        return Informedness(nan, np.full(rows, -1), nan, nan, group)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = tp / n_c.astype(np.float64) - (selected - tp) / (ctx.n_images - n_c).astype(np.float64)
    return Informedness(np.where(cls >= 0, value, np.nan), cls, tp, selected, group)


def _near_first(score: np.ndarray, best: np.ndarray, key_of) -> np.ndarray:
    """Per row, the position within 1e-12 of `best` with the smallest (group, class) key; -1: none."""
    if score.shape[1] == 0:
        return np.full(score.shape[0], -1)
    near = score >= (best - TIE)[:, None]
    count = near.sum(axis=1)
    chosen = np.where(count > 0, near.argmax(axis=1), -1)
    tied = np.flatnonzero(count > 1)  # only ties need the keys
    if tied.size:
        rows, pos = np.nonzero(near[tied])
        key = key_of(tied[rows], pos)
        order = np.lexsort((key, rows))
        first = np.ones(order.size, dtype=bool)
        first[1:] = rows[order][1:] != rows[order][:-1]
        chosen[tied[rows[order][first]]] = pos[order][first]
    return chosen


@dataclass
class ClassOrderConstants:
    """Per element in class order: what the informedness score needs (computed once per unit)."""

    group_last: np.ndarray  # (m,) last element of the element's group
    group: np.ndarray  # (m,)
    label: np.ndarray  # (m,)
    slope_tp: np.ndarray  # (m,) 1/N_c + 1/(N - N_c): score = TP * slope_tp - selected * slope_selected
    slope_selected: np.ndarray  # (m,) 1/(N - N_c)
    value: np.ndarray  # (m,)


def class_order_constants(ctx: Context, order: UnitOrder) -> ClassOrderConstants:
    label = order.label[order.by_class]
    n_c = ctx.class_n[label].astype(np.float64)
    with np.errstate(divide="ignore"):
        not_c = 1.0 / (ctx.n_images - n_c)
    return ClassOrderConstants(
        order.group_last[order.by_class].astype(np.int32),
        order.group[order.by_class],
        label,
        1.0 / n_c + not_c,
        not_c,
        order.value[order.by_class],
    )


def bootstrap_informedness(
    ctx: Context, order: UnitOrder, consts: ClassOrderConstants, w: np.ndarray
) -> tuple[Informedness, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """w: (R, m) int32 copies in activation order. Informedness; copies in class order (R, m);
    copies per class at the floor (R, K); cumulative copies along the order (R, m)."""
    rows = w.shape[0]
    cum = np.cumsum(w, axis=1, dtype=np.int32)
    selected = np.take(cum, consts.group_last, axis=1)
    wb = np.take(w, order.by_class, axis=1)
    cb = np.cumsum(wb, axis=1, dtype=np.int32)
    lens = np.diff(order.class_bounds)
    before = np.zeros((rows, ctx.n_classes), dtype=np.int32)
    after = np.zeros((rows, ctx.n_classes), dtype=np.int32)
    has_before, has_after = order.class_bounds[:-1] > 0, order.class_bounds[1:] > 0
    before[:, has_before] = cb[:, order.class_bounds[:-1][has_before] - 1]
    after[:, has_after] = cb[:, order.class_bounds[1:][has_after] - 1]  # equal to `before` for an empty class
    floor = ctx.class_n[None, :] - (after - before)
    tp = cb - np.repeat(before, lens, axis=1)
    score = tp.astype(np.float64)  # one conversion, then in place: mixed int/float ops are slow
    penalty = selected.astype(np.float64)
    with np.errstate(invalid="ignore"):  # one analysed class: 0 * inf, and informedness is NULL anyway
        score *= consts.slope_tp
        penalty *= consts.slope_selected
        score -= penalty
    del penalty
    np.subtract(score, 4.0, out=score, where=tp == 0)  # no copy of the class yet: not a candidate
    best = score.max(axis=1) if order.size else np.full(rows, -np.inf)
    above_wins, floor_class = mi_pick(ctx, best, floor)
    chosen = _near_first(score, best, lambda r, p: consts.group[p] * ctx.n_classes + consts.label[p])
    r, pos = np.arange(rows), np.maximum(chosen, 0)
    if order.size:
        mi = finish_mi(
            ctx, rows, above_wins, floor_class, consts.label[pos], tp[r, pos], selected[r, pos], consts.group[pos]
        )
    else:
        mi = finish_mi(ctx, rows, np.zeros(rows, dtype=bool), floor_class, pos, pos, pos, pos)
    return mi, (score, tp, selected), wb, floor, cum


def class_max_informedness(ctx: Context, order: UnitOrder, score, tp, selected, floor, cls: int) -> np.ndarray:
    """A fixed class's own maximum informedness per replicate (its floor run counts 0), with the
    engine's formula at the class's best candidate (`score` only ranks)."""
    lo, hi = order.class_bounds[cls], order.class_bounds[cls + 1]
    rows = score.shape[0]
    if hi == lo:
        none = np.zeros(rows, dtype=np.int64)
        return own_informedness(ctx, cls, none, none, np.zeros(rows, dtype=bool), floor)
    r, pos = np.arange(rows), lo + score[:, lo:hi].argmax(axis=1)
    return own_informedness(ctx, cls, tp[r, pos], selected[r, pos], np.ones(rows, dtype=bool), floor)


def own_informedness(ctx: Context, cls: int, tp, selected, has, floor) -> np.ndarray:
    """Informedness of class `cls` at its best candidate (tp, selected; has: a candidate exists),
    or 0 at the lowest activation when that is higher; -inf when the class has neither."""
    rows = floor.shape[0]
    if ctx.n_present < 2:
        return np.full(rows, np.nan)
    n_c = float(ctx.class_n[cls])
    with np.errstate(divide="ignore", invalid="ignore"):
        value = tp / n_c - (selected - tp) / (ctx.n_images - n_c)
    own = np.where(has & (tp > 0), value, -np.inf)
    return np.where(floor[:, cls] > 0, np.maximum(own, 0.0), own)


def permutation_informedness(ctx: Context, order: UnitOrder, lab: np.ndarray):
    """lab: (R, m) int16 labels in activation order, every image present once."""
    rows, m = lab.shape
    k = ctx.n_classes
    flat = (lab.astype(np.int32) + (np.arange(rows, dtype=np.int32) * k)[:, None]).ravel()
    counts = np.bincount(flat, minlength=rows * k).reshape(rows, k)
    floor = ctx.class_n[None, :] - counts
    if m == 0:
        above_wins, floor_class = mi_pick(ctx, np.full(rows, -np.inf), floor)
        zero = np.zeros(rows, dtype=np.int64)
        return finish_mi(ctx, rows, above_wins, floor_class, zero, zero, zero), floor, None, counts
    by_class = np.argsort(lab, axis=1, kind="stable")  # radix sort of 16-bit labels
    starts = np.cumsum(counts, axis=1) - counts
    cls = np.repeat(np.tile(np.arange(k, dtype=np.int16), rows), counts.ravel()).reshape(rows, m)
    tp = np.arange(1, m + 1, dtype=np.int32)[None, :] - np.repeat(
        starts.ravel().astype(np.int32), counts.ravel()
    ).reshape(rows, m)
    selected = (order.group_last + 1).astype(np.int32)[by_class]
    with np.errstate(divide="ignore"):
        not_c = 1.0 / (ctx.n_images - ctx.class_n.astype(np.float64))
        slope_tp = 1.0 / ctx.class_n.astype(np.float64) + not_c
    per_row = counts.ravel()
    score = tp.astype(np.float64)  # one conversion, then in place: mixed int/float ops are slow
    score *= np.repeat(np.tile(slope_tp, rows), per_row).reshape(rows, m)
    penalty = selected.astype(np.float64)
    penalty *= np.repeat(np.tile(not_c, rows), per_row).reshape(rows, m)
    with np.errstate(invalid="ignore"):  # one analysed class: inf - inf, and informedness is NULL anyway
        score -= penalty
    best = score.max(axis=1)
    above_wins, floor_class = mi_pick(ctx, best, floor)
    chosen = _near_first(score, best, lambda r, p: order.group[by_class[r, p]] * k + cls[r, p])
    r, pos = np.arange(rows), np.maximum(chosen, 0)
    mi = finish_mi(ctx, rows, above_wins, floor_class, cls[r, pos].astype(np.int64), tp[r, pos], selected[r, pos])
    return mi, floor, by_class, counts


def sample_informedness(ctx: Context, order: UnitOrder, mi: Informedness) -> np.ndarray:
    """Informedness of the original images (every image once) at each replicate's chosen class and
    threshold (mi.cls, mi.group; group -1: the lowest activation, where informedness is 0)."""
    assert mi.group is not None, "the sweep of this replicate kept no threshold group"
    cls, group = np.maximum(mi.cls, 0), np.maximum(mi.group, 0)
    if order.size == 0:
        tp, selected = ctx.class_n[cls], np.full(cls.size, ctx.n_images)
    else:
        n_groups = int(order.group[-1]) + 1
        key = order.label[order.by_class].astype(np.int64) * n_groups + order.group[order.by_class]
        tp = np.searchsorted(key, cls * n_groups + group, side="right") - order.class_bounds[cls]
        group_end = np.flatnonzero(np.append(order.group[1:] != order.group[:-1], True))
        selected = group_end[group] + 1
        at_floor = mi.group < 0
        tp, selected = np.where(at_floor, ctx.class_n[cls], tp), np.where(at_floor, ctx.n_images, selected)
    n_c = ctx.class_n[cls].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = tp / n_c - (selected - tp) / (ctx.n_images - n_c)
    return np.where(mi.cls >= 0, value, np.nan)


# --- CCMAS --------------------------------------------------------------------------------------------------------


def _ccmas_value(mean, mean_not):
    denominator = mean + mean_not
    vanishes = (np.abs(denominator) < TIE * (np.abs(mean) + np.abs(mean_not))) | ((mean == 0) & (mean_not == 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vanishes, np.nan, (mean - mean_not) / denominator)


def ccmas_from_sums(ctx: Context, sums: np.ndarray, fixed_class: int | None = None):
    """ccmas, its class (highest mean, relative 1e-12 ties to the lower index), Morcos' variant."""
    present = np.flatnonzero(ctx.present)
    n = ctx.class_n[present].astype(np.float64)
    s = sums[:, present]
    means = s / n
    with np.errstate(divide="ignore", invalid="ignore"):  # one analysed class: no notc
        mean_not = (s.sum(axis=1)[:, None] - s) / (ctx.n_images - n)
    best = means.max(axis=1)
    near = (best[:, None] - means) <= TIE * np.maximum(np.abs(best)[:, None], np.abs(means))
    pick = near.argmax(axis=1)
    r = np.arange(sums.shape[0])
    rows_nan = np.full(sums.shape[0], np.nan)
    if present.size < 2:
        return rows_nan, present[pick], rows_nan, (rows_nan if fixed_class is not None else None)
    others = (means.sum(axis=1) - means[r, pick]) / (present.size - 1)
    morcos = _ccmas_value(means[r, pick], others)
    own = None
    if fixed_class is not None:
        at = int(np.searchsorted(present, fixed_class))
        own = _ccmas_value(means[:, at], mean_not[:, at])
    return _ccmas_value(means[r, pick], mean_not[r, pick]), present[pick], morcos, own


def sample_class_sums(ctx: Context, order: UnitOrder) -> np.ndarray:
    """(K,) activation sums per class of the original images (each once): every image not in the
    unit's order sits at its lowest activation."""
    k = ctx.class_n.size
    above = np.bincount(order.label, weights=order.value - order.floor_value, minlength=k)
    return ctx.class_n * order.floor_value + above


def ccmas_by_class(ctx: Context, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K,) CCMAS and Morcos' CCMAS of every class from one set of class sums, as if that class
    were the best (NaN for a class with no images, or with fewer than two classes present)."""
    out = np.full((2, sums.size), np.nan)
    present = np.flatnonzero(ctx.present)
    if present.size < 2:
        return out[0], out[1]
    n = ctx.class_n[present].astype(np.float64)
    s = sums[present]
    means = s / n
    out[0, present] = _ccmas_value(means, (s.sum() - s) / (ctx.n_images - n))
    out[1, present] = _ccmas_value(means, (means.sum() - means) / (present.size - 1))
    return out[0], out[1]


def class_sums_bootstrap(ctx: Context, order: UnitOrder, consts: ClassOrderConstants, wb, floor) -> np.ndarray:
    """(R, K) activation sums per class: copies above the floor (wb: (R, m) in class order) plus the floor."""
    sums = floor * order.floor_value
    filled = np.flatnonzero(np.diff(order.class_bounds))
    if filled.size:
        weighted = wb.astype(np.float64)
        weighted *= consts.value
        sums[:, filled] += np.add.reduceat(weighted, order.class_bounds[filled], axis=1)
    return sums


def class_sums_permutation(ctx: Context, order: UnitOrder, by_class, counts, floor) -> np.ndarray:
    """(R, K) activation sums per class under permuted labels (by_class: each row's class order)."""
    sums = floor * order.floor_value
    if by_class is None:
        return sums
    rows, m = by_class.shape
    starts = np.cumsum(counts, axis=1) - counts
    flat_starts = (starts + (np.arange(rows) * m)[:, None])[counts > 0]
    values = order.value[by_class].ravel()
    sums[counts > 0] += np.add.reduceat(values, flat_starts)
    return sums


@dataclass
class Pass:
    mi: Informedness
    floor: np.ndarray  # (R, K) copies per class at the unit's lowest activation
    sums: np.ndarray  # (R, K) activation sums per class, the floor included
    class_low: np.ndarray  # (R, K) lowest activation among the class's copies above the floor, NaN: none
    prefix_length: int  # elements (whole tie groups) that hold ctx.prefix_weight() copies in every replicate
    own_mi: np.ndarray | None = None  # (R,) the fixed class's own maximum informedness (bootstrap)


def prefix_length(order: UnitOrder, first_reaching: int) -> int:
    """Whole tie groups through `first_reaching`, the first element at which every replicate's
    copies reach ctx.prefix_weight() (order.size or more: none)."""
    if order.size == 0:
        return 0
    return int(order.group_last[min(first_reaching, order.size - 1)]) + 1
