"""Compiled sweeps over a unit's order for many replicates (optional: needs numba).

The numpy passes (`seldb.measures.resampling.passes`) are the reference: they
build (replicates x elements) arrays and reduce them, a dozen memory passes
per unit. These kernels do the same work in one loop per replicate, reading
the draws straight from the (replicates x images) matrix, and return the
same `Pass`. Every integer count is the same; informedness candidates are
scored with the same float operations in the same order, so the chosen
(class, threshold) and every measure computed from its counts are identical.
Per-class activation sums are added in activation order (numpy's reduceat
adds pairwise), so CCMAS may differ from the numpy path in the last bits when
the sums are inexact (tests/test_resample_engines.py).

The kernels release the GIL, so blocks of units run on worker threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from seldb.measures.resampling import replicate_measures as rs
from seldb.measures.resampling.replicate_measures import Pass, prefix_length
from seldb.measures.resampling.top import Context
from seldb.measures.sweep import TIE


@njit(nogil=True, cache=True)
def _bootstrap_sweep(
    draws,
    cols,
    label,
    group,
    group_last,
    value,
    floor_value,
    class_n,
    slope_tp,
    slope_sel,
    reach,
    fixed_class,
    by_class,
    class_bounds,
    best_out,
    pick,
    own,
    floor,
    sums,
    low,
    reach_at,
):
    """Per replicate r (draws[r]: copies of each image): every candidate scored as the numpy pass
    scores it (TP * slope_tp - selected * slope_sel, minus 4 where its class has no copy yet),
    their max (best_out), the pick (see _pick), the fixed class's first best candidate (own: TP,
    selected, found), copies per class at the floor, activation sums and lowest activation above
    it, and the first element where the copies reach `reach`."""
    rows, m, k = draws.shape[0], cols.size, class_n.size
    copies = np.empty(m, dtype=draws.dtype)
    cum = np.empty(m, dtype=np.int32)
    tp_at = np.empty(m, dtype=np.int32)
    score = np.empty(m, dtype=np.float64)
    # per class, side by side (one cache line per lookup): copies so far, the two slopes, the sum
    state = np.zeros((k, 4), dtype=np.float64)
    state[:, 1], state[:, 2] = slope_tp, slope_sel
    for r in range(rows):
        row, low_r = draws[r], low[r]
        total = 0
        for j in range(m):  # the gather alone first: its loads do not wait on the counts
            copies[j] = row[cols[j]]
        for j in range(m):
            total += copies[j]
            cum[j] = total
        reach_at[r] = np.searchsorted(cum, reach)
        state[:, 0], state[:, 3] = 0.0, 0.0
        best, own_best, own_found = -np.inf, -np.inf, 0
        for j in range(m):
            w, c = copies[j], label[j]
            tp = state[c, 0] + w  # a count, exact in float64
            state[c, 0] = tp
            tp_at[j] = np.int32(tp)
            selected = cum[group_last[j]]
            s = tp * state[c, 1]
            s -= np.float64(selected) * state[c, 2]
            if tp == 0:
                s -= 4.0
            score[j] = s
            best = max(best, s)
            state[c, 3] += np.float64(w) * value[j]  # no branch: w = 0 adds a zero, as numpy's sum does
            if c == fixed_class and (own_found == 0 or s > own_best):
                own_best, own_found = s, 1
                own[r, 0], own[r, 1] = np.int64(tp), selected
        own[r, 2] = own_found
        best_out[r] = best
        _pick(score, best, label, group, group_last, tp_at, cum, k, pick[r])
        for c in range(k):  # each class's lowest element with a copy: from its end, a few steps
            for at in range(class_bounds[c + 1] - 1, class_bounds[c] - 1, -1):
                if copies[by_class[at]] > 0:
                    low_r[c] = value[by_class[at]]
                    break
        for c in range(k):  # sums as the numpy pass makes them: the floor's, plus the copies above it
            floor[r, c] = class_n[c] - np.int64(state[c, 0])
            sums[r, c] = np.float64(floor[r, c]) * floor_value
            if class_bounds[c + 1] > class_bounds[c]:
                sums[r, c] += state[c, 3]


@njit(nogil=True, cache=True)
def _permutation_sweep(
    draws, cols, group, group_last, value, floor_value, class_n, slope_tp, slope_sel, best_out, pick, floor, sums, low
):
    """As _bootstrap_sweep with draws[r] the label of each image (one copy each)."""
    rows, m, k = draws.shape[0], cols.size, class_n.size
    cls = np.empty(m, dtype=np.int32)
    cum = np.arange(1, m + 1).astype(np.int32)
    tp_at = np.empty(m, dtype=np.int32)
    score = np.empty(m, dtype=np.float64)
    state = np.zeros((k, 4), dtype=np.float64)  # as in _bootstrap_sweep
    state[:, 1], state[:, 2] = slope_tp, slope_sel
    for r in range(rows):
        low_r = low[r]
        state[:, 0], state[:, 3] = 0.0, 0.0
        best = -np.inf
        for j in range(m):  # the gather alone first: its loads do not wait on the counts
            cls[j] = draws[r, cols[j]]
        for j in range(m):
            c = cls[j]
            tp = state[c, 0] + 1.0
            state[c, 0] = tp
            tp_at[j] = np.int32(tp)
            s = tp * state[c, 1]
            s -= np.float64(group_last[j] + 1) * state[c, 2]
            score[j] = s
            best = max(best, s)
            state[c, 3] += value[j]
            low_r[c] = value[j]
        best_out[r] = best
        _pick(score, best, cls, group, group_last, tp_at, cum, k, pick[r])
        for c in range(k):
            floor[r, c] = class_n[c] - np.int64(state[c, 0])
            sums[r, c] = np.float64(floor[r, c]) * floor_value
            if state[c, 0] > 0:
                sums[r, c] += state[c, 3]


@njit(nogil=True, cache=True)
def _pick(score, best, cls, group, group_last, tp_at, cum, k, out):
    """out = class, TP, selected, group of the first element within TIE of `best` with the
    smallest (group, class) key (class -1: none). Equal keys near the best have equal counts."""
    chosen, chosen_key, limit = -1, np.int64(0), best - TIE
    for j in range(score.size):
        if score[j] >= limit:
            key = np.int64(group[j]) * k + cls[j]
            if chosen < 0 or key < chosen_key:
                chosen, chosen_key = j, key
    out[0], out[1], out[2], out[3] = -1, 0, 0, -1
    if chosen >= 0:
        out[0], out[1], out[2], out[3] = cls[chosen], tp_at[chosen], cum[group_last[chosen]], group[chosen]


def _run(ctx: Context, order: rs.UnitOrder, draws: np.ndarray, is_bootstrap: bool, fixed: int | None):
    rows, k = draws.shape[0], ctx.n_classes
    class_n = ctx.class_n.astype(np.float64)
    with np.errstate(divide="ignore"):  # one analysed class: inf, and informedness is NULL anyway
        slope_sel = 1.0 / (ctx.n_images - class_n)
        slope_tp = 1.0 / class_n + slope_sel
    out = {
        "best": np.empty(rows),
        "pick": np.empty((rows, 4), dtype=np.int64),
        "own": np.zeros((rows, 3), dtype=np.int64),
        "floor": np.empty((rows, k), dtype=np.int64),
        "sums": np.empty((rows, k)),
        "low": np.full((rows, k), np.nan),
        "reach_at": np.zeros(rows, dtype=np.int64),
    }
    draws = np.ascontiguousarray(draws)
    shared = (
        order.group.astype(np.int32),
        order.group_last.astype(np.int32),
        order.value.astype(np.float64),
        np.float64(order.floor_value),
        ctx.class_n.astype(np.int64),
        slope_tp,
        slope_sel,
    )
    cols = order.cols.astype(np.int64)
    if is_bootstrap:
        _bootstrap_sweep(
            draws,
            cols,
            order.label.astype(np.int32),
            *shared,
            ctx.prefix_weight(),
            -1 if fixed is None else fixed,
            order.by_class.astype(np.int64),
            order.class_bounds.astype(np.int64),
            out["best"],
            out["pick"],
            out["own"],
            out["floor"],
            out["sums"],
            out["low"],
            out["reach_at"],
        )
    else:
        _permutation_sweep(draws, cols, *shared, out["best"], out["pick"], out["floor"], out["sums"], out["low"])
        out["reach_at"][:] = ctx.prefix_weight() - 1  # one copy per element
    return out


def _finish(ctx: Context, order: rs.UnitOrder, out: dict, fixed: int | None) -> Pass:
    rows = out["best"].size
    floor, pick = out["floor"], out["pick"]
    above_wins, floor_class = rs.mi_pick(ctx, out["best"], floor)
    above_wins &= pick[:, 0] >= 0
    mi = rs.finish_mi(ctx, rows, above_wins, floor_class, pick[:, 0], pick[:, 1], pick[:, 2], pick[:, 3])
    own = None
    if fixed is not None:
        own_counts = out["own"]
        own = rs.own_informedness(ctx, fixed, own_counts[:, 0], own_counts[:, 1], own_counts[:, 2] > 0, floor)
    first = int(out["reach_at"].max()) if rows else order.size
    return Pass(mi, floor, out["sums"], out["low"], prefix_length(order, first), own)


def bootstrap_pass_numba(ctx: Context, order: rs.UnitOrder, copies: np.ndarray, fixed: int | None) -> Pass:
    return _finish(ctx, order, _run(ctx, order, copies, True, fixed), fixed)


def permutation_pass_numba(ctx: Context, order: rs.UnitOrder, labels: np.ndarray) -> Pass:
    return _finish(ctx, order, _run(ctx, order, labels, False, None), None)
