"""Benchmark: where one block's measuring time goes, numpy passes against the compiled kernel.

Builds one block in memory like benchmarks/alexnet_file.py (gamma(1.5)
activations, ~80% exact zeros, 1,000 classes, labels grouped by class as
the import reads them), then times, in this process on one thread:

- compute_block with SELDB_ENGINE=numpy and with numba (seconds, CPU seconds);
- the numpy passes one by one (layout, class statistics, sweep + top-k
  counts, histograms, top images);
- the kernel's steps one by one, each called per unit from Python (the
  one-call kernel does the same work without the calls): the class pass
  (sums, squared deviations, min/max, zero counts, histogram, sort keys),
  the sort, the runs, the threshold picks, top-k counts, top images;
- what follows either engine: the polars rules and the COPY bytes.

    python benchmarks/measure_profile.py [--images 100000] [--units 64] [--classes 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from fractions import Fraction

import numpy as np


def block(n_images: int, n_units: int, n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.sort(rng.integers(0, n_classes, n_images))
    values = rng.standard_gamma(1.5, (n_units, n_images), dtype=np.float32)
    values[rng.random((n_units, n_images), dtype=np.float32) < 0.8] = 0.0
    return values.T, labels, np.arange(n_images) * 2  # (images, units) view of a units-first array


def clock(fn, *args, **kwargs):
    """Result, wall seconds, CPU seconds of this process (polars works on threads of its own)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def numpy_steps(values, labels, n_classes, rows) -> dict:
    from seldb.measures.block import prepare_block
    from seldb.measures.classstats import class_stats, histograms
    from seldb.measures.compute import sweep_and_counts
    from seldb.measures.topk import top_images

    steps = {}
    b, _, steps["layout (codes, transpose)"] = clock(prepare_block, values, labels, n_classes, rows)
    _, _, steps["class statistics"] = clock(class_stats, b)
    swept_counts, _, steps["sort + sweep + top-k counts"] = clock(sweep_and_counts, b, (60, 100), (1.0, 0.95))
    _, _, steps["histograms"] = clock(histograms, b, 32)
    _, _, steps["top images"] = clock(top_images, b, swept_counts[0].kth_code, 100)
    return steps


def kernel_steps(values, labels, n_classes, rows) -> dict:
    from seldb.measures import kernel as k
    from seldb.measures import kernel_block

    spare, digits = np.empty(values.shape[0], np.int64), np.zeros(2048, np.int64)

    def sort(keys, m):
        k._radix_sort(keys, m, spare, digits)

    layout = kernel_block.layout_of(labels, n_classes, rows)
    x = kernel_block.float32_units(values)
    n_units, n_images = x.shape
    bits = x.view(np.int32)
    shape = (n_units, n_classes)
    stats = tuple(np.zeros(shape) for _ in range(5)) + tuple(np.zeros(shape, np.int64) for _ in range(3))
    hist = np.zeros((*shape, 32), np.int32)
    keys, floor_c = np.empty(n_images, np.int64), np.zeros(n_classes, np.int64)
    runs = (*(np.empty(n_images + n_classes, np.int64) for _ in range(3)), np.empty(n_images + n_classes))
    scratch = tuple(np.zeros(n_classes, np.int64) for _ in range(3))
    fr = [Fraction("1"), Fraction("0.95")]
    p_num, p_den = np.array([f.numerator for f in fr]), np.array([f.denominator for f in fr])
    levels, thresholds, mi_counts = (np.zeros((3, *shape)) for _ in range(3))
    ks = np.array([60, 100])
    scaled, tie_size = np.zeros((2, *shape), np.int64), np.zeros((2, n_units), np.int64)
    top = (np.zeros((n_units, 100), np.int64), np.zeros((n_units, 100)), np.zeros((n_units, 100), np.int64))
    pos = (layout.label_of_pos, layout.pos_of_rank, layout.label_of_rank)
    lay = (layout.class_start, layout.class_n, layout.rank_of_pos, layout.image_of_pos)
    steps = dict.fromkeys(
        ["class pass (stats, histogram, keys)", "sort", "runs", "threshold picks", "top-k counts", "top images"], 0.0
    )  # noqa: E501
    for u in [0, *range(n_units)]:  # unit 0 twice: its first calls compile
        if u == 0:
            steps = dict.fromkeys(steps, 0.0)
        row, lo, hi = x[u], float(x[u].min()), float(x[u].max())
        t0 = time.thread_time()
        m = k._class_pass(
            row, bits[u], u, lo, (hi - lo) / 32, hi == lo, lay, (*stats, hist), keys, floor_c, layout.rank_bits
        )  # noqa: E501
        t1 = time.thread_time()
        sort(keys, m)
        t2 = time.thread_time()
        n_runs, _ = k._runs(row, keys, m, lo, n_images, pos, layout.class_n, floor_c, runs, scratch, layout.rank_bits)
        t3 = time.thread_time()
        k._pick(
            u,
            n_runs,
            runs,
            n_images,
            layout.class_n,
            p_num,
            p_den,
            (np.empty((3, n_classes)), np.empty((3, n_classes), np.int64)),
            levels,
            thresholds,
            mi_counts,
        )  # noqa: E501
        t4 = time.thread_time()
        k._topk(
            u,
            keys,
            m,
            ks,
            n_images,
            layout.class_n,
            floor_c,
            layout.label_of_rank,
            layout.rank_bits,
            scaled,
            tie_size,
            np.zeros((2, n_classes), np.int64),
        )  # noqa: E501
        t5 = time.thread_time()
        k._top_images(u, row, keys, m, lo, pos, layout.image_of_pos, layout.rank_bits, *top)
        t6 = time.thread_time()
        for name, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True):
            steps[name] += dt
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()
    from seldb.db.write import encode_unit_arrays
    from seldb.measures import compute_block
    from seldb.measures import kernel_block as kernel

    values, labels, rows = block(args.images, args.units, args.classes)
    report: dict = {"images": args.images, "units": args.units, "load_before": os.getloadavg()[0]}
    results = {}
    for engine in ("numba", "numpy", "numba"):  # numba twice: the first call may compile
        os.environ["SELDB_ENGINE"] = engine
        results[engine], wall, cpu = clock(compute_block, values, labels, args.classes, image_index=rows)
        report[f"compute_block {engine}"] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    r = results["numba"]
    _, _, report["encode arrays (COPY bytes) cpu_s"] = clock(lambda: b"".join(encode_unit_arrays(1, 0, 0, r)))
    layout = kernel.layout_of(labels, args.classes, rows)
    x32 = kernel.float32_units(values)
    _, _, whole = clock(kernel.compiled_parts, x32, layout, [60, 100], (1.0, 0.95), 32, 100)
    report["kernel, one call cpu_s"] = round(whole, 3)
    report["polars rules cpu_s (compute_block numba - kernel)"] = round(
        report["compute_block numba"]["cpu_s"] - whole, 3
    )
    report["numpy steps s"] = {k: round(v, 3) for k, v in numpy_steps(values, labels, args.classes, rows).items()}
    report["kernel steps s"] = {k: round(v, 3) for k, v in kernel_steps(values, labels, args.classes, rows).items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
