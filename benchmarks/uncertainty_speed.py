"""Benchmark: bootstrap intervals + chance baseline against the point estimates.

Makes a synthetic layer like AlexNet's fc6 after the ReLU (gamma activations,
~80% exact zeros, float32) over 100,000 images of 1,000 classes and times,
over the same units in blocks of --block-units:

- the point estimates: `compute_block` (what an import computes per block);
- the uncertainty: `measure_uncertainty` with the point estimates handed in
  (draws for the whole layer, 200 bootstrap + 200 permutation replicates of
  every measure, intervals, p-values, q-values, null summaries).

The issue's target is uncertainty <= 10x the point estimates. With --units
smaller than --layer-units the numbers are measured on that many units and
extrapolated linearly to --layer-units (labelled so in the output). Usage:

    python benchmarks/uncertainty_speed.py [--units 1024] [--images 100000] [--classes 1000]
        [--bootstrap 200] [--permutations 200] [--block-units 32] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import polars as pl

from seldb.measures import compute_block
from seldb.measures.uncertainty import UncertaintyOptions, measure_uncertainty


def make_layer(n_images: int, n_units: int, n_classes: int, zeros: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_images)
    values = rng.gamma(1.5, 1.0, (n_images, n_units)).astype(np.float32)
    values[rng.random((n_images, n_units)) < zeros] = 0.0
    return values, labels


def point_estimates(values, labels, n_classes: int, block_units: int) -> tuple[pl.DataFrame, float]:
    started = time.perf_counter()
    frames = []
    for a in range(0, values.shape[1], block_units):
        units = compute_block(values[:, a : a + block_units], labels, n_classes).units
        frames.append(units.with_columns(pl.col("unit") + a))
    return pl.concat(frames), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1024, help="units measured")
    parser.add_argument("--layer-units", type=int, default=1024, help="units the numbers are extrapolated to")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--zeros", type=float, default=0.8)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--block-units", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    values, labels = make_layer(args.images, args.units, args.classes, args.zeros)
    point, point_s = point_estimates(values, labels, args.classes, args.block_units)
    options = UncertaintyOptions(bootstrap=args.bootstrap, permutations=args.permutations, seed=0,
                                 block_units=args.block_units, workers=args.workers)  # fmt: skip
    started = time.perf_counter()
    result = measure_uncertainty(values, labels, args.classes, options, point=point)
    uncertainty_s = time.perf_counter() - started
    scale = args.layer_units / args.units
    report = {
        "images": args.images, "classes": args.classes, "units_measured": args.units,
        "bootstrap": args.bootstrap, "permutations": args.permutations, "block_units": args.block_units,
        "workers": args.workers, "point_estimates_s": round(point_s, 1), "uncertainty_s": round(uncertainty_s, 1),
        "ratio": round(uncertainty_s / point_s, 2),
        "ms_per_unit_replicate": round(1e3 * uncertainty_s / args.units / (args.bootstrap + args.permutations), 3),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        "rows": {"intervals": result.intervals.height, "chance": result.chance.height},
    }  # fmt: skip
    if scale != 1:
        report[f"extrapolated_to_{args.layer_units}_units"] = {
            "point_estimates_s": round(point_s * scale, 1), "uncertainty_s": round(uncertainty_s * scale, 1)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
