"""Brute-force reference for the selectivity measures of docs/measures.md.

Written straight from the spec, for small units only: every class and every
distinct activation value is enumerated as a threshold and TP / FP are counted;
top-k is a literal sort; means, ratios and tie tests use exact fractions of the
float64 inputs, and only the final numbers are rounded to float. Speed is
irrelevant here; obviousness is the point. The engine (seldb.measures) is
tested against this module, and this module is tested against the spec's worked
examples (tests/test_reference.py).

Decisions where the spec leaves something open (each follows from a spec line):

- All rows handed in are the analysed images (any correct-classification
  filter has been applied before).
- A class with no analysed image (n = 0) takes part in no measure: it can win
  nothing, its class-statistics row has n = 0, n_nonzero = 0 and None for every
  other statistic, and its histogram has zero counts.
- "notc" always means the analysed images not in c. When only one class is
  analysed, notc is empty, so:
    * ccmas is None (mu_notc is a mean over nothing) but ccmas_class is still
      the class with the highest mean ("the class columns are filled all the
      same"); ccmas_morcos is None (no other class means); ccmas2 and its class
      are None (spec: "fewer than two classes are analysed");
    * localist_margin / is_localist are None (spec: "no analysed image lies
      outside c");
    * informedness needs FPR = FP / (N - N_c) = 0 / 0, so max_informedness,
      mi_class, mi_threshold and all mi_* are None, and so are every class's
      own max_informedness / mi_threshold;
    * precision_k (k capped at N) and recall at precision p need no notc and
      are computed as usual (precision_k = 1 for that class; recall_p = 1 at
      the lowest activation as threshold).
- "Within 1e-12" ties (informedness, recall at p) are taken against the best
  value: every candidate whose value is >= best - 1e-12 is tied, and among
  those the higher threshold, then the lower class index wins. Class means
  are tied when |m - M| <= 1e-12 * |M| with M the highest remaining mean; the
  lower class index ranks first (ccmas is the first pick, ccmas2 the second).
- The CCMAS NULL rule is applied to the exact means:
  |mu_c + mu_notc| < 1e-12 * (|mu_c| + |mu_notc|) or both are 0.
- n_nonzero counts a > 0 (as the spec writes it), so negatives are not
  "nonzero"; n_zero in the histograms counts a == 0 exactly (-0.0 included).
- Top-k precision with k > N uses k = N. n_classes_top100 counts classes with a
  non-zero expected count at k = min(100, N).
- Concepts: A against notA pooled over images; ccmas / informedness are None
  when notA (or A) has no image; recall at p is 0 when no threshold qualifies.
  A concept with no analysed image at all (n_a = 0) is treated like a class
  with n = 0, it "takes part in no measure": every A-side number (means, sems,
  frac_nonzero, precision_k, ccmas, informedness, recall at p) is None; only
  n_a, n_not_a and the notA statistics are filled. (The spec does not say this
  for concepts in so many words; it is the class rule carried over.)
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

TOL = Fraction(1, 10**12)  # the spec's 1e-12


def _p_name(p: float) -> str:
    """Column suffix for a precision level: 1.0 -> 'p1', 0.95 -> 'p95'."""
    return "p1" if p == 1 else "p" + str(round(p * 100))


def _prepare(a, y, K):
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError("one unit at a time")
    vals = [float(x) for x in a.astype(np.float64)]  # float16/32 -> float64 is exact
    labels = [int(c) for c in np.asarray(y).ravel()]
    if len(vals) != len(labels):
        raise ValueError("a and y differ in length")
    if any(c < 0 or c >= K for c in labels):
        raise ValueError("label out of range")
    return vals, labels


def _mean(xs):
    """Exact mean (a Fraction) of floats, None for an empty list."""
    if not xs:
        return None
    return sum((Fraction(x) for x in xs), Fraction(0)) / len(xs)


def _std(xs):
    """Sample standard deviation (ddof = 1), None when fewer than 2 values."""
    if len(xs) < 2:
        return None
    m = _mean(xs)
    var = sum(((Fraction(x) - m) ** 2 for x in xs), Fraction(0)) / (len(xs) - 1)
    return math.sqrt(var)  # Fraction -> float, then sqrt


def _f(x):
    return None if x is None else float(x)


def _ccmas(mu_c, mu_notc):
    """(mu_c - mu_notc) / (mu_c + mu_notc) with the spec's NULL rule."""
    if mu_c is None or mu_notc is None:
        return None
    s = mu_c + mu_notc
    if (mu_c == 0 and mu_notc == 0) or abs(s) < TOL * (abs(mu_c) + abs(mu_notc)):
        return None
    return float((mu_c - mu_notc) / s)


def _desc_order(vals):
    """Image indices by activation descending, then image index ascending."""
    return sorted(range(len(vals)), key=lambda i: (-vals[i], i))


def _counts_ge(vals, labels, t, K):
    """Per-class number of images with a >= t (literal count)."""
    cnt = [0] * K
    for v, c in zip(vals, labels):
        if v >= t:
            cnt[c] += 1
    return cnt


def _thresholds(vals):
    """The distinct activation values (0.0 and -0.0 are one value)."""
    out = []
    for v in sorted(vals, reverse=True):
        if not out or v != out[-1]:
            out.append(v)
    return out


def _pick(cands):
    """cands: (value Fraction, threshold float, class int). Best value, ties within
    1e-12 -> higher threshold -> lower class index."""
    best = max(c[0] for c in cands)
    near = [c for c in cands if c[0] >= best - TOL]
    return max(near, key=lambda c: (c[1], -c[2]))


def _topk(vals, member, k):
    """Zhou-style expected top-k counts.

    member[i]: the group of image i (a class index, or True/False for concepts).
    Returns (k_used, |T|, {group: integer score}) with count = score / |T|.
    """
    n = len(vals)
    k = min(k, n)
    order = _desc_order(vals)
    v = vals[order[k - 1]]  # the k-th largest activation
    G = [i for i in range(n) if vals[i] > v]
    T = [i for i in range(n) if vals[i] == v]
    r = k - len(G)
    score = {}
    for i in G:
        score[member[i]] = score.get(member[i], 0) + len(T)
    for i in T:
        score[member[i]] = score.get(member[i], 0) + r
    return k, len(T), score, order


def _precision_class(vals, labels, k):
    k, nT, score, order = _topk(vals, labels, k)
    best = max(score.values())
    winners = {c for c, s in score.items() if s == best}
    first_pos = {}
    for pos, i in enumerate(order):
        first_pos.setdefault(labels[i], pos)
    cls = min(winners, key=lambda c: first_pos[c])
    n_nonzero_classes = sum(1 for s in score.values() if s > 0)
    return float(Fraction(best, nT * k)), cls, n_nonzero_classes


def _informedness_cands(vals, labels, K, classes, n_c, N, ths, counts):
    cands = []
    for c in classes:
        if N - n_c[c] == 0:
            continue  # FPR undefined
        for t in ths:
            tp = counts[t][c]
            fp = sum(counts[t]) - tp
            inf = Fraction(tp, n_c[c]) - Fraction(fp, N - n_c[c])
            cands.append((inf, t, c))
    return cands


def _mi_fields(choice, n_c, N, counts):
    inf, t, c = choice
    tp = counts[t][c]
    fp = sum(counts[t]) - tp
    fpr = Fraction(fp, N - n_c[c])
    return {
        "max_informedness": float(inf),
        "mi_class": c,
        "mi_threshold": t,
        "mi_recall": float(Fraction(tp, n_c[c])),
        "mi_specificity": float(1 - fpr),
        "mi_false_alarm_rate": float(fpr),
        "mi_false_discovery_rate": float(Fraction(fp, tp + fp)),
        "mi_precision": float(Fraction(tp, tp + fp)),
    }


def reference_unit(a, y, K, top_k=(60, 100), p_levels=(1.0, 0.95), bins=32):
    vals, labels = _prepare(a, y, K)
    N = len(vals)
    if N == 0:
        raise ValueError("no analysed image")
    by_class = [[v for v, c in zip(vals, labels) if c == cc] for cc in range(K)]
    n_c = [len(x) for x in by_class]
    present = [c for c in range(K) if n_c[c] > 0]
    ths = _thresholds(vals)
    counts = {t: _counts_ge(vals, labels, t, K) for t in ths}
    out = {"n_images": N}
    out["n_distinct_values"] = len(ths)  # the distinct activation values
    out["is_dead"] = len(ths) == 1  # never above its lowest value

    # --- CCMAS --------------------------------------------------------------
    means = {c: _mean(by_class[c]) for c in present}
    mu_notc = {c: _mean([v for v, cc in zip(vals, labels) if cc != c]) for c in present}
    class_ccmas = {c: _ccmas(means[c], mu_notc[c]) for c in present}
    ranked = []
    remaining = list(present)
    while remaining and len(ranked) < 2:
        M = max(means[c] for c in remaining)
        tied = [c for c in remaining if abs(means[c] - M) <= TOL * abs(M)]
        pick = min(tied)
        ranked.append(pick)
        remaining.remove(pick)
    c1 = ranked[0]
    out["ccmas"] = class_ccmas[c1]
    out["ccmas_class"] = c1
    if len(ranked) > 1:
        out["ccmas2"] = class_ccmas[ranked[1]]
        out["ccmas2_class"] = ranked[1]
    else:
        out["ccmas2"] = None
        out["ccmas2_class"] = None
    others = [means[c] for c in present if c != c1]
    out["ccmas_morcos"] = _ccmas(means[c1], sum(others, Fraction(0)) / len(others)) if others else None

    # --- top-k precision ----------------------------------------------------
    pk = {}
    for k in sorted(set(top_k) | {60, 100}):
        prec, cls, ncls = _precision_class(vals, labels, k)
        pk[k] = (prec, cls, ncls)
    out["precision_60"], out["precision_60_class"] = pk[60][0], pk[60][1]
    out["precision_100"], out["precision_100_class"] = pk[100][0], pk[100][1]
    out["n_classes_top100"] = pk[100][2]
    out["precision_k"] = {k: (pk[k][0], pk[k][1]) for k in top_k}

    # --- localist -------------------------------------------------------------
    order = _desc_order(vals)
    c_top = labels[order[0]]
    notc = [v for v, c in zip(vals, labels) if c != c_top]
    if notc:
        margin = min(by_class[c_top]) - max(notc)
        out["localist_margin"] = margin
        out["is_localist"] = margin > 0
    else:
        out["localist_margin"] = None
        out["is_localist"] = None

    # --- recall at precision p ----------------------------------------------
    for p in p_levels:
        P = Fraction(str(p))
        cands = []
        for c in present:
            for t in ths:
                tp = counts[t][c]
                fp = sum(counts[t]) - tp
                if tp > 0 and Fraction(tp, tp + fp) >= P:
                    cands.append((Fraction(tp, n_c[c]), t, c))
        name = "recall_" + _p_name(p)
        if cands:
            r, t, c = _pick(cands)
            out[name], out[name + "_class"], out[name + "_threshold"] = float(r), c, t
        else:
            out[name], out[name + "_class"], out[name + "_threshold"] = 0.0, None, None

    # --- maximum informedness -----------------------------------------------
    cands = _informedness_cands(vals, labels, K, present, n_c, N, ths, counts)
    if cands:
        out.update(_mi_fields(_pick(cands), n_c, N, counts))
    else:
        for key in (
            "max_informedness",
            "mi_class",
            "mi_threshold",
            "mi_recall",
            "mi_specificity",
            "mi_false_alarm_rate",
            "mi_false_discovery_rate",
            "mi_precision",
        ):
            out[key] = None

    # --- class statistics -----------------------------------------------------
    stats = []
    for c in range(K):
        xs = by_class[c]
        row = {"class_index": c, "n": len(xs), "n_nonzero": sum(1 for x in xs if x > 0)}
        if not xs:
            row.update(
                mean=None,
                std=None,
                sem=None,
                min=None,
                max=None,
                frac_nonzero=None,
                ccmas=None,
                max_informedness=None,
                mi_threshold=None,
            )
        else:
            sd = _std(xs)
            row.update(
                mean=float(means[c]),
                std=sd,
                sem=None if sd is None else sd / math.sqrt(len(xs)),
                min=min(xs),
                max=max(xs),
                frac_nonzero=row["n_nonzero"] / len(xs),
                ccmas=class_ccmas[c],
            )
            cc = _informedness_cands(vals, labels, K, [c], n_c, N, ths, counts)
            if cc:
                inf, t, _ = _pick(cc)
                row.update(max_informedness=float(inf), mi_threshold=t)
            else:
                row.update(max_informedness=None, mi_threshold=None)
        stats.append(row)
    out["class_stats"] = stats

    # --- histograms -----------------------------------------------------------
    lo, hi = min(vals), max(vals)
    if hi == lo:
        n_bins, w = 1, 0.0
    else:
        n_bins, w = bins, (hi - lo) / bins
    hists = []
    for c in range(K):
        cnt = [0] * n_bins
        for x in by_class[c]:
            b = 0 if w == 0.0 else min(bins - 1, math.floor((x - lo) / w))
            cnt[b] += 1
        hists.append(
            {
                "class_index": c,
                "bin_lo": lo,
                "bin_width": w,
                "n_bins": n_bins,
                "n_zero": sum(1 for x in by_class[c] if x == 0),
                "counts": cnt,
            }
        )
    out["histograms"] = hists

    # --- top images -----------------------------------------------------------
    out["top_images"] = [
        {"rank": r + 1, "image_index": i, "class_index": labels[i], "activation": vals[i]}
        for r, i in enumerate(order[:100])
    ]
    return out


def reference_concept(a, y, K, concept_classes, top_k=(60, 100), p_levels=(1.0, 0.95)):
    vals, labels = _prepare(a, y, K)
    A = {int(c) for c in concept_classes}
    inA = [c in A for c in labels]
    xa = [v for v, m in zip(vals, inA) if m]
    xn = [v for v, m in zip(vals, inA) if not m]
    out = {"n_a": len(xa), "n_not_a": len(xn)}
    mu_a, mu_n = _mean(xa), _mean(xn)
    out["mean_a"], out["mean_not_a"] = _f(mu_a), _f(mu_n)
    sa, sn = _std(xa), _std(xn)
    out["sem_a"] = None if sa is None else sa / math.sqrt(len(xa))
    out["sem_not_a"] = None if sn is None else sn / math.sqrt(len(xn))
    out["frac_nonzero_a"] = sum(1 for x in xa if x > 0) / len(xa) if xa else None
    out["frac_nonzero_not_a"] = sum(1 for x in xn if x > 0) / len(xn) if xn else None

    pk = {}
    for k in sorted(set(top_k) | {60, 100}):
        k_used, nT, score, _ = _topk(vals, inA, k)
        pk[k] = float(Fraction(score.get(True, 0), nT * k_used))
    out["precision_60"], out["precision_100"] = pk[60], pk[100]
    out["precision_k"] = {k: pk[k] for k in top_k}
    out["ccmas"] = _ccmas(mu_a, mu_n)

    ths = _thresholds(vals)
    tpfp = {}
    for t in ths:
        tp = sum(1 for v, m in zip(vals, inA) if m and v >= t)
        fp = sum(1 for v, m in zip(vals, inA) if not m and v >= t)
        tpfp[t] = (tp, fp)

    if xa and xn:
        cands = [(Fraction(tp, len(xa)) - Fraction(fp, len(xn)), t, 0) for t, (tp, fp) in tpfp.items()]
        inf, t, _ = _pick(cands)
        tp, fp = tpfp[t]
        out.update(
            max_informedness=float(inf),
            mi_threshold=t,
            mi_recall=float(Fraction(tp, len(xa))),
            mi_false_alarm_rate=float(Fraction(fp, len(xn))),
            mi_false_discovery_rate=float(Fraction(fp, tp + fp)),
        )
    else:
        out.update(
            max_informedness=None,
            mi_threshold=None,
            mi_recall=None,
            mi_false_alarm_rate=None,
            mi_false_discovery_rate=None,
        )

    if not xa:  # no analysed image in A: A takes part in no measure
        out["precision_60"] = out["precision_100"] = None
        out["precision_k"] = dict.fromkeys(top_k)
        for p in p_levels:
            out["recall_" + _p_name(p)] = None
        return out
    for p in p_levels:
        P = Fraction(str(p))
        rs = [Fraction(tp, len(xa)) for tp, fp in tpfp.values() if tp > 0 and Fraction(tp, tp + fp) >= P]
        out["recall_" + _p_name(p)] = float(max(rs)) if rs else 0.0
    return out
