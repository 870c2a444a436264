"""Benchmark: `seldb import-h5` end to end on an AlexNet-scale activation file.

Makes a synthetic file like AlexNet's conv5 + fc6 + fc7 (256 + 4096 + 4096 =
8,448 units) over 100,000 images of 1,000 classes with ~80% exact zeros (as
after fc6's ReLU), then times `seldb import-h5` as a separate process into a
fresh database and reads its peak RSS. The per-phase split (read, measures,
COPY) comes from the run's own record. Usage:

    python benchmarks/import_alexnet_scale.py [--images 100000] [--keep FILE]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from seldb.activations import ActivationWriter

LAYERS = {"conv5": 256, "fc6": 4096, "fc7": 4096}


def make_file(path: Path, n_images: int, n_classes: int, zero_fraction: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_images)
    preds = np.where(rng.random(n_images) < 0.9, labels, rng.integers(0, n_classes, n_images))
    spec = {name: (units, "max" if name.startswith("conv") else "none") for name, units in LAYERS.items()}
    names = [f"class{c:04d}" for c in range(n_classes)]
    keys = [f"n{c:08d}" for c in range(n_classes)]
    with ActivationWriter(path, model="alexnet-synthetic", dataset="synthetic-100k", class_names=names,
                          class_keys=keys, layers=spec, with_pred=True) as writer:  # fmt: skip
        for r0 in range(0, n_images, 4096):
            r1 = min(n_images, r0 + 4096)
            acts = {}
            for name, units in LAYERS.items():
                values = rng.gamma(1.5, 1.0, (r1 - r0, units)).astype(np.float32)
                values[rng.random((r1 - r0, units)) < zero_fraction] = 0.0
                acts[name] = values
            writer.append(labels[r0:r1], acts, preds=preds[r0:r1])


def fresh_database(server_url: str) -> str:
    import psycopg

    name = f"seldb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--zeros", type=float, default=0.8)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/seldb_bench_alexnet.h5"))
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    if not args.keep.exists():
        started = time.perf_counter()
        make_file(args.keep, args.images, args.classes, args.zeros)
        print(f"made {args.keep} ({args.keep.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.0f} s")
    url = fresh_database(args.database_url)
    env = dict(os.environ, SELDB_DATABASE_URL=url)
    subprocess.run([sys.executable, "-m", "seldb_cli.main", "db", "upgrade"], env=env, check=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "seldb_cli.main", "import-h5", str(args.keep), "--force", "-q"],
                   env=env, check=True)  # fmt: skip
    wall = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
    import psycopg

    with psycopg.connect(url) as conn:
        timings, counts = conn.execute("SELECT timings, row_counts FROM seldb_store.runs ORDER BY run_id DESC").fetchone()
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    print(json.dumps({"wall_s": round(wall, 1), "peak_rss_gb": round(peak_gb, 2), "timings": timings,
                      "row_counts": counts, "database_size": size, "database": url}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
