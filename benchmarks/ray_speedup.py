"""Benchmark: `seldb import-h5` with the local engine against `--engine ray` on 1 and 2 Ray workers.

Makes a medium synthetic activation file (default 50,000 images x 2,048 units
in two layers, 1,000 classes, ~80% exact zeros like after a ReLU), then times
`seldb import-h5` end to end as a separate process into a fresh database:

- local: the default engine (worker threads of the importing process);
- ray-1: a Ray cluster of one node with one CPU (one worker process);
- ray-2: two Ray nodes of one CPU each on this machine (two worker processes,
  as two machines would run them), the workers reading the file by path;
- ray-2-ship: the same, with --ship-blocks (the driver reads and sends).

The clusters are started with `ray start` on 127.0.0.1 (tests/ray_cluster.py)
and stopped after their runs. On one machine Ray cannot beat the local engine:
both use the same cores, and Ray adds task scheduling and serialisation; the
curve shows what a second worker adds, and more speed needs more machines.
Usage:

    python benchmarks/ray_speedup.py [--images 50000] [--units 2048] [--keep FILE]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from seldb.h5.reader import ActivationWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ray_cluster import CLUSTER_ENV, LocalCluster  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_alexnet_scale import drop_database, fresh_database  # noqa: E402

# A block's results (histograms and per-class arrays of 1,000 classes) are ~100 MB: room for the blocks in flight
OBJECT_STORE_BYTES = 1536 << 20


def make_file(path: Path, n_images: int, n_units: int, n_classes: int, zeros: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_images)
    preds = np.where(rng.random(n_images) < 0.9, labels, rng.integers(0, n_classes, n_images))
    layers = {"fc6": n_units // 2, "fc7": n_units - n_units // 2}
    names = [f"class{c:04d}" for c in range(n_classes)]
    with ActivationWriter(
        path,
        model="synthetic",
        dataset="synthetic",
        class_names=names,
        layers={k: (v, "none") for k, v in layers.items()},
        with_pred=True,
    ) as writer:
        for r0 in range(0, n_images, 4096):
            r1 = min(n_images, r0 + 4096)
            acts = {}
            for name, units in layers.items():
                values = rng.gamma(1.5, 1.0, (r1 - r0, units)).astype(np.float32)
                values[rng.random((r1 - r0, units)) < zeros] = 0.0
                acts[name] = values
            writer.append(labels[r0:r1], acts, preds=preds[r0:r1])


def timed_import(path: Path, env: dict, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "seldb_cli.main", "import-h5", str(path), "--force", "-q", *extra],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def last_timings(url: str) -> dict:
    """The phases of the last run, as the run's record has them (measures_s: summed over the workers)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT timings FROM seldb_store.runs ORDER BY run_id DESC LIMIT 1").fetchone()[0]


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--units", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/seldb_bench_ray.h5"))
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    if not args.keep.exists():
        make_file(args.keep, args.images, args.units, args.classes, 0.8)
    url = fresh_database(args.database_url)
    env = dict(os.environ, SELDB_DATABASE_URL=url, **CLUSTER_ENV)  # the drivers agree with the cluster
    report = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "cpus": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "load_before": load(),
        "file": f"{args.images} images x {args.units} units, {args.classes} classes",
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "seldb_cli.main", "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        wall = {"local": timed_import(args.keep, env)}
        phases = {"local": last_timings(url)}
        for name, nodes, extra in (("ray-1", 1, ()), ("ray-2", 2, ()), ("ray-2-ship", 2, ("--ship-blocks",))):
            cluster = LocalCluster(cpus_per_node=1, object_store_bytes=OBJECT_STORE_BYTES)
            try:
                cluster.start(nodes=nodes)
                wall[name] = timed_import(args.keep, env, "--engine", "ray", "--address", cluster.address, *extra)
                phases[name] = last_timings(url)
            finally:
                cluster.stop()
    finally:
        drop_database(args.database_url, url)
    report["load_after"] = load()
    report["wall_s"] = {k: round(v, 1) for k, v in wall.items()}
    report["speed_vs_local"] = {k: round(wall["local"] / v, 2) for k, v in wall.items()}
    report["speed_vs_ray_1"] = {k: round(wall["ray-1"] / v, 2) for k, v in wall.items() if k.startswith("ray")}
    report["phases"] = phases
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
