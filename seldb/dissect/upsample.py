"""Resizing a unit's activation map to the segmentation's size, as NetDissect-Lite does.

NetDissect-Lite resizes each map with scipy's `imresize(map, (sh, sw),
mode='F')`, i.e. PIL's `Image.resize(..., BILINEAR)` on a float32 image. PIL
resizes with a separable triangle filter: output pixel i of n_out has its
centre at (i + 0.5) * n_in / n_out in input coordinates, input pixel j (centre
j + 0.5) weighs tri((j + 0.5 - centre) / s) with s = max(n_in / n_out, 1),
and the weights are renormalised to sum to 1 (which clamps at the borders).
When upsampling this is bilinear interpolation with half-pixel centres
(torch's align_corners=False); when n_in == n_out it is the identity, exactly.

We build the same weights as matrices and apply them in float64
(NetDissect-Lite's PIL path rounds to float32; docs/dissect.md).

`--upsample receptive-field` follows the 2017 NetDissect code instead
(`upsample.upsampleL`, called by `labelprobe` with reduction = round(iw /
sw)): a unit's value sits at the centre of its receptive field, (offset +
size // 2) // r + k step // r in segmentation pixels, and pixel i takes the
linear interpolation between the two centres around it, or the outermost
centre's value beyond them (a degree-1 `RectBivariateSpline`, which FITPACK
evaluates with its argument clamped to the data's range).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def _triangle(x: float) -> float:
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


@lru_cache(maxsize=64)
def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float64 weights of PIL's BILINEAR resize along one axis (read-only)."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)  # > 1 only when shrinking: PIL widens the filter (antialiasing)
    support = stretch
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        first = max(int(centre - support + 0.5), 0)
        last = min(int(centre + support + 0.5), n_in)
        row = [_triangle((j - centre + 0.5) / stretch) for j in range(first, last)]
        total = sum(row)
        weights[i, first:last] = [w / total for w in row] if total else row
    weights.flags.writeable = False
    return weights


def resize_maps(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """(A, h, w) maps -> (A, height, width) float64 with PIL's BILINEAR weights, one matrix product per axis."""
    _, h, w = maps.shape
    if (h, w) == (height, width):
        return maps.astype(np.float64)  # PIL's weights are the identity here; skip the products
    rows, cols = resize_matrix(h, height), resize_matrix(w, width)
    return np.matmul(rows, np.matmul(maps.astype(np.float64), cols.T))


def reduction(image_width: int, seg_width: int) -> int:
    """2017's labelprobe: int(round(iw / sw)) in Python 2 (halves away from zero), at least 1."""
    return max(int(math.floor(image_width / seg_width + 0.5)), 1)


def centres(first_centre: int, step: int, n: int, reduce: int) -> np.ndarray:
    """Positions, in segmentation pixels, of n receptive-field centres: 2017's `centered_arange`,
    (offset + size // 2) // r + k (step // r); a step that r does not divide uses step / r."""
    stride = step // reduce if step % reduce == 0 else step / reduce
    return first_centre // reduce + np.arange(n) * stride


@lru_cache(maxsize=64)
def centre_matrix(first_centre: int, step: int, n_in: int, n_out: int, reduce: int) -> np.ndarray:
    """(n_out, n_in) float64 weights of linear interpolation between receptive-field centres, evaluated at
    pixels 0 .. n_out - 1 and held at the outermost centres beyond them (FITPACK clamps its argument)."""
    at = centres(first_centre, step, n_in, reduce).astype(np.float64)
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        if n_in == 1 or i <= at[0]:
            weights[i, 0] = 1.0
        elif i >= at[-1]:
            weights[i, -1] = 1.0
        else:
            j = int(np.searchsorted(at, i, side="right")) - 1
            share = (i - at[j]) / (at[j + 1] - at[j])
            weights[i, j], weights[i, j + 1] = 1.0 - share, share
    weights.flags.writeable = False
    return weights


def receptive_field_maps(
    maps: np.ndarray, height: int, width: int, first: tuple[int, int], step: tuple[int, int], reduce: int
) -> np.ndarray:
    """(A, h, w) maps -> (A, height, width) float64 by 2017's `upsampleL` (linear, receptive-field centres)."""
    _, h, w = maps.shape
    rows = centre_matrix(first[0], step[0], h, height, reduce)
    cols = centre_matrix(first[1], step[1], w, width, reduce)
    return np.matmul(rows, np.matmul(maps.astype(np.float64), cols.T))
