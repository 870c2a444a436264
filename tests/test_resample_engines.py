"""The compiled (numba) replicate engine against the numpy reference engine.

Both must give the same replicates: every value, class, own-class value and
optimism bit for bit on the oracle's random layers (dyadic activations, so
sums are exact in any order), and within 1e-12 for continuous activations,
where only CCMAS's sums are added in another order. Skipped without numba.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_resample_oracle import random_layer

from seldb.measures.resampling.block_replicates import block_replicates
from seldb.measures.resampling.draws import BOOTSTRAP, PERMUTATION, Draws

pytestmark = pytest.mark.unit
pytest.importorskip("numba")


def both_engines(values, labels, k, seed, replicates=7):
    draws = Draws(labels, k, seed)
    made = {kind: draws.matrix(kind, replicates) for kind in (BOOTSTRAP, PERMUTATION)}
    rng = np.random.default_rng(seed)
    point = [
        {"mi_class": int(rng.integers(0, k)), "precision_60_class": 0, "ccmas_class": int(rng.integers(0, k))}
        for _ in range(values.shape[1])
    ]
    return [block_replicates(values, labels, k, made, point_classes=point, engine=e) for e in ("numpy", "numba")]


def _fields(rep):
    for field in ("values", "classes", "own", "optimism"):
        for name, array in getattr(rep, field).items():
            yield f"{rep.kind} {field} {name}", array


@pytest.mark.parametrize("seed", range(40))
def test_engines_agree_bit_for_bit(seed):
    values, labels, k = random_layer(seed)
    reference, compiled = both_engines(values, labels, k, seed)
    for kind in (BOOTSTRAP, PERMUTATION):
        for (name, want), (_, got) in zip(_fields(reference[kind]), _fields(compiled[kind])):
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_engines_agree_to_rounding_on_continuous_values():
    rng = np.random.default_rng(3)
    values = rng.gamma(1.5, 1.0, (700, 5)).astype(np.float32)
    values[rng.random(values.shape) < 0.7] = 0
    labels = rng.integers(0, 9, 700)
    reference, compiled = both_engines(values, labels, 9, 4, replicates=25)
    for kind in (BOOTSTRAP, PERMUTATION):
        for (name, want), (_, got) in zip(_fields(reference[kind]), _fields(compiled[kind])):
            if "ccmas" in name:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)
            else:
                np.testing.assert_array_equal(got, want, err_msg=name)
