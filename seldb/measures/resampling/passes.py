"""One sweep of a unit's order per replicate: everything the replicate measures need from it.

A `Pass` is what a chunk of replicates of one unit leaves after the single
cumulative sweep over the unit's sorted images: the informedness pick, the
copies and activation sums per class, each class's lowest activation above
the floor, and how long a prefix the top measures must read. Two engines
build it: numpy (the reference, always available) and numba (compiled, used
when installed; `seldb.measures.resampling.compiled`). `engine()` says which one
runs; SELDB_RESAMPLE_ENGINE=numpy forces the reference.
"""

from __future__ import annotations

import os

import numpy as np

from seldb.errors import InputError
from seldb.measures.resampling import replicate_measures as rs
from seldb.measures.resampling.replicate_measures import Pass, prefix_length
from seldb.measures.resampling.top import Context

ENGINES = ("numpy", "numba")


def numba_available() -> bool:
    try:
        import seldb.measures.resampling.compiled  # noqa: F401
    except ImportError:
        return False
    return True


def engine(requested: str | None = None) -> str:
    """The engine to use: `requested`, else SELDB_RESAMPLE_ENGINE, else numba when installed."""
    name = requested or os.environ.get("SELDB_RESAMPLE_ENGINE") or ("numba" if numba_available() else "numpy")
    if name not in ENGINES:
        raise InputError(f"unknown resampling engine {name!r}: expected one of {', '.join(ENGINES)}")
    if name == "numba" and not numba_available():
        raise InputError("the numba engine needs numba: pip install 'seldb[fast]'")
    return name


def bootstrap_pass(
    ctx: Context,
    order: rs.UnitOrder,
    consts,
    copies: np.ndarray,
    fixed_mi_class: int | None,
    engine_name: str = "numpy",
) -> Pass:
    """copies: (R, N) copies of each block column."""
    if engine_name == "numba":
        from seldb.measures.resampling.compiled import bootstrap_pass_numba

        return bootstrap_pass_numba(ctx, order, copies, fixed_mi_class)
    w = np.take(copies, order.cols, axis=1).astype(np.int32)
    mi, scored, wb, floor, cum = rs.bootstrap_informedness(ctx, order, consts, w)
    own = None
    if fixed_mi_class is not None:
        own = rs.class_max_informedness(ctx, order, *scored, floor, fixed_mi_class)
    sums = rs.class_sums_bootstrap(ctx, order, consts, wb, floor)
    first = int(np.searchsorted(cum.min(axis=0), ctx.prefix_weight())) if order.size else 0
    return Pass(mi, floor, sums, _class_low_bootstrap(ctx, order, wb), prefix_length(order, first), own)


def _class_low_bootstrap(ctx: Context, order: rs.UnitOrder, wb: np.ndarray) -> np.ndarray:
    low = np.full((wb.shape[0], ctx.n_classes), np.nan)
    filled = np.flatnonzero(np.diff(order.class_bounds))
    if filled.size:
        candidate = np.where(wb > 0, np.arange(wb.shape[1]), -1)
        last = np.maximum.reduceat(candidate, order.class_bounds[filled], axis=1)
        low[:, filled] = np.where(last >= 0, order.value[order.by_class[np.maximum(last, 0)]], np.nan)
    return low


def permutation_pass(ctx: Context, order: rs.UnitOrder, labels: np.ndarray, engine_name: str = "numpy") -> Pass:
    """labels: (R, N) the class of each block column."""
    if engine_name == "numba":
        from seldb.measures.resampling.compiled import permutation_pass_numba

        return permutation_pass_numba(ctx, order, labels)
    lab = np.take(labels, order.cols, axis=1)
    mi, floor, by_class, counts = rs.permutation_informedness(ctx, order, lab)
    sums = rs.class_sums_permutation(ctx, order, by_class, counts, floor)
    low = np.full(counts.shape, np.nan)
    if by_class is not None:
        r, c = np.nonzero(counts > 0)
        last = (np.cumsum(counts, axis=1) - 1)[r, c]
        low[r, c] = order.value[by_class[r, last]]
    first = ctx.prefix_weight() - 1  # every element is one copy
    return Pass(mi, floor, sums, low, prefix_length(order, first))
