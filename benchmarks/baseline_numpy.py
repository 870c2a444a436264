"""A competent per-unit numpy baseline for the import benchmarks (not part of seldb).

What a careful researcher would write without seldb: read each layer once
(one big read), keep the correctly classified images, then loop over units
with vectorised numpy per unit. Six measures of docs/measures.md, ties broken
arbitrarily (approximate): CCMAS, precision at 60 and at 100, the localist
margin, recall at perfect precision and maximum informedness (with its class).
One core (BLAS threads pinned to 1; numpy's sorts are single-threaded anyway).

    python benchmarks/baseline_numpy.py FILE.h5 [--out results.npy]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

COLUMNS = ["ccmas", "precision_60", "precision_100", "localist_margin", "recall_p1", "max_informedness", "mi_class"]


def unit_measures(a: np.ndarray, labels: np.ndarray, n_c: np.ndarray, n_classes: int) -> list[float]:
    n = a.size
    sums = np.bincount(labels, weights=a, minlength=n_classes)
    means = np.divide(sums, n_c, out=np.zeros(n_classes), where=n_c > 0)
    top = int(np.argmax(means))
    mu_not = (sums.sum() - sums[top]) / (n - n_c[top])
    ccmas = (means[top] - mu_not) / (means[top] + mu_not) if means[top] + mu_not else np.nan
    order = np.argsort(-a, kind="stable")
    ranked = labels[order]
    precision = [np.bincount(ranked[:k], minlength=n_classes).max() / k for k in (60, 100)]
    best = ranked[0]
    in_best = labels == best
    margin = a[in_best].min() - a[~in_best].max() if (~in_best).any() else np.nan
    lead = int(np.argmax(ranked != best)) if (ranked != best).any() else n
    recall_p1 = lead / n_c[best]
    # TP of the ranked image's own class at every position: a running count per class
    by_class = np.argsort(ranked, kind="stable")
    starts = np.concatenate([[0], np.cumsum(n_c)[:-1]])
    within = np.empty(n, dtype=np.int64)
    within[by_class] = np.arange(n) - np.repeat(starts, n_c)
    tp = within + 1
    fp = np.arange(1, n + 1) - tp
    informedness = tp / n_c[ranked] - fp / (n - n_c[ranked])
    i = int(np.argmax(informedness))
    return [ccmas, *precision, margin, recall_p1, informedness[i], float(ranked[i])]


def run(path: str) -> np.ndarray:
    with h5py.File(path, "r") as h5:
        labels_all = h5["/images/label"][()].astype(np.int64)
        keep = h5["/images/pred"][()] == labels_all if "/images/pred" in h5 else np.ones(labels_all.size, bool)
        labels = labels_all[keep]
        n_classes = len(h5["/classes/name"])
        n_c = np.bincount(labels, minlength=n_classes)
        results = []
        for _name, ds in h5["/layers"].items():
            layer = np.ascontiguousarray(ds[()][keep].T, dtype=np.float64)  # one read, then units x images
            results += [unit_measures(layer[u], labels, n_c, n_classes) for u in range(layer.shape[0])]
            del layer
    return np.array(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--out")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(args.file)
    if args.out:
        np.save(args.out, results)
    print(f"baseline: {results.shape[0]} units, {len(COLUMNS)} measures, {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
