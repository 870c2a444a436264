"""Benchmark: `seldb sae train` on a synthetic layer - its two passes alone, or end to end with the imports.

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
        [--epochs 0.05] [--dir /tmp] [--device cpu]

With --end-to-end SERVER_URL (a PostgreSQL URL whose user may CREATE
DATABASE, e.g. postgresql://postgres@127.0.0.1:5432/postgres) it measures
the command as a user runs it: in a fresh database (dropped at the end) the
synthetic file is imported as a run by `seldb import-h5` in a process of
its own, then db.sae_train (what `seldb sae train --run N --layer fc
--latents L --k K --epochs E` calls) trains, records and imports the
latents in this one. It reports each phase's wall seconds, both imports'
seconds per unit, the import's peak RSS and the SAE command's (this
process's), as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
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


def import_in_child(path: Path, url: str) -> int:
    """`seldb import-h5 PATH` in its own process, as a user runs it before `seldb sae train`; its peak RSS in MB.

    Not in this process: the import tunes glibc's malloc for its blocks, which
    `seldb sae train`'s training would then inherit here but not on a user's
    machine, and this process's peak RSS is to be the SAE command's alone.
    """
    env = dict(os.environ, SELDB_DATABASE_URL=url)
    child = subprocess.Popen([sys.executable, "-m", "seldb_cli.main", "import-h5", str(path), "-q"], env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"seldb import-h5 {path} failed")
    return round(usage.ru_maxrss / 1024)


def end_to_end(args: argparse.Namespace, path: Path) -> dict:
    """Import the file as a run, then `seldb sae train` on it, in a fresh database dropped at the end."""
    import uuid

    import psycopg

    import seldb
    from seldb.sae.options import SAETrainOptions

    name = f"seldb_bench_sae_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.end_to_end, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = args.end_to_end.rsplit("/", 1)[0] + "/" + name
    out = args.dir / f"sae-bench-out-{name}"
    report: dict = {"database": name, "load_before": os.getloadavg()}
    try:
        with seldb.connect(url) as db:
            db.upgrade()
            t0 = time.perf_counter()
            report["import_peak_rss_mb"] = import_in_child(path, url)
            t1 = time.perf_counter()
            report["import_s"] = round(t1 - t0, 1)
            report["import_s_per_unit"] = round((t1 - t0) / args.units, 4)
            with db.connect() as conn:
                (source_run,) = conn.exec_driver_sql("SELECT max(run_id) FROM seldb_store.runs").one()
            opts = SAETrainOptions(
                run=source_run, layer="fc", latents=str(args.latents), k=args.k, epochs=args.epochs,
                out=out, device=args.device,
            )  # fmt: skip
            result = db.sae_train(opts, progress=False)
            t2 = time.perf_counter()
            seconds = result.seconds
            report.update(
                sae_total_s=round(t2 - t1, 1),
                train_s=round(seconds["train"], 1),
                record_s=round(seconds["record"], 1),
                latents_import_s=round(seconds["import"], 1),
                latents_import_s_per_unit=round(seconds["import"] / args.latents, 4),
                latents_file_mb=round(result.file.stat().st_size / 2**20),
                quality=result.quality.as_json(),
            )
            with db.connect() as conn:
                (steps,) = conn.exec_driver_sql(
                    "SELECT (options->'sae'->>'steps')::int FROM seldb_store.runs WHERE run_id = %s",
                    (result.run_id,),
                ).one()
            report.update(steps=steps, train_s_per_step=round(seconds["train"] / max(1, steps), 3))
    finally:
        with psycopg.connect(args.end_to_end, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(out, ignore_errors=True)
    report["load_after"] = os.getloadavg()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=4096)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--latents", type=int, default=16_384)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--epochs", type=float, default=0.05)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (seldb sae train --device)")
    parser.add_argument("--end-to-end", metavar="SERVER_URL", help="import, then seldb sae train, in a fresh db")
    args = parser.parse_args()

    import torch

    path = args.dir / f"sae-bench-{args.units}x{args.images}.h5"
    started = time.perf_counter()
    if not path.exists():
        make_file(path, args.units, args.images)
    made = time.perf_counter() - started
    rss_after_file = peak_rss_mb()
    common = {
        "units": args.units,
        "images": args.images,
        "latents": args.latents,
        "k": args.k,
        "epochs": args.epochs,
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "make_file_s": round(made, 1),
        "file_mb": round(path.stat().st_size / 2**20, 0),
    }
    if args.end_to_end:
        report = {**common, **end_to_end(args, path)}
        report["peak_rss_mb"] = round(peak_rss_mb())
        print(json.dumps(report, indent=2))
        return
    result = {**common, **two_passes(args, path), "peak_rss_mb_after_making_file": round(rss_after_file, 0)}
    print(json.dumps(result, indent=2))


def two_passes(args: argparse.Namespace, path: Path) -> dict:
    """Training and recording alone (no database), as `seldb sae train` runs them before its import."""
    from seldb.h5.reader import ActivationFile
    from seldb.sae.model import resolve_device
    from seldb.sae.options import SAETrainOptions
    from seldb.sae.record import record_latents
    from seldb.sae.train import train_sae

    opts = SAETrainOptions(run=0, layer="fc", latents=str(args.latents), k=args.k, epochs=args.epochs)
    with ActivationFile(path) as afile:
        t0 = time.perf_counter()
        trained = train_sae(afile, "fc", opts, args.latents, progress=False, device=resolve_device(args.device))
        t1 = time.perf_counter()
        out = args.dir / f"sae-bench-latents-{args.units}x{args.images}.h5"
        quality = record_latents(trained.sae, afile, "fc", "fc.sae", out, "synthetic+sae", progress=False)
        t2 = time.perf_counter()
    result = {
        "steps": trained.steps,
        "train_s": round(t1 - t0, 1),
        "train_s_per_step": round((t1 - t0) / max(1, trained.steps), 3),
        "record_s": round(t2 - t1, 1),
        "record_images_per_s": round(args.images / (t2 - t1), 1),
        "peak_rss_mb": round(peak_rss_mb(), 0),
        "latents_file_mb": round(out.stat().st_size / 2**20, 0),
        "quality": quality.as_json(),
        "load": os.getloadavg(),
    }
    out.unlink()
    return result


if __name__ == "__main__":
    main()
