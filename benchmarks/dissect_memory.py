"""Peak memory of dissection at Broden scale: the maps stay on disk, RSS stays flat as images grow.

No network and no image files: synthetic AlexNet-conv5-shaped maps (256 x 13
x 13, ReLU-sparse) stream through the same map store, exact-percentile passes
and tally as `dissect` uses, against synthetic 113 x 113 label planes (a
colour plane, an object plane, a scene label per image). Prints peak RSS and
the map store's size; run it at two sizes to see that RSS does not grow with
the number of images (the full Broden is --images 63305, an 11 GB store).

    python benchmarks/dissect_memory.py --images 4000
    python benchmarks/dissect_memory.py --images 63305 --workdir /big/tmp
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seldb.dissect.broden import ImageLabels
from seldb.dissect.mapstore import MapStore
from seldb.dissect.pipeline import _tally, _thresholds
from seldb.dissect.thresholds import ExactPercentile

UNITS, H, W, SEG = 256, 13, 13, 113
N_LABELS, CATEGORIES = 60, ("color", "object", "scene")


@dataclass(frozen=True)
class _Image:
    index: int


class SyntheticBroden:
    """Duck-types seldb.dissect.broden.Broden for the tally: labels made from the image index."""

    def __init__(self, n_images: int):
        self.images = [_Image(i) for i in range(n_images)]
        self.categories = CATEGORIES
        self.n_labels = N_LABELS
        self.primary = np.array([2] + [0] * 19 + [1] * 30 + [2] * 10)  # 1-19 colour, 20-49 object, 50-59 scene

    def load_labels(self, img: _Image) -> ImageLabels:
        rng = np.random.default_rng(img.index)
        colour = np.kron(rng.integers(1, 20, (8, 8)), np.ones((15, 15), int))[:SEG, :SEG]
        objects = np.kron(rng.integers(19, 50, (4, 4)), np.ones((29, 29), int))[:SEG, :SEG]
        objects[objects == 19] = 0  # some unlabelled pixels
        planes = np.stack([colour.ravel(), objects.ravel()]).astype(np.int32)
        return ImageLabels(planes, (int(rng.integers(50, 60)),), SEG, SEG)


def synthetic_maps(start: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(1_000_000 + start)
    maps = rng.standard_normal((count, UNITS, H, W), dtype=np.float32) - 1.0
    return np.maximum(maps, 0)  # mostly zeros, as after a ReLU


def run(args) -> None:
    started = time.perf_counter()
    broden = SyntheticBroden(args.images)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        store = MapStore(Path(tmp) / "conv5.f32", args.images, (UNITS, H, W), "conv5")
        exact = ExactPercentile(UNITS, 100 * (1 - args.quantile))
        for start in range(0, args.images, args.batch_size):
            maps = synthetic_maps(start, min(args.batch_size, args.images - start))
            store.append(maps)
            exact.first(maps)
        store.close_writing()
        forward = time.perf_counter()
        thresholds = {"conv5": _thresholds(store, exact, args.chunk)}
        second = time.perf_counter()
        tallies, _ = _tally(broden, {"conv5": store}, thresholds, args.chunk, False)
        done = time.perf_counter()
        size = store.path.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.images} images x {UNITS} x {H} x {W}: map store {size / 1e9:.2f} GB on disk; peak RSS {peak:.0f} MB")
    print(
        f"maps + store + pass 1 {forward - started:.1f} s, pass 2 {second - forward:.1f} s,"
        f" tally {done - second:.1f} s (wall); {tallies['conv5'].active_pairs / (args.images * UNITS):.1%}"
        " of (image, unit) pairs above threshold"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--quantile", type=float, default=0.005)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--workdir", default=None)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
