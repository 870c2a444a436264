"""Replicates of every scalar measure for a block of units.

`block_replicates` lays a block out once (`prepare_block`, one `UnitOrder`
per unit), then walks the replicates in chunks small enough that a chunk's
draws and one unit's (elements x replicates) arrays stay within a fixed
budget, whatever the number of replicates. Each chunk's draws are generated
from their own per-replicate seeds, so the numbers are the same for any
block size, chunk size or thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seldb.errors import InputError
from seldb.measures import resample as rs
from seldb.measures.block import prepare_block
from seldb.measures.replicates import BOOTSTRAP, PERMUTATION, Draws
from seldb.measures.resample_top import Context
from seldb.measures.resample_unit import CLASS_OF, OWN_CLASS_MEASURES, VALUE_MEASURES, bootstrap_unit, permutation_unit

CHUNK_ELEMENTS = 1 << 21  # images x replicates per chunk: ~8 MB per int32 array


@dataclass
class Replicates:
    """Per measure a (units, replicates) array; NaN (values) or -1 (classes) where NULL."""

    kind: str
    values: dict[str, np.ndarray]
    classes: dict[str, np.ndarray]
    own: dict[str, np.ndarray]  # bootstrap only: the point estimate's class's own value

    @property
    def n_replicates(self) -> int:
        return next(iter(self.values.values())).shape[1]


def chunk_size(n_images: int, n_replicates: int) -> int:
    return max(1, min(n_replicates, CHUNK_ELEMENTS // max(n_images, 1)))


def _empty(kind: str, n_units: int, n_replicates: int) -> Replicates:
    class_columns = sorted(set(CLASS_OF.values()))
    return Replicates(
        kind,
        {m: np.full((n_units, n_replicates), np.nan) for m in VALUE_MEASURES},
        {c: np.full((n_units, n_replicates), -1, dtype=np.int64) for c in class_columns},
        {m: np.full((n_units, n_replicates), np.nan) for m in OWN_CLASS_MEASURES} if kind == BOOTSTRAP else {},
    )


def block_replicates(
    values: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    kind: str,
    n_replicates: int,
    seed: int,
    *,
    point_classes: list[dict] | None = None,
    image_index: np.ndarray | None = None,
    p_levels=(1.0, 0.95),
) -> Replicates:
    """values (images, units), labels (images,). `point_classes[u]`: unit u's point-estimate class
    columns (e.g. {"mi_class": 3}), for the bootstrap's own-class values."""
    if kind not in (BOOTSTRAP, PERMUTATION):
        raise InputError(f"unknown replicate kind {kind!r}: expected {BOOTSTRAP!r} or {PERMUTATION!r}")
    if n_replicates < 1:
        raise InputError(f"the number of {kind} replicates must be at least 1, got {n_replicates}")
    block = prepare_block(values, labels, n_classes, image_index)
    draws = Draws(labels, n_classes, seed)
    ctx = Context(block.n_images, block.class_n, (60, 100), tuple(p_levels))
    rank = rs.image_rank(block)
    orders = [rs.unit_order(block, u, rank) for u in range(block.n_units)]
    consts = [rs.class_order_constants(ctx, o) for o in orders] if kind == BOOTSTRAP else None
    out = _empty(kind, block.n_units, n_replicates)
    step = chunk_size(block.n_images, n_replicates)
    for lo in range(0, n_replicates, step):
        reps = range(lo, min(n_replicates, lo + step))
        if kind == BOOTSTRAP:
            copies = np.stack([draws.bootstrap_block(r) for r in reps])  # (R, N)
        else:
            relabelled = np.stack([draws.permutation_block(r) for r in reps]).astype(np.int16)  # (R, N)
        for u, order in enumerate(orders):
            if kind == BOOTSTRAP:
                point = point_classes[u] if point_classes else None
                got = bootstrap_unit(ctx, block, order, consts[u], copies, point)
            else:
                got = permutation_unit(ctx, block, order, relabelled)
            cols = slice(reps.start, reps.stop)
            for name, v in got.values.items():
                out.values[name][u, cols] = v
            for name, v in got.classes.items():
                out.classes[name][u, cols] = v
            for name, v in got.own.items():
                out.own[name][u, cols] = v
    return out
