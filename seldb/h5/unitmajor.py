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
contiguous read per panel. The file is unlinked as soon as it is open, so
no exit - an error, Ctrl-C, even SIGKILL - leaves it behind. Reads and
writes are direct I/O where the filesystem allows it, into ordinary memory
(not mmap: mapped pages would count in the resident size the import
promises to bound).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from seldb.h5.transpose import transpose_checked

PANEL_BYTES = 128 << 20  # one row block of a layer in memory (twice: as read and transposed)
ALIGN = 4096  # direct I/O moves whole, aligned blocks of the disk


def _aligned(nbytes: int, dtype) -> np.ndarray:
    """An empty array whose memory starts on an ALIGN boundary (direct I/O needs it)."""
    raw = np.empty(nbytes + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start : start + nbytes].view(dtype)


def _round_up(nbytes: int) -> int:
    return -(-nbytes // ALIGN) * ALIGN


def _open_unlinked() -> tuple[int, bool]:
    """A temporary file no path leads to, for direct I/O when the filesystem takes it.

    Direct I/O moves the copy between our memory and the disk without the
    page cache: no kernel copy of every byte (system time), and no other
    process's cached files evicted for a file read once.
    """
    fd, path = tempfile.mkstemp(prefix="seldb-unit-major-")
    try:
        try:
            direct = os.open(path, os.O_RDWR | getattr(os, "O_DIRECT", 0))
        except OSError:  # tmpfs and some others refuse O_DIRECT: buffered I/O then
            return fd, False
        os.close(fd)
        return direct, hasattr(os, "O_DIRECT")
    finally:
        os.unlink(path)


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
            array = self._arrays[name] = _aligned(size * np.dtype(dtype).itemsize, dtype)
        return array[:size]


def panel_rows(n_units: int, itemsize: int, chunk_rows: int = 1) -> int:
    """Rows per panel: ~PANEL_BYTES, a whole number of the file's chunks (each chunk read once)."""
    rows = max(1, PANEL_BYTES // max(1, n_units * itemsize))
    return max(chunk_rows, rows - rows % chunk_rows)


class UnitMajorCopy:
    """Panels of rows [r0, r0 + rows) stored units x rows, one after the other.

    Each unit's row of a panel is padded to a multiple of ALIGN bytes, so that
    every read and write starts and ends on a disk block (direct I/O).
    """

    def __init__(self, n_rows: int, n_units: int, dtype: np.dtype, rows_per_panel: int):
        self.n_rows, self.n_units, self.dtype = n_rows, n_units, np.dtype(dtype)
        self.rows_per_panel = rows_per_panel
        n_panels = -(-n_rows // rows_per_panel)
        widths = [min(rows_per_panel, n_rows - p * rows_per_panel) for p in range(n_panels)]
        self._stride = [_round_up(w * self.dtype.itemsize) for w in widths]  # bytes per unit, per panel
        self._start = np.concatenate([[0], np.cumsum([n_units * st for st in self._stride])]).tolist()
        self._fd, self.direct = _open_unlinked()
        self._panel: np.ndarray | None = None  # the transposing buffer of write()

    @staticmethod
    def bytes_needed(n_rows: int, n_units: int, dtype, rows_per_panel: int) -> int:
        n_panels = -(-n_rows // rows_per_panel)
        return n_rows * n_units * np.dtype(dtype).itemsize + n_panels * n_units * ALIGN  # data, at most the padding

    @property
    def nbytes(self) -> int:
        """Its size on disk once every panel is written."""
        return self._start[-1]

    def write(self, r0: int, rows: np.ndarray) -> np.ndarray:
        """Store rows r0.. (images x units, r0 a multiple of rows_per_panel) as one panel; returns, per
        row, whether it holds a NaN or an infinity (checked while transposing: seldb.h5.transpose)."""
        p = r0 // self.rows_per_panel
        stride = self._stride[p] // self.dtype.itemsize
        n, units = rows.shape
        if self._panel is None or self._panel.size < units * stride:
            self._panel = _aligned(units * stride * self.dtype.itemsize, self.dtype)
        panel = self._panel[: units * stride].reshape(units, stride)  # kept from panel to panel
        bad = transpose_checked(rows, panel)
        view, offset = panel.data.cast("B"), self._start[p]
        while view.nbytes:  # a regular file writes everything at once, but pwrite may stop short
            done = os.pwrite(self._fd, view, offset)
            view, offset = view[done:], offset + done
        return bad

    def _read_panel(self, p: int, u0: int, u1: int, out: np.ndarray) -> np.ndarray:
        stride = self._stride[p] // self.dtype.itemsize
        width = min(self.rows_per_panel, self.n_rows - p * self.rows_per_panel)
        panel = out[: (u1 - u0) * stride].reshape(u1 - u0, stride)
        offset = self._start[p] + u0 * self._stride[p]
        view = panel.data.cast("B")
        while view.nbytes:
            done = os.preadv(self._fd, [view], offset)
            if done == 0:
                raise OSError(f"temporary copy of the layer ended early at byte {offset}")
            view, offset = view[done:], offset + done
        return panel[:, :width]

    def plan(self, rows: np.ndarray) -> tuple[np.ndarray, bool, list[int]]:
        """For reading `rows` (in that order): the rows, whether they are simply all rows in order,
        and the panels that hold any of them."""
        rows = np.asarray(rows, dtype=np.intp)
        identity = rows.size == self.n_rows and bool(np.all(rows == np.arange(self.n_rows)))
        panels = np.unique(rows // self.rows_per_panel).tolist()
        return rows, identity, panels

    def read(self, u0: int, u1: int, plan, n_out: int, buffers: Buffers | None = None) -> np.ndarray:
        """Units u0..u1-1 at the planned rows: an array (units, len(rows)), in `buffers` when given.

        The panels are laid side by side in file order first (whole slices),
        then each unit's values are gathered in the order asked for (a gather
        along one contiguous row is several times faster than a 2-D one).
        """
        rows, identity, panels = plan
        buffers = buffers or Buffers()
        full = buffers.take("full", (u1 - u0) * self.n_rows, self.dtype).reshape(u1 - u0, self.n_rows)
        scratch = buffers.take("panel", (u1 - u0) * max(self._stride) // self.dtype.itemsize, self.dtype)
        for p in panels:
            panel = self._read_panel(p, u0, u1, scratch)
            full[:, p * self.rows_per_panel : p * self.rows_per_panel + panel.shape[1]] = panel
        if identity:
            return full
        out = buffers.take("values", (u1 - u0) * n_out, self.dtype).reshape(u1 - u0, n_out)
        for u in range(u1 - u0):
            np.take(full[u], rows, out=out[u])
        return out

    def close(self) -> None:
        self._panel = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
