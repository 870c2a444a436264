"""The planted-unit check: units of known selectivity come out of seldb exactly as built.

Localist units (every item of the class above every other item), 'detectors'
with precision_60 = 1 but recall at precision 1 = 60/700 < 0.1, and
distributed units. The exact values follow from the construction (see
seldb/control/planted.py); the measures come from seldb.measures, both on
the arrays and through an activation file.
"""

from __future__ import annotations

import numpy as np
import pytest

from seldb.control.planted_units import KINDS, classify, planted_units, write_planted_file
from seldb.h5.reader import ActivationFile
from seldb.measures import compute_block

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def planted():
    return planted_units(n_classes=10, per_class=700, per_kind=4, seed=11)


def _check(planted, units):
    assert classify(units) == planted.kinds
    for row, kind, c in zip(units.sort("unit").iter_rows(named=True), planted.kinds, planted.classes):
        if kind == "localist":
            assert row["is_localist"] and row["localist_margin"] > 0
            assert (row["recall_p1"], row["max_informedness"], row["precision_60"]) == (1.0, 1.0, 1.0)
            assert row["recall_p1_class"] == row["mi_class"] == row["precision_60_class"] == c
        elif kind == "precise-not-recall":
            assert row["precision_60"] == 1.0 and row["precision_60_class"] == c
            assert row["recall_p1"] == pytest.approx(60 / 700, abs=1e-12) and row["recall_p1_class"] == c
            assert row["recall_p1"] < 0.1 and not row["is_localist"]
        else:
            assert not row["is_localist"] and row["recall_p1"] < 0.1
            assert row["precision_60"] <= 0.75 and row["max_informedness"] < 0.5


def test_planted_units_are_classified_as_built(planted):
    assert planted.kinds == list(KINDS) * 4
    _check(planted, compute_block(planted.values, planted.labels, planted.n_classes).units)


def test_planted_units_through_an_activation_file(tmp_path, planted):
    path = write_planted_file(tmp_path / "planted.h5", planted)
    with ActivationFile(path) as afile:
        values = afile.read_units("planted", 0, afile.layers["planted"].n_units)
        units = compute_block(values, afile.labels, afile.n_classes).units
    assert values.dtype == np.float32
    _check(planted, units)


def test_a_detector_needs_enough_items_per_class():
    with pytest.raises(ValueError, match="per_class 100"):
        planted_units(per_class=100)
