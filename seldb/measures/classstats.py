"""Per-(unit, class) statistics and quantised histograms.

Because a Block keeps each class's images contiguous, every statistic is a
segmented reduction (`ufunc.reduceat`) over a (units, images) array: one
vectorised pass per statistic for the whole block, never a loop over units
or classes. Classes without an analysed image get NaN (NULL downstream).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seldb.measures.block import Block


@dataclass
class ClassStats:
    n: np.ndarray  # (K,) analysed images per class
    sum: np.ndarray  # (U, K)
    mean: np.ndarray
    std: np.ndarray  # ddof=1, NaN when n < 2
    min: np.ndarray
    max: np.ndarray
    n_nonzero: np.ndarray  # (U, K) int
    n_zero: np.ndarray  # (U, K) int
    first_at_max: np.ndarray  # (U, K) lowest image index among the class's images at its max


def _expand(block: Block, present_values: np.ndarray, fill) -> np.ndarray:
    out = np.full((block.n_units, block.n_classes), fill, dtype=present_values.dtype)
    out[:, block.present] = present_values
    return out


def class_stats(block: Block) -> ClassStats:
    x = block.values
    present = block.present
    starts = block.class_start[present]
    n = block.class_n[present].astype(np.float64)
    sums = np.add.reduceat(x, starts, axis=1)
    means = sums / n
    deviation = x - np.repeat(means, block.class_n[present], axis=1)
    squares = np.add.reduceat(deviation * deviation, starts, axis=1)
    del deviation
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.where(n >= 2, np.sqrt(squares / (n - 1)), np.nan)
    maxima = np.maximum.reduceat(x, starts, axis=1)
    above, floor = x.ravel()[block.above], x.min(axis=1)  # the floor's images are counted, not visited
    at_max = x == np.repeat(maxima, block.class_n[present], axis=1)
    first = np.minimum.reduceat(np.where(at_max, block.image_index[None, :], np.iinfo(np.int64).max), starts, axis=1)
    return ClassStats(
        n=block.class_n,
        sum=_expand(block, sums, 0.0),
        mean=_expand(block, means, np.nan),
        std=_expand(block, std, np.nan),
        min=_expand(block, np.minimum.reduceat(x, starts, axis=1), np.nan),
        max=_expand(block, maxima, np.nan),
        n_nonzero=block.floor_counted(above > 0, floor > 0),
        n_zero=block.floor_counted(above == 0, floor == 0),
        first_at_max=_expand(block, first, -1),
    )


@dataclass
class Histograms:
    lo: np.ndarray  # (U,) unit minimum
    width: np.ndarray  # (U,) bin width, 0 when the unit is constant
    n_bins: np.ndarray  # (U,) B, or 1 for a constant unit
    counts: np.ndarray  # (U, K, B) int32; a constant unit uses bin 0 only


def histograms(block: Block, bins: int) -> Histograms:
    """Equal-width bins over [unit min, unit max], exactly as measures.md item 7.

    The unit's lowest value always falls in bin 0, so only the activations
    above it are binned one by one; the floor's images are added per class.
    """
    x = block.values
    lo, hi = x.min(axis=1), x.max(axis=1)
    width = (hi - lo) / bins
    constant = hi == lo
    unit = block.above // block.n_images
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.floor((x.ravel()[block.above] - lo[unit]) / np.where(constant, 1.0, width)[unit])
    index = np.minimum(bins - 1, index.astype(np.int64))  # a constant unit has nothing above its floor
    counts = np.bincount(block.above_cell * bins + index, minlength=block.n_units * block.n_classes * bins)
    counts = counts.reshape(block.n_units, block.n_classes, bins)
    counts[:, :, 0] += block.floor_per_class
    counts = counts.astype(np.int32)  # half the memory (a block's counts reach units x classes x bins)
    return Histograms(
        lo=lo,
        width=np.where(constant, 0.0, width),
        n_bins=np.where(constant, 1, bins),
        counts=counts,
    )
