"""One block of units, laid out once for every measure that follows.

Every measure needs the same two things: the activations grouped by class
(for class statistics) and each unit's images in descending activation order
(for thresholds and top-k). This module builds both once per block:

- `values` is (units, images) with images reordered so that each class is
  contiguous (a stable sort, so image order within a class is kept);
- `desc_codes` are integers that order activations exactly like the floats
  do, largest first, so that ties stay ties and a sort key can pack the class
  beside the activation (sorting float64 keys is several times faster than
  any argsort here).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

_U32 = np.uint32(0xFFFFFFFF)


@dataclass
class Block:
    values: np.ndarray  # (U, N) float64, class-contiguous image order
    desc_codes: np.ndarray  # (U, N) int64, smaller code = larger activation
    decode: CodeBook
    labels: np.ndarray  # (N,) class of each column of `values`
    image_index: np.ndarray  # (N,) original row of each column of `values`
    n_classes: int
    class_n: np.ndarray  # (K,) analysed images per class
    class_start: np.ndarray  # (K,) first column of each class in `values`

    @property
    def n_units(self) -> int:
        return self.values.shape[0]

    @property
    def n_images(self) -> int:
        return self.values.shape[1]

    @property
    def present(self) -> np.ndarray:
        """Indices of classes with at least one analysed image."""
        return np.flatnonzero(self.class_n > 0)

    @cached_property
    def floor_code(self) -> np.ndarray:
        """(U,) code of each unit's lowest activation (largest code)."""
        return self.desc_codes.max(axis=1)

    @cached_property
    def above(self) -> np.ndarray:
        """Flat indices (row-major in `values`) of the activations above their unit's lowest value.

        After a ReLU most activations are the floor (exact zeros); every
        measure counts those per class instead of visiting them one by one.
        """
        return np.flatnonzero(self.desc_codes != self.floor_code[:, None])

    @cached_property
    def above_cell(self) -> np.ndarray:
        """unit * K + class of each of `above`."""
        unit = self.above // self.n_images
        return unit * self.n_classes + self.labels[self.above - unit * self.n_images]

    @cached_property
    def floor_per_class(self) -> np.ndarray:
        """(U, K) images of each class at their unit's lowest value."""
        above = np.bincount(self.above_cell, minlength=self.n_units * self.n_classes)
        return self.class_n[None, :] - above.reshape(self.n_units, self.n_classes)

    def floor_counted(self, above_mask: np.ndarray, floor_mask: np.ndarray) -> np.ndarray:
        """(U, K) count of images where a predicate holds: above_mask over `above`, floor_mask (U,) at the floor."""
        size = self.n_units * self.n_classes
        counts = np.bincount(self.above_cell[above_mask], minlength=size).reshape(self.n_units, self.n_classes)
        return counts + self.floor_per_class * floor_mask[:, None]


class CodeBook:
    """Maps (unit, code) back to the activation value the code stands for."""

    def __init__(self, tables: list[np.ndarray] | None):
        # None: codes are float32 bit patterns; else per-unit sorted unique values.
        self._tables = tables
        if tables is not None:
            self._offsets = np.concatenate([[0], np.cumsum([len(t) for t in tables])])
            self._flat = np.concatenate(tables)

    def values(self, units: np.ndarray, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.int64)
        if self._tables is None:
            asc = (np.uint32(0xFFFFFFFF) - codes.astype(np.uint32)).astype(np.uint32)
            bits = np.where(asc & np.uint32(0x80000000), asc & np.uint32(0x7FFFFFFF), ~asc).astype(np.uint32)
            return bits.view(np.float32).astype(np.float64)
        units = np.asarray(units, dtype=np.int64)
        sizes = np.diff(self._offsets)[units]
        return self._flat[self._offsets[units] + sizes - 1 - codes]


def _float32_desc_codes(x32: np.ndarray) -> np.ndarray:
    """Order-preserving integer codes of float32 values, largest value first.

    The code is 0xFFFFFFFF minus the usual ascending key (sign bit flipped for
    positives, all bits for negatives): 0x7FFFFFFF - bits for a positive
    value, bits (as unsigned) for a negative one, computed in one int64 pass.
    """
    bits = x32.view(np.int32)
    codes = np.subtract(np.int64(0x7FFFFFFF), bits, dtype=np.int64)
    negative = bits < 0
    if negative.any():
        codes[negative] = bits[negative].astype(np.int64) + (1 << 32)
    return codes


def _as_float32_if_exact(x: np.ndarray) -> np.ndarray | None:
    if x.dtype == np.float32:
        return x
    if x.dtype == np.float16:
        return x.astype(np.float32)
    x32 = x.astype(np.float32)
    return x32 if np.array_equal(x32.astype(x.dtype), x) else None


def _rank_codes(x: np.ndarray) -> tuple[np.ndarray, CodeBook]:
    """Codes for float64 values that float32 cannot hold: per-unit dense ranks."""
    codes = np.empty(x.shape, dtype=np.int64)
    tables = []
    for u, row in enumerate(x):
        uniq, inverse = np.unique(row, return_inverse=True)
        codes[u] = len(uniq) - 1 - inverse
        tables.append(uniq)
    return codes, CodeBook(tables)


def prepare_block(values: np.ndarray, labels: np.ndarray, n_classes: int, image_index=None) -> Block:
    """Lay out a (images, units) block for the measures; see the module docstring."""
    values = np.asarray(values)
    labels = np.asarray(labels, dtype=np.int64)
    already_sorted = bool(np.all(labels[:-1] <= labels[1:]))
    order = np.arange(len(labels)) if already_sorted else np.argsort(labels, kind="stable")
    class_n = np.bincount(labels, minlength=n_classes).astype(np.int64)
    class_start = np.concatenate([[0], np.cumsum(class_n)[:-1]])
    x = np.ascontiguousarray((values if already_sorted else values[order]).T)
    x = x + x.dtype.type(0)  # -0.0 becomes +0.0: a tie, never a threshold of its own
    x32 = _as_float32_if_exact(x)
    if x32 is not None:
        codes, book = _float32_desc_codes(x32), CodeBook(None)
        x64 = x32.astype(np.float64)
    else:
        x64 = x.astype(np.float64)
        codes, book = _rank_codes(x64)
    rows = np.arange(len(labels)) if image_index is None else np.asarray(image_index, dtype=np.int64)
    return Block(x64, codes, book, labels[order], rows[order], n_classes, class_n, class_start)
