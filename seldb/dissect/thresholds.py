"""Exact per-unit thresholds: the (1 - quantile) percentile of every activation of a unit.

NetDissect-Lite's first version computed `np.percentile(features, 100 * (1 -
quantile), axis=(0, 2, 3))` over every spatial position of every image (its
later one switched to a randomized sketch). That needs all of a unit's values
at once: 63,305 Broden images x 13 x 13 positions is 10.7 M values per
AlexNet conv5 unit, and far more for early layers, so we do not sort.

Instead, an exact two-pass radix selection on the float32 values' bits:
float32 bits map to unsigned 32-bit keys whose order is the numeric order;
pass 1 counts every unit's keys by their high 16 bits (65,536 bins per unit),
which locates the bin holding each order statistic the percentile needs;
pass 2 counts the low 16 bits of the keys inside those bins, which pins the
exact value. Memory is two histograms per unit whatever the data size, and
both passes stream the maps in any order (pass 1 runs during the forward
pass, pass 2 over the on-disk map store).

The percentile itself is numpy's default ("linear") method, bit for bit: for n
values and q = p / 100, the virtual index v = (n - 1) q, the two order
statistics at floor(v) and floor(v) + 1, and numpy's lerp with gamma = v -
floor(v); the values are float32 activations read as float64 (NetDissect-Lite
stored float64 maps), so the result equals np.percentile on the float64 maps.
"""

from __future__ import annotations

import math

import numpy as np

BITS = 16
BINS = 1 << BITS
_SIGN = np.uint32(0x80000000)


def sortable_keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys whose unsigned order is the float32 values' numeric order (-0.0 just below +0.0)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def key_values(keys: np.ndarray) -> np.ndarray:
    """The float32 values of sortable keys, as float64."""
    keys = np.asarray(keys, dtype=np.uint32)
    bits = np.where(keys & _SIGN, keys & ~_SIGN, ~keys)
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def percentile_ranks(n: int, percentile: float) -> tuple[int, int, float]:
    """(lower rank, upper rank, gamma) of numpy's linear percentile of n values (0-based ranks)."""
    q = np.true_divide(percentile, 100)
    virtual = (n - 1) * q
    if virtual >= n - 1:
        return n - 1, n - 1, 0.0
    lower = math.floor(virtual)
    return lower, lower + 1, float(virtual - lower)


def numpy_lerp(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """numpy's quantile interpolation a + (b - a) g, computed from b's side when g >= 0.5."""
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


class ExactPercentile:
    """Two streaming passes over (batch, units, ...) float32 maps -> each unit's exact percentile.

    Call `first(maps)` for every batch, then `second(maps)` for every batch (any order, same data),
    then `values()`. `unit_block` bounds the temporary bincount array (units x 65,536 counts).
    """

    def __init__(self, n_units: int, percentile: float, unit_block: int = 16):
        if not 0 <= percentile <= 100:
            raise ValueError(f"percentile {percentile} is outside [0, 100]")
        self.n_units, self.percentile, self.unit_block = n_units, percentile, unit_block
        self.n = 0
        self.high: np.ndarray | None = np.zeros((n_units, BINS), np.int64)  # None once pass 1 is over
        self.low: np.ndarray | None = None  # (2, units, BINS) once pass 1 is over
        self.target: np.ndarray | None = None  # (2, units): high bin of the lower / upper order statistic
        self.residual: np.ndarray | None = None  # (2, units): the rank inside that bin

    def first(self, maps: np.ndarray) -> None:
        maps = self._units_last(maps)
        if self.high is None:
            raise RuntimeError("first() after second(): pass 1 is over")  # a programming error, not input
        self.n += maps.shape[0] * maps.shape[2]
        for start, keys in self._blocks(maps):
            self._count(self.high, start, keys >> BITS)

    def second(self, maps: np.ndarray) -> None:
        counts, target, _ = self._pass_two()
        maps = self._units_last(maps)
        for start, keys in self._blocks(maps):
            high, low = keys >> BITS, keys & (BINS - 1)
            stop = start + keys.shape[0]
            for slot in range(2):
                self._count(counts[slot], start, low, high == target[slot, start:stop, None])

    def values(self) -> np.ndarray:
        """(units,) float64 percentiles; pass 2 must have seen all data."""
        counts, target, residual = self._pass_two()
        found = np.empty((2, self.n_units))
        for slot in range(2):
            cumulative = np.cumsum(counts[slot], axis=1)
            low = np.array(
                [int(np.searchsorted(cumulative[u], residual[slot, u], side="right")) for u in range(self.n_units)],
                dtype=np.uint32,
            )
            if (cumulative[:, -1] <= residual[slot]).any():
                raise RuntimeError("pass 2 saw other data than pass 1")  # a programming error, not input
            found[slot] = key_values((target[slot].astype(np.uint32) << BITS) | low)
        _, _, gamma = percentile_ranks(self.n, self.percentile)
        return numpy_lerp(found[0], found[1], gamma)

    def _pass_two(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(low-bin counts, target high bins, residual ranks), located from pass 1's counts once."""
        if self.low is None or self.target is None or self.residual is None:
            self._locate()
        assert self.low is not None and self.target is not None and self.residual is not None
        return self.low, self.target, self.residual

    def _locate(self) -> None:
        if self.high is None:
            raise RuntimeError("pass 1's counts are gone")  # a programming error, not input
        if self.n == 0:
            raise ValueError("no activation was seen")
        lower, upper, _ = percentile_ranks(self.n, self.percentile)
        cumulative = np.cumsum(self.high, axis=1)
        self.target = np.empty((2, self.n_units), np.int64)
        self.residual = np.empty((2, self.n_units), np.int64)
        for slot, rank in enumerate((lower, upper)):
            bins = np.array([np.searchsorted(cumulative[u], rank, side="right") for u in range(self.n_units)])
            before = np.where(bins > 0, cumulative[np.arange(self.n_units), np.maximum(bins - 1, 0)], 0)
            self.target[slot], self.residual[slot] = bins, rank - before
        self.high = None  # pass 2 needs only the targets
        self.low = np.zeros((2, self.n_units, BINS), np.int64)

    def _units_last(self, maps: np.ndarray) -> np.ndarray:
        """(batch, units, ...) -> (batch, units, positions)."""
        if maps.ndim < 2 or maps.shape[1] != self.n_units:
            raise ValueError(f"maps of shape {maps.shape} do not have {self.n_units} units on axis 1")
        return maps.reshape(maps.shape[0], self.n_units, -1)

    def _blocks(self, maps: np.ndarray):
        """(first unit, keys of shape (units in block, batch x positions)) per block of units."""
        for start in range(0, self.n_units, self.unit_block):
            block = maps[:, start : start + self.unit_block, :]
            yield start, sortable_keys(block.transpose(1, 0, 2).reshape(block.shape[1], -1))

    def _count(self, histogram: np.ndarray, start: int, digits: np.ndarray, keep: np.ndarray | None = None) -> None:
        """histogram[start + u, digit] += 1 for every digit of row u (only where `keep`)."""
        width = digits.shape[0]
        flat = digits.astype(np.int64) + (np.arange(width, dtype=np.int64) * BINS)[:, None]
        flat = flat[keep] if keep is not None else flat.ravel()
        histogram[start : start + width] += np.bincount(flat, minlength=width * BINS).reshape(width, BINS)
