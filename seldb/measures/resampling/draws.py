"""The random draws behind bootstrap intervals and the chance baseline.

A replicate is one resample of the analysed images, shared by every unit of
every layer of a run, so that replicate r of unit A and replicate r of unit B
saw the same images (differences between units and per-layer counts keep the
dependence the real data has). Each replicate gets its own random stream,
derived from (seed, kind, r) alone, so results never depend on how units are
blocked or threaded, and any single replicate can be reproduced on its own.

- bootstrap: within each class, N_c images drawn with replacement from the
  class's N_c images (class sizes kept); a replicate is the number of times
  each image was drawn.
- permutation: the labels permuted across all analysed images (class sizes
  kept); a replicate is the label each image carries.
"""

from __future__ import annotations

import numpy as np

from seldb.errors import InputError

BOOTSTRAP = "bootstrap"
PERMUTATION = "permutation"
_KIND_KEY = {BOOTSTRAP: 1, PERMUTATION: 2}


def replicate_rng(seed: int, kind: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate: PCG64 seeded with (seed, kind, replicate)."""
    if kind not in _KIND_KEY:
        raise InputError(f"unknown replicate kind {kind!r}: expected {BOOTSTRAP!r} or {PERMUTATION!r}")
    if seed < 0 or replicate < 0:
        raise InputError(f"seed and replicate must be non-negative integers, got seed={seed}, replicate={replicate}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), _KIND_KEY[kind], int(replicate)])))


def _class_layout(labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable class-contiguous order of the images, class sizes and each class's first slot."""
    order = np.argsort(labels, kind="stable")
    class_n = np.bincount(labels, minlength=n_classes)
    class_start = np.concatenate([[0], np.cumsum(class_n)[:-1]])
    return order, class_n, class_start


def _checked_labels(labels, n_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise InputError(f"labels must be a non-empty 1-d array, got shape {labels.shape}")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise InputError(f"labels must lie in 0..{n_classes - 1}, found {labels.min()}..{labels.max()}")
    return labels


class Draws:
    """Replicate draws for a fixed set of analysed images (labels in input order).

    Everything is computed in the class-contiguous order (stable sort by
    label) - the column order of a measures Block - and mapped back to the
    input order only for the public per-replicate functions.
    """

    def __init__(self, labels, n_classes: int, seed: int):
        self.labels = _checked_labels(labels, n_classes)
        self.n_classes = n_classes
        self.seed = int(seed)
        self.order, self.class_n, self.class_start = _class_layout(self.labels, n_classes)
        sorted_labels = self.labels[self.order]
        self._slot_low = self.class_start[sorted_labels]  # first slot of each slot's class
        self._slot_n = self.class_n[sorted_labels]
        self._sorted_labels = sorted_labels

    @property
    def n_images(self) -> int:
        return self.labels.size

    def bootstrap_block(self, replicate: int) -> np.ndarray:
        """Times each image (class-contiguous order) is drawn in bootstrap replicate r."""
        rng = replicate_rng(self.seed, BOOTSTRAP, replicate)
        picks = self._slot_low + rng.integers(0, self._slot_n)  # exact uniform within the class
        return np.bincount(picks, minlength=self.n_images).astype(np.int32)

    def permutation_block(self, replicate: int) -> np.ndarray:
        """Label of each image (class-contiguous order) in permutation replicate r."""
        rng = replicate_rng(self.seed, PERMUTATION, replicate)
        return self._sorted_labels[rng.permutation(self.n_images)]

    def bootstrap_counts(self, replicate: int) -> np.ndarray:
        """Times each analysed image (input order) is drawn in bootstrap replicate r."""
        out = np.empty(self.n_images, dtype=np.int32)
        out[self.order] = self.bootstrap_block(replicate)
        return out

    def permuted_labels(self, replicate: int) -> np.ndarray:
        """Label of each analysed image (input order) in permutation replicate r."""
        out = np.empty(self.n_images, dtype=np.int64)
        out[self.order] = self.permutation_block(replicate)
        return out

    def matrix(self, kind: str, n_replicates: int) -> np.ndarray:
        """All replicates of a kind as one (replicates, images) array in class-contiguous order:
        copies as uint8 (wider only if some image is drawn 256 times or more), labels as int16."""
        if kind == BOOTSTRAP:
            out = np.empty((n_replicates, self.n_images), dtype=np.uint8)
            for r in range(n_replicates):
                row = self.bootstrap_block(r)
                if row.max(initial=0) > 255:  # an image drawn 256 times or more: a class of 256+ images
                    return np.stack([self.bootstrap_block(i) for i in range(n_replicates)])
                out[r] = row
            return out
        if kind == PERMUTATION:
            if self.n_classes > np.iinfo(np.int16).max:
                raise InputError(f"permutations support at most {np.iinfo(np.int16).max} classes, got {self.n_classes}")
            out = np.empty((n_replicates, self.n_images), dtype=np.int16)
            for r in range(n_replicates):
                out[r] = self.permutation_block(r)
            return out
        raise InputError(f"unknown replicate kind {kind!r}: expected {BOOTSTRAP!r} or {PERMUTATION!r}")
