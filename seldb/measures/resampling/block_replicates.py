"""Replicates of every scalar measure for a block of units.

`block_replicates` lays a block out once (`prepare_block`), sorts each unit
once (`UnitOrder`) for every kind of replicate, then walks the replicates in chunks small enough that a chunk's
draws and one unit's (elements x replicates) arrays stay within a fixed
budget, whatever the number of replicates. Each chunk's draws are generated
from their own per-replicate seeds, so the numbers are the same for any
block size, chunk size or thread count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seldb.errors import InputError
from seldb.measures.block import prepare_block
from seldb.measures.resampling import replicate_measures as rs
from seldb.measures.resampling.draws import BOOTSTRAP, PERMUTATION, Draws
from seldb.measures.resampling.passes import engine as pick_engine
from seldb.measures.resampling.top import Context
from seldb.measures.resampling.unit_replicates import (
    CLASS_OF,
    OPTIMISM_MEASURES,
    OWN_CLASS_MEASURES,
    VALUE_MEASURES,
    bootstrap_unit,
    permutation_unit,
)

CHUNK_ELEMENTS = 1 << 22  # images x replicates per chunk: 4 MB of uint8 draws, 16 MB per int32 array


@dataclass
class Replicates:
    """Per measure a (units, replicates) array; NaN (values) or -1 (classes) where NULL."""

    kind: str
    values: dict[str, np.ndarray]
    classes: dict[str, np.ndarray]
    own: dict[str, np.ndarray]  # bootstrap only: the point estimate's class's own value
    optimism: dict[str, np.ndarray] = field(default_factory=dict)  # bootstrap only: see ReplicateMeasures

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
        {m: np.full((n_units, n_replicates), np.nan) for m in OPTIMISM_MEASURES} if kind == BOOTSTRAP else {},
    )


def block_replicates(
    values: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    draws: dict[str, np.ndarray],
    *,
    point_classes: list[dict] | None = None,
    image_index: np.ndarray | None = None,
    p_levels=(1.0, 0.95),
    engine: str | None = None,
) -> dict[str, Replicates]:
    """values (images, units), labels (images,); draws: kind -> `Draws(labels, ...).matrix(kind, R)`.
    `point_classes[u]`: unit u's point-estimate class columns (e.g. {"mi_class": 3}), for the
    bootstrap's own-class values. Each unit is sorted once for every kind. `engine`: numpy or
    numba (default: numba when installed, see resample_pass.engine)."""
    engine = pick_engine(engine)
    for kind in draws:
        if kind not in (BOOTSTRAP, PERMUTATION):
            raise InputError(f"unknown replicate kind {kind!r}: expected {BOOTSTRAP!r} or {PERMUTATION!r}")
    block = prepare_block(values, labels, n_classes, image_index)
    for kind, matrix in draws.items():
        if matrix.ndim != 2 or matrix.shape[1] != block.n_images or matrix.shape[0] < 1:
            raise InputError(f"{kind} draws have shape {matrix.shape}, expected (replicates, {block.n_images})")
    ctx = Context(block.n_images, block.class_n, (60, 100), tuple(p_levels))
    rank = rs.image_rank(block)
    out = {kind: _empty(kind, block.n_units, matrix.shape[0]) for kind, matrix in draws.items()}
    for u in range(block.n_units):
        order = rs.unit_order(block, u, rank)
        consts = rs.class_order_constants(ctx, order) if BOOTSTRAP in draws and engine == "numpy" else None
        point = point_classes[u] if point_classes else None
        for kind, matrix in draws.items():
            step = matrix.shape[0] if engine == "numba" else chunk_size(block.n_images, matrix.shape[0])
            for lo in range(0, matrix.shape[0], step):
                chunk = matrix[lo : lo + step]
                if kind == BOOTSTRAP:
                    got = bootstrap_unit(ctx, block, order, consts, chunk, point, engine)
                else:
                    got = permutation_unit(ctx, block, order, chunk, engine)
                _store(out[kind], u, slice(lo, lo + chunk.shape[0]), got)
    return out


def _store(out: Replicates, unit: int, cols: slice, got) -> None:
    for name, v in got.values.items():
        out.values[name][unit, cols] = v
    for name, v in got.classes.items():
        out.classes[name][unit, cols] = v
    for name, v in got.own.items():
        out.own[name][unit, cols] = v
    for name, v in got.optimism.items():
        out.optimism[name][unit, cols] = v


def replicates_for(values, labels, n_classes: int, kind: str, n_replicates: int, seed: int, **options) -> Replicates:
    """block_replicates of one kind with the draws made here (for one-off use and tests)."""
    if n_replicates < 1:
        raise InputError(f"the number of {kind} replicates must be at least 1, got {n_replicates}")
    draws = Draws(labels, n_classes, seed).matrix(kind, n_replicates)
    return block_replicates(values, labels, n_classes, {kind: draws}, **options)[kind]
