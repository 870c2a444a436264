"""The brute-force reference (tests/reference.py) against the spec's worked examples
(docs/measures.md, its worked examples) and a few small cases
worked by hand, so that the engine is tested against something proven."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference import reference_concept, reference_unit

pytestmark = pytest.mark.unit

EPS = 1e-12


def close(x, y, eps=EPS):
    return x is not None and abs(x - y) <= eps


def _labels_10x100(layout):
    if layout == "blocked":
        return np.repeat(np.arange(10), 100)
    if layout == "interleaved":
        return np.tile(np.arange(10), 100)
    rng = np.random.default_rng(1234)
    return rng.permutation(np.repeat(np.arange(10), 100))


LAYOUTS = ["blocked", "interleaved", "shuffled"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_example_a_one_active_item(layout):
    y = _labels_10x100(layout)
    a = np.zeros(1000)
    a[np.flatnonzero(y == 0)[0]] = 1.0
    r = reference_unit(a, y, 10)
    # exactly as written in the spec
    assert close(r["ccmas"], 1.0) and r["ccmas_class"] == 0
    assert close(r["precision_100"], (1 + 99 * 99 / 999) / 100)
    assert abs(r["precision_100"] - 0.1081) < 1e-4
    assert r["precision_100_class"] == 0
    assert r["localist_margin"] == 0 and r["is_localist"] is False
    assert close(r["recall_p1"], 0.01) and r["recall_p1_class"] == 0 and r["recall_p1_threshold"] == 1.0
    assert close(r["max_informedness"], 0.01)
    assert r["mi_class"] == 0 and r["mi_threshold"] == 1.0
    # consequences of the definitions
    assert close(r["precision_60"], (1 + 59 * 99 / 999) / 60) and r["precision_60_class"] == 0
    assert r["n_classes_top100"] == 10
    assert close(r["ccmas2"], -1.0) and r["ccmas2_class"] == 1  # classes 1..9 tie at mean 0
    assert close(r["ccmas_morcos"], 1.0)
    assert close(r["recall_p95"], 0.01) and r["recall_p95_class"] == 0
    assert close(r["mi_recall"], 0.01) and close(r["mi_false_alarm_rate"], 0.0)
    assert close(r["mi_specificity"], 1.0) and close(r["mi_precision"], 1.0)
    assert close(r["mi_false_discovery_rate"], 0.0)
    assert r["top_images"][0]["image_index"] == np.flatnonzero(y == 0)[0]
    # the rest of the top 100 are the lowest-index zeros
    rest = [t["image_index"] for t in r["top_images"][1:]]
    assert rest == [i for i in range(1000) if i != r["top_images"][0]["image_index"]][:99]
    h0 = r["class_stats"][0]
    assert h0["n"] == 100 and h0["n_nonzero"] == 1 and close(h0["mean"], 0.01)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_example_b_grandmother_cell(layout):
    y = _labels_10x100(layout)
    a = np.where(y == 0, 1.0, 0.0)
    r = reference_unit(a, y, 10)
    assert close(r["ccmas"], 1.0) and r["ccmas_class"] == 0
    assert close(r["precision_100"], 1.0) and r["precision_100_class"] == 0
    assert close(r["localist_margin"], 1.0) and r["is_localist"] is True
    assert close(r["recall_p1"], 1.0) and r["recall_p1_class"] == 0 and r["recall_p1_threshold"] == 1.0
    assert close(r["max_informedness"], 1.0) and r["mi_class"] == 0 and r["mi_threshold"] == 1.0
    assert close(r["mi_false_alarm_rate"], 0.0)
    assert close(r["precision_60"], 1.0)
    assert r["n_classes_top100"] == 1
    assert close(r["mi_false_discovery_rate"], 0.0) and close(r["mi_precision"], 1.0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_example_c_one_class_slightly_higher(layout):
    y = _labels_10x100(layout)
    a = np.where(y == 0, 0.9, 0.8)
    r = reference_unit(a, y, 10)
    assert close(r["ccmas"], 0.1 / 1.7) and r["ccmas_class"] == 0
    assert abs(r["ccmas"] - 0.0588) < 1e-4
    assert close(r["precision_100"], 1.0) and r["precision_100_class"] == 0
    assert r["is_localist"] is True and close(r["localist_margin"], 0.1)
    assert close(r["recall_p1"], 1.0) and r["recall_p1_threshold"] == 0.9
    assert close(r["max_informedness"], 1.0) and r["mi_threshold"] == 0.9 and r["mi_class"] == 0
    assert close(r["ccmas_morcos"], 0.1 / 1.7)


# ----------------------------------------------------------------------------
# small cases worked by hand


def test_topk_expected_count_and_first_image_tiebreak():
    # k = 3. sorted: 5 (c2), 4 (c1), then ties at 3: images of c0, c1, c2 (4 of them)
    a = np.array([3.0, 4.0, 3.0, 5.0, 3.0, 3.0])
    y = np.array([0, 1, 1, 2, 2, 0])
    r = reference_unit(a, y, 3, top_k=(1, 2, 3, 60, 100))
    # k=3: v=3, G={4:c1, 5:c2}, T = {0:c0, 2:c1, 4:c2, 5:c0}, r=1
    # scores*|T|: c0 = 1*2 = 2, c1 = 4 + 1 = 5, c2 = 4 + 1 = 5 -> c1 and c2 tie;
    # c2's first image (the 5.0) comes first in the order -> c2
    p, c = r["precision_k"][3]
    assert close(p, (5 / 4) / 3) and c == 2
    assert r["precision_k"][1] == (1.0, 2)
    assert close(r["precision_k"][2][0], 0.5) and r["precision_k"][2][1] == 2
    # N < 60, 100: k = N = 6: c0 = 2, c1 = 2, c2 = 2 -> first image is class 2
    assert close(r["precision_60"], 2 / 6) and r["precision_60_class"] == 2
    assert r["n_classes_top100"] == 3


def test_ccmas_ties_null_and_morcos():
    # means: c0 = 1, c1 = 1, c2 = -1 (by pooling)
    a = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0])
    y = np.array([0, 1, 1, 2, 2, 2, 2])
    r = reference_unit(a, y, 4)  # class 3 has no image
    assert r["ccmas_class"] == 0 and r["ccmas2_class"] == 1
    # c0: mu_notc = (2 - 4)/6 = -1/3 -> (1 + 1/3)/(1 - 1/3) = 2
    assert close(r["ccmas"], 2.0)
    # c1: mu_notc = (1 - 4)/5 = -3/5 -> (8/5)/(2/5) = 4
    assert close(r["ccmas2"], 4.0)
    # morcos for c0: other means (1, -1) -> 0 -> (1-0)/(1+0) = 1
    assert close(r["ccmas_morcos"], 1.0)
    # c2: mu = -1, mu_notc = 1 -> sum 0 -> NULL
    assert r["class_stats"][2]["ccmas"] is None
    s3 = r["class_stats"][3]
    assert s3["n"] == 0 and s3["n_nonzero"] == 0 and s3["mean"] is None and s3["ccmas"] is None
    assert s3["max_informedness"] is None
    assert r["histograms"][3]["counts"] == [0] * 32


def test_ccmas_both_zero_is_null_class_still_filled():
    a = np.zeros(6)
    y = np.array([0, 0, 1, 1, 2, 2])
    r = reference_unit(a, y, 3)
    assert r["ccmas"] is None and r["ccmas_class"] == 0
    assert r["ccmas2"] is None and r["ccmas2_class"] == 1
    assert r["ccmas_morcos"] is None
    # all-equal unit: one threshold, everything selected
    assert r["max_informedness"] == 0.0 and r["mi_class"] == 0 and r["mi_threshold"] == 0.0
    assert r["mi_false_alarm_rate"] == 1.0 and r["mi_specificity"] == 0.0
    assert r["recall_p1"] == 0.0 and r["recall_p1_class"] is None and r["recall_p1_threshold"] is None
    assert r["localist_margin"] == 0.0 and r["is_localist"] is False
    h = r["histograms"][1]
    assert h["n_bins"] == 1 and h["bin_width"] == 0.0 and h["counts"] == [2] and h["n_zero"] == 2


def test_informedness_and_recall_tiebreaks():
    # c0: {3, 1}, c1: {2, 0}
    a = np.array([3.0, 1.0, 2.0, 0.0])
    y = np.array([0, 0, 1, 1])
    r = reference_unit(a, y, 2)
    # c0: t=3: 1/2 - 0 = 1/2; t=1: 1 - 1/2 = 1/2 -> tie, higher threshold 3
    # c1: t=2: 1/2 - 1/2 = 0; t=0: 0
    assert close(r["max_informedness"], 0.5) and r["mi_class"] == 0 and r["mi_threshold"] == 3.0
    assert close(r["mi_recall"], 0.5) and close(r["mi_precision"], 1.0)
    # recall at precision 1: only c0 at t=3 (recall 1/2)
    assert close(r["recall_p1"], 0.5) and r["recall_p1_threshold"] == 3.0
    # at 0.95 the same
    assert close(r["recall_p95"], 0.5)
    assert r["localist_margin"] == 1.0 - 2.0 and r["is_localist"] is False
    cs = r["class_stats"]
    assert close(cs[1]["max_informedness"], 0.0) and cs[1]["mi_threshold"] == 2.0


def test_recall_precision_threshold_exact():
    # 19 of class 0 and 1 of class 1 above every other image: precision 19/20 exactly
    a = np.array([1.0] * 20 + [0.0] * 20)
    y = np.array([0] * 19 + [1] + [0] + [1] * 19)
    r = reference_unit(a, y, 2)
    assert close(r["recall_p95"], 19 / 20) and r["recall_p95_class"] == 0 and r["recall_p95_threshold"] == 1.0
    assert r["recall_p1"] == 0.0 and r["recall_p1_class"] is None
    # 18 + 2: precision 0.9 -> no class qualifies at 0.95 above 0 ... except at t=0 with
    # precision 20/40 -> nothing
    a2 = np.array([1.0] * 20 + [0.0] * 20)
    y2 = np.array([0] * 18 + [1] * 2 + [0] * 2 + [1] * 18)
    assert reference_unit(a2, y2, 2)["recall_p95"] == 0.0


def test_single_analysed_class():
    a = np.array([0.5, 0.2, 0.9])
    y = np.array([2, 2, 2])
    r = reference_unit(a, y, 4)
    assert r["ccmas"] is None and r["ccmas_class"] == 2
    assert r["ccmas2"] is None and r["ccmas2_class"] is None and r["ccmas_morcos"] is None
    assert r["precision_100"] == 1.0 and r["precision_100_class"] == 2 and r["n_classes_top100"] == 1
    assert r["localist_margin"] is None and r["is_localist"] is None
    assert r["recall_p1"] == 1.0 and r["recall_p1_class"] == 2 and r["recall_p1_threshold"] == 0.2
    assert r["max_informedness"] is None and r["mi_class"] is None and r["mi_precision"] is None
    assert r["class_stats"][2]["max_informedness"] is None


def test_class_stats_and_histogram_by_hand():
    a = np.array([-1.0, 0.0, -0.0, 3.0, 1.0, 2.0])
    y = np.array([0, 0, 0, 1, 1, 1])
    r = reference_unit(a, y, 2, bins=4)
    s0, s1 = r["class_stats"]
    assert s0["n"] == 3 and close(s0["mean"], -1 / 3)
    assert close(s0["std"], math.sqrt(((2 / 3) ** 2 + 2 * (1 / 3) ** 2) / 2))
    assert close(s0["sem"], s0["std"] / math.sqrt(3))
    assert s0["min"] == -1.0 and s0["max"] == 0.0 and s0["n_nonzero"] == 0 and s0["frac_nonzero"] == 0
    assert s1["n_nonzero"] == 3 and s1["frac_nonzero"] == 1.0 and close(s1["std"], 1.0)
    # lo=-1, hi=3, w=1: -1->0, 0->1, -0->1, 3->min(3,4)=3, 1->2, 2->3
    h0, h1 = r["histograms"]
    assert h0["bin_lo"] == -1.0 and h0["bin_width"] == 1.0 and h0["n_bins"] == 4
    assert h0["counts"] == [1, 2, 0, 0] and h0["n_zero"] == 2
    assert h1["counts"] == [0, 0, 1, 2] and h1["n_zero"] == 0
    # n = 1 class: std and sem NULL
    r1 = reference_unit(np.array([1.0, 2.0]), np.array([0, 1]), 2)
    assert r1["class_stats"][0]["std"] is None and r1["class_stats"][0]["sem"] is None


def test_top_images_ties_lower_index_first():
    a = np.array([0.0, 2.0, -0.0, 2.0, 1.0], dtype=np.float32)
    y = np.array([0, 1, 2, 0, 1])
    ti = reference_unit(a, y, 3)["top_images"]
    assert [t["image_index"] for t in ti] == [1, 3, 4, 0, 2]
    assert [t["rank"] for t in ti] == [1, 2, 3, 4, 5]
    assert [t["class_index"] for t in ti] == [1, 0, 1, 0, 2]


def test_concept_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    a = np.array([3.0, 0.0, 2.0, 2.0, 1.0, 0.0])
    r = reference_concept(a, y, 3, {0, 1})
    assert r["n_a"] == 4 and r["n_not_a"] == 2
    assert close(r["mean_a"], 7 / 4) and close(r["mean_not_a"], 0.5)
    assert close(r["frac_nonzero_a"], 0.75) and close(r["frac_nonzero_not_a"], 0.5)
    assert close(r["ccmas"], (7 / 4 - 1 / 2) / (7 / 4 + 1 / 2))
    # t=2: TP 3, FP 0 -> inf 3/4; t=1: 3/4 - 1/2; t=3: 1/4
    assert close(r["max_informedness"], 0.75) and r["mi_threshold"] == 2.0
    assert close(r["mi_recall"], 0.75) and r["mi_false_alarm_rate"] == 0.0
    assert r["mi_false_discovery_rate"] == 0.0
    assert close(r["recall_p1"], 0.75) and close(r["recall_p95"], 0.75)
    # N = 6 < 60: k = 6: all images -> A count 4 / 6
    assert close(r["precision_60"], 4 / 6) and close(r["precision_100"], 4 / 6)
    assert close(r["sem_a"], np.std([3, 0, 2, 2], ddof=1) / 2)


def test_reference_informedness_matches_vectorised_recount():
    """A second, independent (vectorised) computation of max informedness and
    precision_100 on random tied data agrees with the reference."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        n, K = int(rng.integers(2, 160)), int(rng.integers(2, 6))
        y = rng.integers(0, K, n)
        a = rng.choice(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), n)
        r = reference_unit(a, y, K)
        ts = np.unique(a)
        best = None
        for c in np.unique(y):
            nc = (y == c).sum()
            if nc == n:
                continue
            sel = a[None, :] >= ts[:, None]
            tp = (sel & (y == c)).sum(1)
            fp = (sel & (y != c)).sum(1)
            inf = tp / nc - fp / (n - nc)
            m = inf.max()
            best = m if best is None else max(best, m)
        if best is None:
            assert r["max_informedness"] is None
        else:
            assert abs(r["max_informedness"] - best) < 1e-12
        k = min(100, n)
        srt = np.sort(a)[::-1]
        v = srt[k - 1]
        g, t = a > v, a == v
        cnt = [((g & (y == c)).sum() + (k - g.sum()) * (t & (y == c)).sum() / t.sum()) for c in range(K)]
        assert abs(r["precision_100"] - max(cnt) / k) < 1e-12


def test_concept_without_analysed_image():
    y = np.array([0, 0, 1])
    a = np.array([1.0, 0.0, 2.0])
    r = reference_concept(a, y, 3, {2})
    assert r["n_a"] == 0 and r["n_not_a"] == 3 and close(r["mean_not_a"], 1.0)
    for key in (
        "mean_a",
        "sem_a",
        "frac_nonzero_a",
        "precision_60",
        "precision_100",
        "ccmas",
        "max_informedness",
        "mi_recall",
        "recall_p1",
        "recall_p95",
    ):
        assert r[key] is None, key
    # A = every analysed class: notA is empty
    r = reference_concept(a, y, 3, {0, 1})
    assert r["n_not_a"] == 0 and r["ccmas"] is None and r["max_informedness"] is None
    assert r["precision_100"] == 1.0 and r["recall_p1"] == 1.0
