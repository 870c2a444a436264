"""Benchmark: bootstrap intervals + chance baseline against the point estimates, like for like.

Writes a synthetic layer like AlexNet's fc6 after the ReLU (gamma activations,
~80% exact zeros, float32) over 100,000 images of 1,000 classes into an
activation file, then times two passes over it with the import's own loop
(seldb.engine.blocks.measure_blocks: the same blocks, read from the file, on the
same number of worker threads):

- the point estimates: `compute_block` per block, what an import computes;
- the uncertainty: the replicate draws for the run, then `block_uncertainty`
  per block (200 bootstrap + 200 permutation replicates of every measure,
  intervals, p-values) and `finish_layer` (q-values, the layer's null), what
  `seldb uncertainty` computes (without the database writes).

Both wall-clock and CPU seconds (process time, every thread) are reported: on
a shared machine the CPU ratio is the steadier one. The issue's target is
uncertainty <= 10x the point estimates. Usage:

    python benchmarks/uncertainty_speed.py [--units 1024] [--images 100000] [--classes 1000]
        [--bootstrap 200] [--permutations 200] [--workers 2] [--engine numba|numpy] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from seldb.engine.blocks import measure_blocks, plan_blocks
from seldb.h5.reader import ActivationFile, write_activation_file
from seldb.measures import compute_block
from seldb.measures.resampling.estimates import UncertaintyOptions, block_uncertainty, finish_layer, make_draws
from seldb.measures.resampling.passes import engine as pick_engine

BINS = 32  # the import's default: the block plan depends on classes x bins


def make_layer(n_images: int, n_units: int, n_classes: int, zeros: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_images)
    values = rng.gamma(1.5, 1.0, (n_images, n_units)).astype(np.float32)
    values[rng.random((n_images, n_units)) < zeros] = 0.0
    return values, labels


def timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def point_pass(afile: ActivationFile, blocks, rows, workers: int) -> int:
    n_classes = afile.n_classes

    def measure(block, values, labels):
        return compute_block(values, labels, n_classes, bins=BINS, image_index=rows).units.height

    return sum(done.result for done in measure_blocks(afile, blocks, rows, measure, workers=workers))


def uncertainty_pass(afile: ActivationFile, blocks, rows, workers: int, options: UncertaintyOptions) -> int:
    n_classes = afile.n_classes
    draws = make_draws(afile.labels[rows], n_classes, options)

    def measure(block, values, labels):
        return block_uncertainty(values, labels, n_classes, draws, options, first_unit=block.first, image_index=rows)

    parts = [done.result for done in measure_blocks(afile, blocks, rows, measure, workers=workers)]
    return finish_layer(parts).intervals.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1024)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--zeros", type=float, default=0.8)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", default=None, help="numba or numpy (default: numba when installed)")
    parser.add_argument("--dir", default=None, help="where to write the temporary activation file")
    args = parser.parse_args()

    engine = pick_engine(args.engine)
    values, labels = make_layer(args.images, args.units, args.classes, args.zeros)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = write_activation_file(
            Path(tmp) / "bench.h5",
            class_names=[f"c{i}" for i in range(args.classes)],
            labels=labels,
            layers={"fc6": values},
        )
        del values
        with ActivationFile(path) as afile:
            rows = np.arange(afile.n_images)
            rows = rows[np.argsort(afile.labels[rows], kind="stable")]  # as the import reads them
            blocks = plan_blocks(afile, ["fc6"], rows.size, afile.n_classes * BINS)
            options = UncertaintyOptions(
                bootstrap=args.bootstrap, permutations=args.permutations, seed=0, engine=engine
            ).check()
            uncertainty_pass(
                afile, blocks[:1], rows, 1, UncertaintyOptions(bootstrap=2, permutations=2, engine=engine)
            )  # compile, warm caches
            _, point_wall, point_cpu = timed(lambda: point_pass(afile, blocks, rows, args.workers))
            _, unc_wall, unc_cpu = timed(lambda: uncertainty_pass(afile, blocks, rows, args.workers, options))
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
        "engine": engine,
        "workers": args.workers,
        "units": args.units,
        "images": args.images,
        "classes": args.classes,
        "blocks": len(blocks),
        "bootstrap": args.bootstrap,
        "permutations": args.permutations,
        "point_estimates": {"wall_s": round(point_wall, 1), "cpu_s": round(point_cpu, 1)},
        "uncertainty": {"wall_s": round(unc_wall, 1), "cpu_s": round(unc_cpu, 1)},
        "ratio_wall": round(unc_wall / point_wall, 2),
        "ratio_cpu": round(unc_cpu / point_cpu, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
