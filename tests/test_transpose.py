"""The check-and-copy pass's transposition (seldb.h5.transpose): the compiled loop gives numpy's panel
bit for bit and finds exactly the rows numpy's isfinite finds."""

from __future__ import annotations

import numpy as np
import pytest

from seldb.h5.transpose import _compiled, transpose_checked, transpose_checked_numpy

pytestmark = pytest.mark.unit


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint8)  # NaN compares unequal to itself: compare the bytes


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize(("n", "units"), [(1, 1), (15, 17), (16, 16), (70, 130), (300, 3), (4, 1000)])
def test_compiled_and_numpy_agree_to_the_bit(dtype, n, units):
    rng = np.random.default_rng(n * 1000 + units)
    rows = rng.normal(size=(n, units)).astype(dtype)
    spoilt = rng.choice(n * units, size=min(5, n * units), replace=False)
    rows.flat[spoilt] = np.array([np.nan, np.inf, -np.inf, np.nan, np.inf][: spoilt.size], dtype=dtype)
    stride = n + 9
    got, want = np.full((units, stride), 7, dtype), np.full((units, stride), 7, dtype)
    bad = transpose_checked(rows, got)
    expected_bad = transpose_checked_numpy(rows, want)
    assert np.array_equal(_bits(got), _bits(want))
    assert np.array_equal(bad, expected_bad)
    # and both are what the definition says: the transpose, zero padding, the rows isfinite rejects
    assert np.array_equal(_bits(np.ascontiguousarray(got[:, :n])), _bits(np.ascontiguousarray(rows.T)))
    assert not got[:, n:].any()
    assert np.flatnonzero(bad).tolist() == sorted({int(i) // units for i in spoilt})


def test_the_compiled_loop_is_the_one_used_when_numba_is_there():
    pytest.importorskip("numba")
    assert _compiled() is not None
