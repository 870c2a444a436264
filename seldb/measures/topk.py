"""Top-k class counts (Zhou et al.'s precision) and each unit's top images.

The k-th largest activation v splits a unit's images into G (a > v) and the
tie group T (a == v), of which r = k - |G| are drawn. A class's expected count
under random tie-breaking is |G in c| + r |T in c| / |T|; scaled by |T| it is
an integer, so classes are compared exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seldb.measures.block import Block
from seldb.measures.sweep import KthCode, Runs


@dataclass
class TopKCounts:
    k_requested: int
    k: int  # effective k (min(k, N))
    scaled: np.ndarray  # (U, K) int: |G in c| * |T| + r * |T in c|
    tie_size: np.ndarray  # (U,) |T|


def topk_counts(block: Block, kth: KthCode, runs: Runs, k: int) -> TopKCounts:
    requested, k = k, min(k, block.n_images)
    kth_code = kth(k)
    top = np.flatnonzero(runs.code <= kth_code[runs.unit])  # the few runs at or above the k-th value
    unit, code, length = runs.unit[top], runs.code[top], runs.length[top]
    run_kth = kth_code[unit]
    cell = unit * block.n_classes + runs.cls[top]
    size = block.n_units * block.n_classes
    above = np.bincount(cell, weights=length * (code < run_kth), minlength=size)
    tied = np.bincount(cell, weights=length * (code == run_kth), minlength=size)
    above = above.astype(np.int64).reshape(block.n_units, block.n_classes)
    tied = tied.astype(np.int64).reshape(block.n_units, block.n_classes)
    tie_size = tied.sum(axis=1)
    remaining = k - above.sum(axis=1)
    scaled = above * tie_size[:, None] + remaining[:, None] * tied
    return TopKCounts(requested, k, scaled, tie_size)


@dataclass
class TopImages:
    image_index: np.ndarray  # (U, n) original row, -1 = padding when N < n
    activation: np.ndarray  # (U, n)
    label: np.ndarray  # (U, n), -1 = padding


def top_images(block: Block, kth: KthCode, n: int = 100) -> TopImages:
    """The n most active images per unit; ties: lower image index first."""
    take = min(n, block.n_images)
    index = np.full((block.n_units, n), -1, dtype=np.int64)
    activation = np.full((block.n_units, n), np.nan)
    label = np.full((block.n_units, n), -1, dtype=np.int64)
    kth_code = kth(take)
    for u in range(block.n_units):
        codes = block.desc_codes[u]
        above = np.flatnonzero(codes < kth_code[u])
        tied = np.flatnonzero(codes == kth_code[u])
        tied = tied[np.argsort(block.image_index[tied], kind="stable")[: take - above.size]]
        chosen = np.concatenate([above, tied])
        chosen = chosen[np.lexsort((block.image_index[chosen], codes[chosen]))]
        index[u, :take] = block.image_index[chosen]
        activation[u, :take] = block.values[u, chosen]
        label[u, :take] = block.labels[chosen]
    return TopImages(index, activation, label)
