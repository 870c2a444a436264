"""Benchmark: `seldb sae train`'s two passes on a synthetic layer - training, then recording the latents.

Makes a synthetic activation file (--units x --images, float32, ReLU of a
Gaussian mixture whose means depend on the class, written a block of rows
at a time), then trains a TopK SAE on it (--latents, --k, --epochs: a
fraction trains on that share of the blocks) and records the latents of
every image into a second file, as `seldb sae train` does before its import
(the import itself is `seldb import-h5`'s, benchmarked by
import_alexnet_scale.py / import_paper_scale.py). Reports wall time per
phase, images per second when recording, and peak RSS, as JSON. Peak RSS is
bounded by one block of rows plus the SAE and its optimiser, not by the file:
run it at two --images to see it stay put.

    python benchmarks/sae_train.py [--units 4096] [--images 100000] [--latents 16384] [--k 32]
        [--epochs 0.05] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np


def make_file(path: Path, units: int, images: int, classes: int = 100, seed: int = 0) -> Path:
    from seldb.h5.writer import ActivationWriter

    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1, size=(classes, units)).astype(np.float32)
    with ActivationWriter(
        path, model="synthetic", dataset="synthetic", class_names=[f"c{i}" for i in range(classes)],
        layers={"fc": (units, "none")},
    ) as writer:  # fmt: skip
        for r0 in range(0, images, 4096):
            n = min(4096, images - r0)
            labels = rng.integers(0, classes, n)
            block = np.maximum(means[labels] + rng.normal(0, 1, size=(n, units)).astype(np.float32), 0)
            writer.append(labels.astype(np.int32), {"fc": block})
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=4096)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--latents", type=int, default=16_384)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--epochs", type=float, default=0.05)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    args = parser.parse_args()

    import torch

    from seldb.h5.reader import ActivationFile
    from seldb.sae.options import SAETrainOptions
    from seldb.sae.record import record_latents
    from seldb.sae.train import train_sae

    path = args.dir / f"sae-bench-{args.units}x{args.images}.h5"
    started = time.perf_counter()
    if not path.exists():
        make_file(path, args.units, args.images)
    made = time.perf_counter() - started
    rss_after_file = peak_rss_mb()
    opts = SAETrainOptions(run=0, layer="fc", latents=str(args.latents), k=args.k, epochs=args.epochs)
    with ActivationFile(path) as afile:
        t0 = time.perf_counter()
        trained = train_sae(afile, "fc", opts, args.latents, progress=False)
        t1 = time.perf_counter()
        out = args.dir / f"sae-bench-latents-{args.units}x{args.images}.h5"
        quality = record_latents(trained.sae, afile, "fc", "fc.sae", out, "synthetic+sae", progress=False)
        t2 = time.perf_counter()
    result = {
        "units": args.units,
        "images": args.images,
        "latents": args.latents,
        "k": args.k,
        "epochs": args.epochs,
        "steps": trained.steps,
        "torch_threads": torch.get_num_threads(),
        "make_file_s": round(made, 1),
        "train_s": round(t1 - t0, 1),
        "train_s_per_step": round((t1 - t0) / max(1, trained.steps), 3),
        "record_s": round(t2 - t1, 1),
        "record_images_per_s": round(args.images / (t2 - t1), 1),
        "peak_rss_mb": round(peak_rss_mb(), 0),
        "peak_rss_mb_after_making_file": round(rss_after_file, 0),
        "file_mb": round(path.stat().st_size / 2**20, 0),
        "latents_file_mb": round(out.stat().st_size / 2**20, 0),
        "quality": quality.as_json(),
        "load": os.getloadavg(),
    }
    out.unlink()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
