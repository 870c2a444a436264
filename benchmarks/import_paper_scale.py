"""Benchmark: the paper's scale on one machine - 721,536 images x 8,448 units (a 24 GB file).

Generates the synthetic AlexNet file (alexnet_file.py; contiguous, as users
write them) once under --dir and keeps it (delete it yourself: it is 24 GB),
imports it with `seldb import-h5` in a fresh database, and reports wall time,
CPU time and peak RSS. With --compare 100000 it first imports the 100k-image
file the same way, to show how time grows with the number of images. Needs
~2 x the file's size free: the file, and the import's unit-major temporary
copy (in TMPDIR). Not a CI test: it takes a quarter of an hour.

    python benchmarks/import_paper_scale.py [--images 721536] [--compare 100000] [--layout contiguous]
        [--dir /tmp] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from alexnet_file import LAYOUTS, file_for  # noqa: E402
from import_alexnet_scale import import_once  # noqa: E402

PAPER_IMAGES = 721_536


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=PAPER_IMAGES)
    parser.add_argument("--compare", type=int, nargs="*", default=[100_000], help="smaller sizes imported first")
    parser.add_argument("--layout", choices=LAYOUTS, default="contiguous")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    results = []
    for n_images in [*args.compare, args.images]:
        started = time.perf_counter()
        path = file_for(args.dir, n_images, args.layout)
        made = round(time.perf_counter() - started, 1)
        result = {
            "images": n_images,
            "file_gb": round(path.stat().st_size / 1e9, 2),
            "made_or_found_s": made,
            **import_once(path, args.database_url),
        }
        results.append(result)
        print(json.dumps(result), flush=True)
    base = results[0]
    for r in results:
        r["time_ratio"] = round(r["wall_s"] / base["wall_s"], 2)
        r["images_ratio"] = round(r["images"] / base["images"], 2)
        print(
            f"{r['images']:>8} images: {r['wall_s']:7.1f} s wall (x{r['time_ratio']} for x{r['images_ratio']} images),"
            f" user {r['user_s']} s, sys {r['sys_s']} s, peak RSS {r['peak_rss_gb']} GB,"
            f" load {r['load_before']:.1f}; phases {r['timings']}"
        )
    print(f"cpus {os.cpu_count()}")


if __name__ == "__main__":
    main()
