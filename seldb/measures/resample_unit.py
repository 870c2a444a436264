"""One unit, one chunk of replicates: every scalar measure per replicate.

`bootstrap_unit` takes copies per image, `permutation_unit` labels per image
(both (replicates, images) in the Block's column order) and return
`ReplicateMeasures`: a (replicates,) array per measure, the class each
class-choosing measure picked (-1: none), and for the bootstrap the value
of the point estimate's class itself (see docs/uncertainty.md on the upward
bias of a maximum over classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seldb.measures import resample as rs
from seldb.measures import resample_top as top
from seldb.measures.block import Block
from seldb.measures.compute import p_name
from seldb.measures.resample_top import Context

VALUE_MEASURES = (
    "precision_60", "precision_100", "n_classes_top100", "ccmas", "ccmas_morcos", "localist_margin",
    "is_localist", "recall_p1", "recall_p95", "max_informedness", "mi_recall", "mi_specificity",
    "mi_false_alarm_rate", "mi_false_discovery_rate", "mi_precision",
)  # fmt: skip
CLASS_OF = {
    "precision_60": "precision_60_class", "precision_100": "precision_100_class", "ccmas": "ccmas_class",
    "ccmas_morcos": "ccmas_class", "recall_p1": "recall_p1_class", "recall_p95": "recall_p95_class",
    "max_informedness": "mi_class", "mi_recall": "mi_class", "mi_specificity": "mi_class",
    "mi_false_alarm_rate": "mi_class", "mi_false_discovery_rate": "mi_class", "mi_precision": "mi_class",
}  # fmt: skip
OWN_CLASS_MEASURES = ("precision_60", "precision_100", "ccmas", "recall_p1", "recall_p95", "max_informedness")


@dataclass
class ReplicateMeasures:
    values: dict[str, np.ndarray]  # measure -> (R,) float, NaN where the measure is NULL
    classes: dict[str, np.ndarray]  # class column -> (R,) int, -1 where NULL
    own: dict[str, np.ndarray] = field(default_factory=dict)  # measure -> (R,) value of a fixed class


def _informedness_values(ctx: Context, mi: rs.Informedness) -> dict[str, np.ndarray]:
    cls = mi.cls
    n_c = np.where(cls >= 0, ctx.class_n[np.maximum(cls, 0)], 0).astype(np.float64)
    tp, selected = mi.tp.astype(np.float64), mi.selected.astype(np.float64)
    false_pos = selected - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        far = false_pos / (ctx.n_images - n_c)
        out = {
            "max_informedness": mi.value, "mi_recall": tp / n_c, "mi_specificity": 1 - far,
            "mi_false_alarm_rate": far, "mi_false_discovery_rate": false_pos / selected, "mi_precision": tp / selected,
        }  # fmt: skip
    undefined = cls < 0
    return {name: np.where(undefined, np.nan, v) for name, v in out.items()}


def _top_measures(ctx: Context, pre, floor_value, floor_first, class_min_above, fixed):
    values, classes, own = {}, {}, {}
    for k in (60, 100):
        scaled, tie, k_used = top.topk(ctx, pre, k, floor_first)
        winner = top.topk_winner(ctx, pre, scaled, floor_first)
        r = np.arange(scaled.shape[0])
        values[f"precision_{k}"] = scaled[r, winner] / (tie * k_used).astype(np.float64)
        classes[f"precision_{k}_class"] = winner
        if f"precision_{k}_class" in fixed:
            own[f"precision_{k}"] = scaled[:, fixed[f"precision_{k}_class"]] / (tie * k_used).astype(np.float64)
        if k == 100:
            values["n_classes_top100"] = (scaled > 0).sum(axis=1).astype(np.float64)
    for p in ctx.p_levels:
        name = p_name(p)
        value, cls, mine = top.recall_at(ctx, pre, p, fixed.get(f"{name}_class"))
        values[name], classes[f"{name}_class"] = value, cls
        if mine is not None:
            own[name] = mine
    margin = top.localist(ctx, pre, floor_value, class_min_above)
    values["localist_margin"] = margin
    values["is_localist"] = np.where(np.isnan(margin), np.nan, (margin > 0).astype(np.float64))
    return values, classes, own


def _bootstrap_class_min(order: rs.UnitOrder, wb: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Lowest activation among a class's copies above the floor, per replicate (NaN: none)."""
    lo, hi = order.class_bounds[classes], order.class_bounds[classes + 1]
    lens = hi - lo
    out = np.full(classes.size, np.nan)
    if lens.sum() == 0:
        return out
    offsets = np.cumsum(lens) - lens
    rep = np.repeat(np.arange(classes.size), lens)
    pos = np.repeat(lo, lens) + np.arange(lens.sum()) - np.repeat(offsets, lens)
    candidate = np.where(wb[rep, pos] > 0, pos, -1)
    filled = lens > 0
    last = np.maximum.reduceat(candidate, offsets[filled])
    out[filled] = np.where(last >= 0, order.value[order.by_class[np.maximum(last, 0)]], np.nan)
    return out


def _fixed_classes(point: dict | None) -> dict[str, int]:
    if not point:
        return {}
    return {name: int(c) for name, c in point.items() if c is not None and c >= 0}


def bootstrap_unit(ctx: Context, block: Block, order: rs.UnitOrder, consts, copies: np.ndarray, point=None):
    """copies: (R, N) copies of each block column. `point`: the point estimate's class columns."""
    fixed = _fixed_classes(point)
    w = np.take(copies, order.cols, axis=1).astype(np.int32)
    mi, scored, wb, floor, cum = rs.bootstrap_informedness(ctx, order, consts, w)
    length = _prefix_length(order, cum.min(axis=0), ctx.prefix_weight())
    rows = copies.shape[0]
    above_total = ctx.n_images - floor.sum(axis=1)
    labels = np.broadcast_to(order.label, (rows, order.size))
    pre = rs.make_prefix(order, w, labels, floor, above_total, length)
    floor_labels = block.labels[order.floor_cols]

    def floor_first(r: int, c: int) -> int:
        at = order.floor_cols[(floor_labels == c) & (copies[r, order.floor_cols] > 0)]
        return int(block.image_index[at].min()) if at.size else np.iinfo(np.int64).max

    values, classes, own = _top_measures(
        ctx, pre, order.floor_value, floor_first, lambda cls: _bootstrap_class_min(order, wb, cls), fixed
    )
    values.update(_informedness_values(ctx, mi))
    classes["mi_class"] = mi.cls
    if "mi_class" in fixed:
        own["max_informedness"] = rs.class_max_informedness(ctx, order, *scored, floor, fixed["mi_class"])
    sums = rs.class_sums_bootstrap(ctx, order, consts, wb, floor)
    values["ccmas"], classes["ccmas_class"], values["ccmas_morcos"], own_ccmas = rs.ccmas_from_sums(
        ctx, sums, fixed.get("ccmas_class")
    )
    if own_ccmas is not None:
        own["ccmas"] = own_ccmas
    return ReplicateMeasures(values, classes, own)


def _prefix_length(order: rs.UnitOrder, min_cum: np.ndarray, reach: int) -> int:
    """Elements (whole tie groups) so that every replicate's prefix holds `reach` copies."""
    if order.size == 0:
        return 0
    first = min(int(np.searchsorted(min_cum, reach)), order.size - 1)
    return int(order.group_last[first]) + 1


def permutation_unit(ctx: Context, block: Block, order: rs.UnitOrder, labels: np.ndarray):
    """labels: (R, N) the class of each block column in each replicate."""
    lab = np.take(labels, order.cols, axis=1)
    mi, floor, by_class, counts = rs.permutation_informedness(ctx, order, lab)
    rows = labels.shape[0]
    length = _prefix_length(order, np.arange(1, order.size + 1), ctx.prefix_weight())
    above_total = np.full(rows, order.size)
    pre = rs.make_prefix(order, np.ones((rows, length), dtype=np.int64), lab, floor, above_total, length)

    def floor_first(r: int, c: int) -> int:
        at = order.floor_cols[labels[r, order.floor_cols] == c]
        return int(block.image_index[at].min()) if at.size else np.iinfo(np.int64).max

    def class_min_above(cls: np.ndarray) -> np.ndarray:
        r = np.arange(rows)
        n_above = counts[r, cls]
        last = (np.cumsum(counts, axis=1)[r, cls] - 1).clip(0)
        element = by_class[r, last] if by_class is not None else np.zeros(rows, dtype=np.int64)
        return np.where(n_above > 0, order.value[element] if order.size else np.nan, np.nan)

    values, classes, _ = _top_measures(ctx, pre, order.floor_value, floor_first, class_min_above, {})
    values.update(_informedness_values(ctx, mi))
    classes["mi_class"] = mi.cls
    sums = rs.class_sums_permutation(ctx, order, by_class, counts, floor)
    values["ccmas"], classes["ccmas_class"], values["ccmas_morcos"], _ = rs.ccmas_from_sums(ctx, sums)
    return ReplicateMeasures(values, classes)
