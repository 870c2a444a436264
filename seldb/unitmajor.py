"""A layer copied once, units x images, into a temporary file: every layout then reads alike.

Measures read a layer by blocks of units (all images of a few hundred units
at a time), but files are written by rows of images, in whatever layout the
writer chose: contiguous (h5py's default), chunked by whole rows, tiled,
compressed. Reading columns from a row-major layout costs one small read per
image per block - hundreds of thousands of system calls - or decompresses
every chunk again for every block.

So the layer is read once, sequentially, by big row blocks (the pass that
checks for NaN does it), and each row block is written transposed as one
"panel" (units x rows) to a temporary file. A block of units is then one
contiguous read per panel. The file is created unlinked (O_TMPFILE, or
unlinked at once), so no exit - an error, Ctrl-C, even SIGKILL - leaves it
behind. Reads are pread() into ordinary memory, not mmap: mapped pages would
count in the resident size the import promises to bound.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

PANEL_BYTES = 128 << 20  # one row block of a layer in memory (twice: as read and transposed)


class Buffers:
    """Arrays kept by one thread from block to block (its blocks are read into the same memory).

    Arrays beyond ~32 MB are mapped afresh by malloc at each allocation and
    page-faulted in, zeroed, by the kernel: system time. A caller that is
    done with a block's values before it reads the next passes its Buffers.
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def take(self, name: str, size: int, dtype) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.size < size or array.dtype != dtype:
            array = self._arrays[name] = np.empty(size, dtype=dtype)
        return array[:size]


def panel_rows(n_units: int, itemsize: int, chunk_rows: int = 1) -> int:
    """Rows per panel: ~PANEL_BYTES, a whole number of the file's chunks (each chunk read once)."""
    rows = max(1, PANEL_BYTES // max(1, n_units * itemsize))
    return max(chunk_rows, rows - rows % chunk_rows)


class UnitMajorCopy:
    """Panels of rows [r0, r0 + rows) stored units x rows, one after the other."""

    def __init__(self, n_rows: int, n_units: int, dtype: np.dtype, rows_per_panel: int):
        self.n_rows, self.n_units, self.dtype = n_rows, n_units, np.dtype(dtype)
        self.rows_per_panel = rows_per_panel
        self._file = tempfile.TemporaryFile(prefix="seldb-unit-major-")  # unlinked from the start
        self._fd = self._file.fileno()
        self._panel: np.ndarray | None = None  # the transposing buffer of write()

    @staticmethod
    def bytes_needed(n_rows: int, n_units: int, dtype) -> int:
        return n_rows * n_units * np.dtype(dtype).itemsize

    def _offset(self, r0: int) -> int:
        return r0 * self.n_units * self.dtype.itemsize

    def write(self, r0: int, rows: np.ndarray) -> None:
        """Store rows r0.. (images x units, r0 a multiple of rows_per_panel) as one panel."""
        panel = self._transposed(rows)
        view, offset = memoryview(panel).cast("B"), self._offset(r0)
        while view.nbytes:  # a regular file writes everything at once, but pwrite may stop short
            done = os.pwrite(self._fd, view, offset)
            view, offset = view[done:], offset + done

    def _transposed(self, rows: np.ndarray, tile: int = 256) -> np.ndarray:
        """rows.T into a buffer kept from panel to panel, tile by tile (a plain transposed copy
        walks memory with a stride of a whole row, and would allocate the panel anew each time)."""
        n, units = rows.shape
        if self._panel is None or self._panel.size < rows.size:
            self._panel = np.empty(rows.size, dtype=self.dtype)
        panel = self._panel[: rows.size].reshape(units, n)
        for r0 in range(0, n, tile):
            for u0 in range(0, units, tile):
                panel[u0 : u0 + tile, r0 : r0 + tile] = rows[r0 : r0 + tile, u0 : u0 + tile].T
        return panel

    def _read_panel(self, p: int, u0: int, u1: int, out: np.ndarray) -> np.ndarray:
        r0 = p * self.rows_per_panel
        width = min(self.rows_per_panel, self.n_rows - r0)
        panel = out[: (u1 - u0) * width].reshape(u1 - u0, width)
        offset = self._offset(r0) + u0 * width * self.dtype.itemsize
        view = memoryview(panel).cast("B")
        while view.nbytes:
            done = os.preadv(self._fd, [view], offset)
            if done == 0:
                raise OSError(f"temporary copy of the layer ended early at byte {offset}")
            view, offset = view[done:], offset + done
        return panel

    def plan(self, rows: np.ndarray) -> list[tuple[int, np.ndarray | slice, np.ndarray | slice]]:
        """For reading `rows` (in that order): per panel, the output positions and the panel's columns
        (slices where a whole panel lands in order, as when every row is read)."""
        rows = np.asarray(rows, dtype=np.int64)
        panel_of = rows // self.rows_per_panel
        order = np.argsort(panel_of, kind="stable")
        bounds = np.searchsorted(panel_of[order], np.arange(panel_of.max(initial=0) + 2))
        plan = []
        for p in range(bounds.size - 1):
            where = order[bounds[p] : bounds[p + 1]]
            if not where.size:
                continue
            local = rows[where] - p * self.rows_per_panel
            width = min(self.rows_per_panel, self.n_rows - p * self.rows_per_panel)
            if where.size == width and np.array_equal(local, np.arange(width)) and np.all(np.diff(where) == 1):
                plan.append((p, slice(int(where[0]), int(where[0]) + width), slice(None)))
            else:
                plan.append((p, where, local))
        return plan

    def read(self, u0: int, u1: int, plan, n_out: int, buffers: Buffers | None = None) -> np.ndarray:
        """Units u0..u1-1 at the planned rows: an array (units, len(rows)), in `buffers` when given."""
        buffers = buffers or Buffers()
        out = buffers.take("values", (u1 - u0) * n_out, self.dtype).reshape(u1 - u0, n_out)
        scratch = buffers.take("panel", (u1 - u0) * min(self.rows_per_panel, self.n_rows), self.dtype)
        for p, where, local in plan:
            panel = self._read_panel(p, u0, u1, scratch)
            out[:, where] = panel[:, local]
        return out

    def close(self) -> None:
        self._panel = None
        self._file.close()
