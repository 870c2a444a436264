"""Replicate measures decided at the top of a unit's activation order.

Top-k precision needs the images down to the k-th largest activation;
recall at precision p only thresholds that select at most max_c N_c / p
images (TP <= N_c and TP >= p * selected); the localist margin the top item,
the first image of another class and the lowest image of the top item's
class. So, apart from that last lookup, these measures read only a short
prefix of the order, for all replicates of a chunk at once: `Prefix` holds
its weights and labels as (replicates, L) arrays.

Every rule is the point estimate's (measures.md): expected top-k counts
compared as integers, the class whose first image ranks earliest winning
ties; recall ties within 1e-12 to the higher threshold, then the lower class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from seldb.measures.sweep import TIE


@dataclass
class Prefix:
    """The first L elements of a unit's order (activation descending), per replicate."""

    weight: np.ndarray  # (R, L) int: copies of each element in the replicate (0 = absent)
    label: np.ndarray  # (R, L) int: its class in the replicate
    group: np.ndarray  # (L,) tie group, ascending
    group_first: np.ndarray  # (L,) first element of the element's group
    group_last: np.ndarray  # (L,) last element of the element's group (all within the prefix)
    value: np.ndarray  # (L,) activation
    floor: np.ndarray  # (R, K) copies per class at the unit's lowest activation
    above_total: np.ndarray  # (R,) copies above the lowest activation (whole unit, not just the prefix)
    complete: bool  # the prefix holds every element above the lowest activation


@dataclass
class Context:
    """What every replicate of a block shares."""

    n_images: int
    class_n: np.ndarray  # (K,)
    ks: tuple[int, ...]
    p_levels: tuple[float, ...]

    @property
    def n_classes(self) -> int:
        return self.class_n.size

    @property
    def present(self) -> np.ndarray:
        return self.class_n > 0

    @property
    def n_present(self) -> int:
        return int(self.present.sum())

    def prefix_weight(self) -> int:
        """Copies a prefix must reach so that every top measure is decided inside it."""
        n_max = int(self.class_n.max())
        recall_reach = max((n_max * Fraction(str(p)).denominator) // Fraction(str(p)).numerator for p in self.p_levels)
        return max(max(self.ks), recall_reach, n_max) + 1


def _class_counts(rows: int, n_classes: int, label: np.ndarray, weight: np.ndarray) -> np.ndarray:
    flat = (np.arange(rows)[:, None] * n_classes + label).ravel()
    counts = np.bincount(flat, weights=weight.ravel().astype(np.float64), minlength=rows * n_classes)
    return counts.astype(np.int64).reshape(rows, n_classes)


def topk(ctx: Context, pre: Prefix, k: int, floor_first: Callable[[int, int], int]):
    """Expected top-k counts per class, scaled by |T| (exact integers), the tie size and k used."""
    rows = pre.weight.shape[0]
    k = min(k, ctx.n_images)
    if pre.value.size:
        cum = np.cumsum(pre.weight, axis=1)
        sel = cum[:, pre.group_last]  # selected through each element's group
        above_group = cum[:, pre.group_first] - pre.weight[:, pre.group_first]
        reach = sel >= k
        has = np.asarray(reach.any(axis=1))
        at = reach.argmax(axis=1)
        r = np.arange(rows)
        kth_group = np.where(has, pre.group[at], np.iinfo(np.int64).max)
        before = np.where(has, above_group[r, at], pre.above_total)
        tie = np.where(has, sel[r, at] - above_group[r, at], ctx.n_images - pre.above_total)
        is_above = pre.group[None, :] < kth_group[:, None]
        above = _class_counts(rows, ctx.n_classes, pre.label, pre.weight * is_above)
        tied = _class_counts(rows, ctx.n_classes, pre.label, pre.weight * (pre.group[None, :] == kth_group[:, None]))
        tied = np.where(has[:, None], tied, pre.floor)
    else:  # every image at the lowest activation
        has = np.zeros(rows, dtype=bool)
        before, tie = np.zeros(rows, dtype=np.int64), np.full(rows, ctx.n_images)
        above, tied = np.zeros((rows, ctx.n_classes), dtype=np.int64), pre.floor.astype(np.int64)
    if not (has | pre.complete).all():
        raise AssertionError("top-k prefix too short")  # prefix_weight() guarantees it
    scaled = above * tie[:, None] + (k - before)[:, None] * tied
    return scaled, tie, k


def topk_winner(ctx: Context, pre: Prefix, scaled: np.ndarray, floor_first) -> np.ndarray:
    """The class with the largest count; ties: the class whose first image ranks earliest."""
    best = scaled.max(axis=1)
    winners = scaled == best[:, None]
    cls = winners.argmax(axis=1)
    tied = np.flatnonzero(winners.sum(axis=1) > 1)
    if tied.size == 0:
        return cls
    first = _first_positions(pre, tied, ctx.n_classes)  # (tied, K), L where a class has no copy above the floor
    first = np.where(winners[tied], first, np.iinfo(np.int64).max)
    cls[tied] = first.argmin(axis=1)
    at_floor = first.min(axis=1) == pre.value.size  # every tied winner only at the floor
    for row in np.flatnonzero(at_floor):
        r = tied[row]
        cls[r] = min(np.flatnonzero(winners[r]), key=lambda c: floor_first(r, int(c)))
    return cls


def _first_positions(pre: Prefix, rows: np.ndarray, n_classes: int) -> np.ndarray:
    """Position in the prefix of each class's first copy, for the given rows (L when none)."""
    length = pre.value.size
    first = np.full((rows.size, n_classes), length, dtype=np.int64)
    r, pos = np.nonzero(pre.weight[rows] > 0)
    key = r * n_classes + pre.label[rows][r, pos]
    unique, at = np.unique(key, return_index=True)  # row-major: the first occurrence is the earliest
    first.ravel()[unique] = pos[at]
    return first


def _pick(value: np.ndarray, ok: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: best value among ok, then the smallest key within 1e-12 of it. (has, best, position)."""
    filled = np.where(ok, value, -np.inf)
    best = filled.max(axis=1) if filled.shape[1] else np.full(filled.shape[0], -np.inf)
    has = best > -np.inf
    near = ok & (filled >= best[:, None] - TIE)
    keyed = np.where(near, key, np.iinfo(np.int64).max)
    pos = keyed.argmin(axis=1) if keyed.shape[1] else np.zeros(filled.shape[0], dtype=np.int64)
    return has, best, pos


def recall_at(ctx: Context, pre: Prefix, p: float, fixed_class: int | None = None):
    """Largest recall with precision >= p: (value, class or -1), and the fixed class's own value."""
    rows, length = pre.weight.shape
    frac = Fraction(str(p))
    if length == 0:  # every copy at the lowest activation: only the floor threshold exists
        none = np.zeros(rows, dtype=bool)
        value, out_class = _recall_floor(ctx, pre, frac, np.zeros(rows), np.full(rows, -1), none)
        own = None if fixed_class is None else _own_floor(ctx, pre, frac, np.zeros(rows), fixed_class)
        return value, out_class, own
    label = np.where(pre.weight > 0, pre.label, ctx.n_classes)  # absent copies join no class
    order = np.argsort(label, axis=1, kind="stable")
    cls = np.take_along_axis(label, order, axis=1)
    w = np.take_along_axis(pre.weight, order, axis=1)
    cum = np.cumsum(w, axis=1)
    starts = np.ones(cls.shape, dtype=bool)
    starts[:, 1:] = cls[:, 1:] != cls[:, :-1]
    start_at = np.maximum.accumulate(np.where(starts, np.arange(length), 0), axis=1)
    tp = cum - np.take_along_axis(cum - w, start_at, axis=1)
    cum_all = np.cumsum(pre.weight, axis=1)
    selected = np.take_along_axis(cum_all[:, pre.group_last], order, axis=1)
    real = cls < ctx.n_classes
    n_c = ctx.class_n[np.minimum(cls, ctx.n_classes - 1)]
    ok = real & (tp * frac.denominator >= frac.numerator * selected)
    recall = tp / np.where(real, n_c, 1)
    key = pre.group[order] * ctx.n_classes + cls
    has, best, pos = _pick(recall, ok, key)
    r = np.arange(rows)
    value, out_class = np.where(has, best, 0.0), np.where(has, cls[r, pos], -1)
    value, out_class = _recall_floor(ctx, pre, frac, value, out_class, has)
    own = None
    if fixed_class is not None:
        mine = ok & (cls == fixed_class)
        own_has, own_best, _ = _pick(recall, mine, key)
        own = _own_floor(ctx, pre, frac, np.where(own_has, own_best, 0.0), fixed_class)
    return value, out_class, own


def _own_floor(ctx: Context, pre: Prefix, frac: Fraction, own: np.ndarray, cls: int) -> np.ndarray:
    floor_ok = (pre.floor[:, cls] > 0) & _floor_qualifies(ctx, frac)[cls]
    return np.where(floor_ok, 1.0, own)


def _floor_qualifies(ctx: Context, frac: Fraction) -> np.ndarray:
    """Classes whose precision at the lowest threshold (everything selected) reaches p."""
    return ctx.present & (ctx.class_n * frac.denominator >= frac.numerator * ctx.n_images)


def _recall_floor(ctx, pre, frac, value, out_class, has):
    """The lowest threshold (recall 1) wins only when no higher threshold ties it."""
    floor_ok = (pre.floor > 0) & _floor_qualifies(ctx, frac)[None, :]
    any_floor = floor_ok.any(axis=1)
    floor_wins = any_floor & ~(has & (value >= 1.0 - TIE))
    return np.where(floor_wins, 1.0, value), np.where(floor_wins, floor_ok.argmax(axis=1), out_class)


def localist(ctx: Context, pre: Prefix, floor_value: float, class_min_above: Callable[[np.ndarray], np.ndarray]):
    """Bowers' margin per replicate: min over the top item's class minus max over the others."""
    rows = pre.weight.shape[0]
    if ctx.n_present < 2:
        return np.full(rows, np.nan)
    present = pre.weight > 0
    has_top = present.any(axis=1) if present.shape[1] else np.zeros(rows, dtype=bool)
    r = np.arange(rows)
    top = present.argmax(axis=1) if present.shape[1] else np.zeros(rows, dtype=np.int64)
    top_class = np.where(has_top, pre.label[r, top] if present.shape[1] else 0, 0)
    other = present & (pre.label != top_class[:, None])
    has_other = other.any(axis=1) if present.shape[1] else np.zeros(rows, dtype=bool)
    if not (has_other | ~has_top | pre.complete).all():
        raise AssertionError("localist prefix too short")  # prefix_weight() guarantees it
    first_other = pre.value[other.argmax(axis=1)] if present.shape[1] else np.full(rows, floor_value)
    other_max = np.where(has_other, first_other, floor_value)
    own_min = np.where(pre.floor[r, top_class] > 0, floor_value, class_min_above(top_class))
    return np.where(has_top, own_min - other_max, 0.0)  # no copy above the floor: floor - floor
