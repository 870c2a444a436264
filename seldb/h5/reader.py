"""The activation file: seldb's interchange format (HDF5, version 1).

One file holds one model's activations on one image set (see
docs/activations.md). `seldb ingest` writes it while the network
runs and `seldb import-h5` reads it; both go through this module so that the
layout is defined in exactly one place. Reading is by blocks of units so an
AlexNet-scale file (24 GB) never has to fit in memory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from seldb.errors import InputError, plural
from seldb.h5.unitmajor import Buffers, UnitMajorCopy, panel_rows
from seldb.h5.writer import FORMAT, TILE, VERSION, ActivationWriter, write_activation_file  # noqa: F401

ACCEPTED_DTYPES = (np.float16, np.float32, np.float64)
REDUCTIONS = ("max", "mean", "none")
ELEMENTS_PER_BLOCK = 24_000_000  # images x units per block: bounds memory whatever the file (the measures
# then work through a block in smaller chunks of units, see seldb.measures.compute)


@dataclass(frozen=True)
class LayerInfo:
    name: str
    n_units: int
    dtype: np.dtype
    reduction: str
    chunks: tuple[int, int] | None


def _decode(values) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def block_size(n_images: int, cells_per_unit: int = 1, chunk_units: int | None = None) -> int:
    """Units per block: ~ELEMENTS_PER_BLOCK activations, and as many per-unit result cells
    (e.g. classes x histogram bins).

    Blocks follow the file's tiles: a block narrower than a tile divides its
    width, a wider one is a whole number of tiles, so no block straddles two.
    """
    step = min(ELEMENTS_PER_BLOCK // max(n_images, 1), ELEMENTS_PER_BLOCK // max(cells_per_unit, 1))
    step = int(np.clip(step, 1, 256))
    if chunk_units and chunk_units > step:
        step = chunk_units // -(-chunk_units // step)
    elif chunk_units:
        step -= step % chunk_units
    return step


class ActivationFile:
    """A validated, read-only view of an activation file.

    Opening checks the structure (groups, shapes, label range, dtypes);
    `nonfinite_rows` checks the values. Every problem raises InputError naming
    the file and the dataset path.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory; give the activation file (.h5) itself")
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        if not os.access(self.path, os.R_OK):
            raise InputError(f"{self.path}: permission denied (this user may not read the file)")
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise InputError(f"{self.path}: not a readable HDF5 file (truncated or another format): {exc}") from None
        self._unit_major: dict[str, UnitMajorCopy] = {}  # layers copied units-first into unlinked temporary files
        self._plans: dict[tuple[str, int], tuple[np.ndarray, tuple[np.ndarray, bool, list[int]]]] = {}
        self._all_rows: np.ndarray | None = None
        self._plan_lock = threading.Lock()  # blocks are read on worker threads: one plan per selection
        self._cached: dict[str, h5py.Dataset] = {}
        try:
            self._load_header()
        except InputError:
            self.close()
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            self.close()
            raise InputError(f"{self.path}: cannot read the file's structure (truncated or damaged?): {exc}") from None

    # -- header -----------------------------------------------------------
    def _fail(self, where: str, what: str) -> InputError:
        return InputError(f"{self.path}: {where}: {what}")

    def _require(self, name: str) -> h5py.Dataset | h5py.Group:
        if name not in self._h5:
            raise self._fail(name, "missing (see the activation file format, version 1)")
        return self._h5[name]

    def _load_header(self) -> None:
        h5 = self._h5
        fmt = h5.attrs.get("format")
        if fmt is not None and _decode([fmt])[0] != FORMAT:
            raise self._fail("/ attrs format", f"is {fmt!r}, expected {FORMAT!r}")
        version = h5.attrs.get("version")
        if version is not None and int(version) != VERSION:
            raise self._fail("/ attrs version", f"is {version}, this seldb reads version {VERSION}")
        self.model = _decode([h5.attrs.get("model", self.path.stem)])[0]
        self.dataset = _decode([h5.attrs.get("dataset", self.path.stem)])[0]

        names = self._require("/classes/name")
        self.class_names = _decode(names[()])
        self.n_classes = len(self.class_names)
        if self.n_classes == 0:
            raise self._fail("/classes/name", "is empty")
        self.class_keys = _decode(h5["/classes/key"][()]) if "/classes/key" in h5 else None
        if self.class_keys is not None and len(self.class_keys) != self.n_classes:
            raise self._fail("/classes/key", f"has {len(self.class_keys)} rows, /classes/name has {self.n_classes}")

        labels = self._require("/images/label")[()]
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise self._fail("/images/label", f"must be a 1-D integer array, got {labels.dtype} {labels.shape}")
        self.n_images = int(labels.shape[0])
        if self.n_images == 0:
            raise self._fail("/images/label", "is empty: the file holds no image")
        bad = np.flatnonzero((labels < 0) | (labels >= self.n_classes))
        if bad.size:
            raise self._fail(
                "/images/label",
                f"label {int(labels[bad[0]])} of image {int(bad[0])} is out of range 0..{self.n_classes - 1}"
                f" ({plural(bad.size, 'such image')})",
            )
        self.labels = labels.astype(np.int64)
        self.preds = self._optional_rows("/images/pred", integer=True)
        paths = self._optional_rows("/images/path")
        self.paths = _decode(paths) if paths is not None else None

        layers = self._require("/layers")
        if not isinstance(layers, h5py.Group) or len(layers) == 0:
            raise self._fail("/layers", "holds no layer")
        self.layers: dict[str, LayerInfo] = {}
        for name, ds in layers.items():
            self.layers[name] = self._check_layer(name, ds)

    def _optional_rows(self, name: str, integer: bool = False) -> np.ndarray | None:
        if name not in self._h5:
            return None
        values = self._h5[name][()]
        if values.ndim != 1 or values.shape[0] != self.n_images:
            raise self._fail(name, f"has shape {values.shape}, expected ({self.n_images},) like /images/label")
        if integer and not np.issubdtype(values.dtype, np.integer):
            raise self._fail(name, f"must be integer, got {values.dtype}")
        return values.astype(np.int64) if integer else values

    def _check_layer(self, name: str, ds) -> LayerInfo:
        where = f"/layers/{name}"
        if not isinstance(ds, h5py.Dataset):
            raise self._fail(where, "is not a dataset")
        if ds.ndim != 2:
            raise self._fail(where, f"must be 2-D (images, units), got shape {ds.shape}")
        if ds.shape[0] != self.n_images:
            hint = (
                " (is it stored units x images? layers are images x units: transpose it)"
                if (ds.shape[1] == self.n_images)
                else ""
            )
            raise self._fail(where, f"has {ds.shape[0]} rows but /images/label has {self.n_images}{hint}")
        if ds.shape[1] == 0:
            raise self._fail(where, "is empty: it has no unit")
        if ds.dtype.type not in ACCEPTED_DTYPES:
            raise self._fail(where, f"has dtype {ds.dtype}; float16, float32 or float64 expected")
        reduction = _decode([ds.attrs.get("reduction", "none")])[0]
        if reduction not in REDUCTIONS:
            raise self._fail(where + " attrs reduction", f"is {reduction!r}, expected one of {', '.join(REDUCTIONS)}")
        return LayerInfo(name, int(ds.shape[1]), ds.dtype, reduction, ds.chunks)

    # -- values -----------------------------------------------------------
    def dataset_of(self, layer: str) -> h5py.Dataset:
        if layer in self._cached:
            return self._cached[layer]
        return self._h5["/layers"][layer]

    def row_blocks(
        self, layer: str, rows_per_block: int | None = None, reuse: bool = False
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (first_row, block) over all images, for row-wise passes (blocks of whole chunks).

        With `reuse`, every block is read into the same buffer (valid until the next one): a pass
        over a big layer then allocates, and page-faults in, one block's memory rather than all.
        """
        ds = self.dataset_of(layer)
        step = rows_per_block or self._panel_rows(layer)
        buffer = None
        for r0 in range(0, self.n_images, step):
            r1 = min(self.n_images, r0 + step)
            if not reuse:
                yield r0, self._read(ds, np.s_[r0:r1, :], layer)
                continue
            if buffer is None:
                buffer = np.empty((step, ds.shape[1]), dtype=ds.dtype)
            yield r0, self._read(ds, np.s_[r0:r1, :], layer, out=buffer[: r1 - r0])

    def _panel_rows(self, layer: str) -> int:
        info = self.layers[layer]
        return panel_rows(info.n_units, info.dtype.itemsize, info.chunks[0] if info.chunks else 1)

    def read_units(self, layer: str, u0: int, u1: int) -> np.ndarray:
        """All images' activations of units u0..u1-1, shape (n_images, u1 - u0)."""
        if layer in self._unit_major:
            if self._all_rows is None:  # one array, so that its reading plan is made once
                self._all_rows = np.arange(self.n_images)
            return self.read_unit_rows(layer, u0, u1, self._all_rows)
        ds = self.dataset_of(layer)
        return self._read(ds, np.s_[:, u0:u1], layer)

    def read_unit_rows(
        self, layer: str, u0: int, u1: int, rows: np.ndarray, buffers: Buffers | None = None
    ) -> np.ndarray:
        """Units u0..u1-1 at image rows `rows` (in that order), shape (len(rows), u1 - u0).

        From a unit-major copy the result is the transpose of a (units, rows)
        array, which is the layout the measures want (no copy needed there);
        with `buffers` it lies in their memory, valid until they are used again.
        """
        copy = self._unit_major.get(layer)
        if copy is None:
            return self.read_units(layer, u0, u1)[rows]
        key = (layer, id(rows))
        with self._plan_lock:
            if key not in self._plans or self._plans[key][0] is not rows:
                self._plans[key] = (rows, copy.plan(rows))  # one plan per row selection (keeps `rows` alive)
        return copy.read(u0, u1, self._plans[key][1], len(rows), buffers).T

    def _read(self, ds: h5py.Dataset, sel, layer: str, out: np.ndarray | None = None) -> np.ndarray:
        try:
            if out is None:
                return ds[sel]
            ds.read_direct(out, sel)
            return out
        except (OSError, ValueError, TypeError) as exc:
            raise self._fail(f"/layers/{layer}", f"cannot be read (truncated or damaged file?): {exc}") from None

    def unit_blocks(self, layer: str, n_rows: int, cells_per_unit: int = 1) -> list[tuple[int, int]]:
        """(first, last + 1) units of each block of a layer when n_rows images are read per unit.

        Makes the layer cheap to read by blocks first (see ensure_unit_readable).
        """
        self.ensure_unit_readable(layer, block_size(n_rows, cells_per_unit))
        chunks = None if layer in self._unit_major else self.dataset_of(layer).chunks
        step = block_size(n_rows, cells_per_unit, chunks[1] if chunks else None)
        units = self.layers[layer].n_units
        return [(u0, min(units, u0 + step)) for u0 in range(0, units, step)]

    def nonfinite_rows(
        self, layers: Sequence[str], on_rows: Callable[[int], None] | None = None, copy: bool = False
    ) -> dict[str, np.ndarray]:
        """Rows (images) holding NaN or +-inf, per layer; reads each layer once by rows.

        With `copy`, the same pass writes each layer's unit-major copy (see
        seldb.h5.unitmajor), so that blocks of units are then read alike from
        every layout; a tiled layer is read in place when TMPDIR has no room.
        """
        found: dict[str, np.ndarray] = {}
        for layer in layers:
            if copy:
                self.start_copies([layer])
            rows = self.check_and_copy(layer, on_rows)
            if rows.size:
                found[layer] = rows
        return found

    def start_copies(self, layers: Sequence[str]) -> None:
        """Make room for the unit-major copies of `layers` (tiled ones only when TMPDIR has it), so that
        their blocks can be planned before `check_and_copy` fills them (possibly on another thread)."""
        reserved = 0
        for layer in layers:
            if layer not in self._unit_major:
                copy = self._start_copy(layer, required=not self._tiled(layer), reserved=reserved)
                reserved += copy.nbytes if copy is not None else 0

    def check_and_copy(
        self, layer: str, on_rows: Callable[[int], None] | None = None, stop: threading.Event | None = None
    ) -> np.ndarray:
        """One pass over a layer by rows: the rows holding NaN or +-inf, and its unit-major copy filled
        when start_copies made one. `stop` ends the pass early (the copy is then unusable)."""
        target = self._unit_major.get(layer)
        bad = []
        for r0, block in self.row_blocks(layer, reuse=True):
            if stop is not None and stop.is_set():
                break
            spoilt = target.write(r0, block) if target is not None else ~np.isfinite(block).all(axis=1)
            bad.append(r0 + np.flatnonzero(spoilt))
            if on_rows:
                on_rows(block.shape[0])
        return np.concatenate(bad) if bad else np.empty(0, np.int64)

    def _tiled(self, layer: str, block_units: int = 128) -> bool:
        chunks = self.layers[layer].chunks
        return chunks is not None and chunks[1] <= 2 * block_units

    def ensure_unit_readable(self, layer: str, block_units: int) -> None:
        """Make reading `block_units` columns at a time cost about one pass over the layer.

        A layer not tiled (contiguous, chunked by rows or wide chunks) is copied
        units-first into a temporary file, in one sequential pass (else every
        block would read the whole layer, or make a small read per image); tiles
        wider than a block are kept in the chunk cache while their blocks are read.
        """
        if layer in self._unit_major:
            return
        if not self._tiled(layer, block_units):
            target = self._start_copy(layer, required=True)
            assert target is not None  # a required copy raises rather than returning None
            for r0, block in self.row_blocks(layer, reuse=True):
                target.write(r0, block)
            return
        self._cache_tile_columns(layer, block_units)

    def _cache_tile_columns(self, layer: str, block_units: int, readers: int = 2) -> None:
        """Keep whole columns of tiles in HDF5's chunk cache when blocks are narrower than tiles.

        Several blocks then share one column of tiles; without the cache every
        block would read and decompress the whole column again.
        """
        ds = self.dataset_of(layer)
        if ds.chunks is None or ds.chunks[1] <= block_units or layer in self._cached:
            return
        chunk_bytes = ds.chunks[0] * ds.chunks[1] * ds.dtype.itemsize
        column = -(-self.n_images // ds.chunks[0]) * chunk_bytes
        parent, name = ds.parent, ds.name.rsplit("/", 1)[1].encode()
        del ds  # HDF5 shares one cache per open dataset: the default-cache one must be closed first
        nbytes = min(readers * column + chunk_bytes, 2 << 30)
        access = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
        access.set_chunk_cache(max(521, 10 * nbytes // chunk_bytes + 1), nbytes, 0.0)
        self._cached[layer] = h5py.Dataset(h5py.h5d.open(parent.id, name, dapl=access))

    def _start_copy(self, layer: str, required: bool, reserved: int = 0) -> UnitMajorCopy | None:
        """Room for the layer's unit-major copy, or None when it is optional and TMPDIR lacks room
        (beside `reserved` bytes promised to copies not yet written)."""
        info = self.layers[layer]
        need = UnitMajorCopy.bytes_needed(self.n_images, info.n_units, info.dtype, self._panel_rows(layer))
        tmp = Path(tempfile.gettempdir())
        free = shutil.disk_usage(tmp).free - reserved
        if free < need * 1.05 + (1 << 30):
            if not required:
                return None
            layout = f"chunked {info.chunks}" if info.chunks else "contiguous"
            raise InputError(
                f"{self.path}: /layers/{layer} is stored by rows ({layout}) and must be copied once into"
                f" a temporary file of {need / 1e9:.1f} GB, but {tmp} has {free / 1e9:.1f} GB free"
                " (set TMPDIR to a roomier directory, or write the layer in tiles of 1024 x 128)"
            )
        return self._repack(layer, info)

    def _repack(self, layer: str, info: LayerInfo) -> UnitMajorCopy:
        """An empty unit-major copy of the layer, in a temporary file that is unlinked from the start,
        so that no exit - an error, Ctrl-C, SIGTERM, even SIGKILL - can leave it behind."""
        copy = UnitMajorCopy(self.n_images, info.n_units, info.dtype, self._panel_rows(layer))
        self._unit_major[layer] = copy
        return copy

    def close(self) -> None:
        self._cached.clear()
        self._plans.clear()
        for copy in self._unit_major.values():
            copy.close()
        self._unit_major.clear()
        try:
            self._h5.close()
        except Exception:  # closing a damaged file must not hide the real error
            pass

    def __enter__(self) -> ActivationFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
