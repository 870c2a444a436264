"""The compiled loop of seldb.h5.transpose, in a module of its own so that only the pass that uses it
pays for importing numba."""

from __future__ import annotations

from numba import njit

TILE = 16  # values per side of a tile: a tile row of float32 is one 64-byte cache line (16 beat 32, 64, 128)


@njit(nogil=True, cache=True)
def transpose_tiles(rows, panel, bad):  # pragma: no cover - compiled
    """panel[u, r] = rows[r, u] tile by tile; bad[r] = True where row r holds a NaN or an infinity."""
    n, units = rows.shape
    for r0 in range(0, n, TILE):
        r1 = min(n, r0 + TILE)
        for u0 in range(0, units, TILE):
            u1 = min(units, u0 + TILE)
            for r in range(r0, r1):
                spoilt = 0.0  # v - v is 0 for a finite value, NaN for NaN and +-inf: no branch per value
                for u in range(u0, u1):
                    v = rows[r, u]
                    panel[u, r] = v
                    spoilt += v - v
                if spoilt != 0.0:
                    bad[r] = True
