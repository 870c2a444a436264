"""How different a unit's AM samples are, measured so that the same texture shifted does not count.

A rating panel of N samples is worth N images only when they show different
things. Pixel differences are fooled by a texture moved a few pixels (a
large difference between what a rater sees as one image), so the measure
here is the pixel difference *after the best alignment*: the second image is
shifted by every offset up to a quarter of the side, and the smallest mean
absolute difference over the overlap counts. A texture and its shifted copy
are at (about) 0; two images a person tells apart are far. Images are grey
(the mean of R, G, B) in [0, 1], so the distance is in [0, 1].
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def _grey(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3:
        array = array.mean(axis=2)
    return array / 255.0


def aligned_distance(a: np.ndarray, b: np.ndarray, max_shift: int | None = None) -> float:
    """Smallest mean |a - b shifted| over shifts of b up to max_shift pixels (default: a quarter of the side)."""
    x, y = _grey(a), _grey(b)
    if x.shape != y.shape:
        raise ValueError(f"images of different shapes: {x.shape} and {y.shape}")
    h, w = x.shape
    reach = max(h, w) // 4 if max_shift is None else max_shift
    best = np.inf
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            xa = x[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
            yb = y[max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)]
            best = min(best, float(np.abs(xa - yb).mean()))
    return best


def mean_pairwise(images: Sequence[np.ndarray], max_shift: int | None = None) -> float:
    """The mean aligned distance over every pair of images (nan for fewer than two)."""
    pairs = [aligned_distance(a, b, max_shift) for a, b in itertools.combinations(images, 2)]
    return float(np.mean(pairs)) if pairs else float("nan")


def mean_pixel_difference(images: Sequence[np.ndarray]) -> float:
    """The unaligned mean |a - b| over pairs: what a shifted texture fools."""
    pairs = [float(np.abs(_grey(a) - _grey(b)).mean()) for a, b in itertools.combinations(images, 2)]
    return float(np.mean(pairs)) if pairs else float("nan")
