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

from seldb.measures.block import Block
from seldb.measures.compute import p_name
from seldb.measures.resampling import replicate_measures as rs
from seldb.measures.resampling import top
from seldb.measures.resampling.passes import bootstrap_pass, permutation_pass
from seldb.measures.resampling.top import Context

VALUE_MEASURES = (
    "precision_60",
    "precision_100",
    "n_classes_top100",
    "ccmas",
    "ccmas_morcos",
    "localist_margin",
    "is_localist",
    "recall_p1",
    "recall_p95",
    "max_informedness",
    "mi_recall",
    "mi_specificity",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "mi_precision",
)
CLASS_OF = {
    "precision_60": "precision_60_class",
    "precision_100": "precision_100_class",
    "ccmas": "ccmas_class",
    "ccmas_morcos": "ccmas_class",
    "recall_p1": "recall_p1_class",
    "recall_p95": "recall_p95_class",
    "max_informedness": "mi_class",
    "mi_recall": "mi_class",
    "mi_specificity": "mi_class",
    "mi_false_alarm_rate": "mi_class",
    "mi_false_discovery_rate": "mi_class",
    "mi_precision": "mi_class",
}
OPTIMISM_MEASURES = ("max_informedness", "ccmas", "ccmas_morcos")
OWN_CLASS_MEASURES = ("precision_60", "precision_100", "ccmas", "recall_p1", "recall_p95", "max_informedness")


@dataclass
class ReplicateMeasures:
    values: dict[str, np.ndarray]  # measure -> (R,) float, NaN where the measure is NULL
    classes: dict[str, np.ndarray]  # class column -> (R,) int, -1 where NULL
    own: dict[str, np.ndarray] = field(default_factory=dict)  # measure -> (R,) value of a fixed class
    # measure -> (R,) replicate value minus the original sample's value at the replicate's own choice
    # of class and threshold (the bootstrap estimate of a maximum's selection bias, Efron's optimism)
    optimism: dict[str, np.ndarray] = field(default_factory=dict)


def _informedness_values(ctx: Context, mi: rs.Informedness) -> dict[str, np.ndarray]:
    cls = mi.cls
    n_c = np.where(cls >= 0, ctx.class_n[np.maximum(cls, 0)], 0).astype(np.float64)
    tp, selected = mi.tp.astype(np.float64), mi.selected.astype(np.float64)
    false_pos = selected - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        far = false_pos / (ctx.n_images - n_c)
        out = {
            "max_informedness": mi.value,
            "mi_recall": tp / n_c,
            "mi_specificity": 1 - far,
            "mi_false_alarm_rate": far,
            "mi_false_discovery_rate": false_pos / selected,
            "mi_precision": tp / selected,
        }
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


def _fixed_classes(point: dict | None) -> dict[str, int]:
    if not point:
        return {}
    return {name: int(c) for name, c in point.items() if c is not None and c >= 0}


def bootstrap_unit(
    ctx: Context, block: Block, order: rs.UnitOrder, consts, copies: np.ndarray, point=None, engine: str = "numpy"
) -> ReplicateMeasures:
    """copies: (R, N) copies of each block column. `point`: the point estimate's class columns."""
    fixed = _fixed_classes(point)
    swept = bootstrap_pass(ctx, order, consts, copies, fixed.get("mi_class"), engine)
    rows = copies.shape[0]
    length = swept.prefix_length
    w = np.take(copies, order.cols[:length], axis=1).astype(np.int32)
    above_total = ctx.n_images - swept.floor.sum(axis=1)
    labels = np.broadcast_to(order.label[:length], (rows, length))
    pre = rs.make_prefix(order, w, labels, swept.floor, above_total, length)
    floor_labels = block.labels[order.floor_cols]

    def floor_first(r: int, c: int) -> int:
        at = order.floor_cols[(floor_labels == c) & (copies[r, order.floor_cols] > 0)]
        return int(block.image_index[at].min()) if at.size else np.iinfo(np.int64).max

    values, classes, own = _top_measures(
        ctx, pre, order.floor_value, floor_first, lambda cls: swept.class_low[np.arange(rows), cls], fixed
    )
    values.update(_informedness_values(ctx, swept.mi))
    classes["mi_class"] = swept.mi.cls
    if swept.own_mi is not None:
        own["max_informedness"] = swept.own_mi
    values["ccmas"], classes["ccmas_class"], values["ccmas_morcos"], own_ccmas = rs.ccmas_from_sums(
        ctx, swept.sums, fixed.get("ccmas_class")
    )
    if own_ccmas is not None:
        own["ccmas"] = own_ccmas
    optimism = {"max_informedness": swept.mi.value - rs.sample_informedness(ctx, order, swept.mi)}
    optimism.update(_ccmas_optimism(ctx, order, values, classes["ccmas_class"]))
    return ReplicateMeasures(values, classes, own, optimism)


def _ccmas_optimism(ctx: Context, order: rs.UnitOrder, values: dict, cls: np.ndarray) -> dict[str, np.ndarray]:
    """Each replicate's CCMAS (both forms) minus the original images' CCMAS of the class the replicate
    chose: the selection bias of taking the class with the highest mean (docs/uncertainty.md)."""
    by_class = rs.ccmas_by_class(ctx, rs.sample_class_sums(ctx, order))
    at = np.maximum(cls, 0)
    return {
        name: np.where(cls >= 0, values[name] - sample[at], np.nan)
        for name, sample in zip(("ccmas", "ccmas_morcos"), by_class)
    }


def permutation_unit(
    ctx: Context, block: Block, order: rs.UnitOrder, labels: np.ndarray, engine: str = "numpy"
) -> ReplicateMeasures:
    """labels: (R, N) the class of each block column in each replicate."""
    swept = permutation_pass(ctx, order, labels, engine)
    rows, length = labels.shape[0], swept.prefix_length
    lab = np.take(labels, order.cols[:length], axis=1)
    above_total = np.full(rows, order.size)
    pre = rs.make_prefix(order, np.ones((rows, length), dtype=np.int64), lab, swept.floor, above_total, length)

    def floor_first(r: int, c: int) -> int:
        at = order.floor_cols[labels[r, order.floor_cols] == c]
        return int(block.image_index[at].min()) if at.size else np.iinfo(np.int64).max

    values, classes, _ = _top_measures(
        ctx, pre, order.floor_value, floor_first, lambda cls: swept.class_low[np.arange(rows), cls], {}
    )
    values.update(_informedness_values(ctx, swept.mi))
    classes["mi_class"] = swept.mi.cls
    values["ccmas"], classes["ccmas_class"], values["ccmas_morcos"], _ = rs.ccmas_from_sums(ctx, swept.sums)
    return ReplicateMeasures(values, classes)
