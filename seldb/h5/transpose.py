"""A block of rows transposed into a units-first panel, checked for NaN and infinities on the way.

The import's check-and-copy pass (seldb.h5.unitmajor, seldb.load.checkpass)
touches every activation of the file in memory twice if it checks and
transposes separately: numpy's isfinite over the block, then a tiled copy
into the panel. One compiled loop over cache-sized tiles does both while
each value is in a register (about 3x less CPU for the pass's in-memory
work at AlexNet scale). numba is optional (`pip install 'seldb[fast]'`);
without it, or for dtypes it does not compile (float16), numpy does the same
in two steps. Both give the same panel and the same rows, bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def transpose_checked(rows: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """panel[:, :n] = rows.T and panel[:, n:] = 0, for rows of shape (n, units) and a panel of shape
    (units, stride >= n); returns, per row, whether it holds a NaN or an infinity."""
    kernel = _compiled()
    if kernel is None or rows.dtype not in COMPILED_DTYPES or rows.dtype != panel.dtype:
        return transpose_checked_numpy(rows, panel)
    bad = np.zeros(rows.shape[0], dtype=np.bool_)
    kernel(np.ascontiguousarray(rows), panel, bad)
    panel[:, rows.shape[0] :] = 0
    return bad


def transpose_checked_numpy(rows: np.ndarray, panel: np.ndarray, tile: int = 256) -> np.ndarray:
    """The same in numpy: a tiled copy (a plain transposed copy walks memory a whole row apart at
    every value), then isfinite over the rows."""
    n, units = rows.shape
    for r0 in range(0, n, tile):
        r1 = min(n, r0 + tile)
        for u0 in range(0, units, tile):
            panel[u0 : u0 + tile, r0:r1] = rows[r0:r1, u0 : u0 + tile].T
    panel[:, n:] = 0
    return ~np.isfinite(rows).all(axis=1)


@functools.cache
def _compiled() -> Callable | None:
    try:
        from seldb.h5.transpose_kernel import transpose_tiles
    except ImportError:
        return None
    return transpose_tiles
