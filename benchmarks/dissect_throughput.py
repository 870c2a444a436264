"""Dissection throughput: images/s of `dissect` vs the bare forward pass of the same model.

The dataset is a generated Broden-format one shaped like broden1_227 (227 x
227 images, 113 x 113 segmentations; seldb.dissect.minibroden); the model is
torchvision's AlexNet with seeded random weights, dissected at conv5 (post-
ReLU, 256 x 13 x 13). "Bare" decodes the same images the same way and runs
the forward pass only; "dissect" is the whole seldb.dissect pipeline, timed
phase by phase: forward pass + map store + percentile pass 1, percentile pass
2, tally. The issue's target: the tally (everything but the forward pass)
costs no more than the forward pass itself, i.e. dissect >= 1/2 of bare.
Wall and CPU seconds are both printed: on a shared machine the CPU seconds of
this process (all threads) are the steadier measure of cost.

    python benchmarks/dissect_throughput.py                    # 512 images, quantile 0.005
    python benchmarks/dissect_throughput.py --images 2048 --quantile 0.05
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch
import torchvision

from seldb.dissect.broden import open_broden
from seldb.dissect.features import forward_only, resolve
from seldb.dissect.minibroden import make_mini_broden
from seldb.dissect.pipeline import _forward, _result, _tally, _thresholds
from seldb.nets.registry import ARCHS


def timed(call):
    """(value, (wall seconds, CPU seconds of this process, all threads))."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = call()
    return value, (time.perf_counter() - wall, time.process_time() - cpu)


def run(args) -> None:
    torch.manual_seed(0)
    net = torchvision.models.alexnet(weights=None).eval()
    with tempfile.TemporaryDirectory() as tmp:
        mini, made = timed(
            lambda: make_mini_broden(Path(tmp) / "broden", n_images=args.images, image_size=227, seg_size=113, seed=0)
        )
        broden = open_broden(mini.directory)
        modules = resolve(net, [args.layer], ARCHS["alexnet"].layer_aliases)
        print(
            f"{args.images} images 227x227 (segmentations 113x113) made in {made[0]:.1f} s;"
            f" alexnet {args.layer} = {modules[args.layer]}; torch threads {torch.get_num_threads()}"
        )
        forward_only(net, broden, args.batch_size)  # warm-up (allocator, page cache of the images)
        _, bare = timed(lambda: forward_only(net, broden, args.batch_size))
        percentile = 100 * (1 - args.quantile)
        work = Path(tmp) / "work"
        work.mkdir()
        (stores, passes), forward = timed(
            lambda: _forward(net, modules, broden, work, percentile, args.batch_size, "cpu", "netdissect", False)
        )
        thresholds, second = timed(
            lambda: {layer: _thresholds(stores[layer], passes[layer], args.chunk) for layer in modules}
        )
        (tallies, truth), tally = timed(lambda: _tally(broden, stores, thresholds, args.chunk, False))
        result = _result(broden, args.quantile, modules, stores, thresholds, tallies, truth)
    n = args.images
    d = result.layers[args.layer]
    total = tuple(f + s + t for f, s, t in zip(forward, second, tally))
    print(f"{'':28} {'wall s':>8} {'images/s':>9} {'CPU s':>8} {'images/CPU s':>12}")
    for name, (wall, cpu) in [
        ("bare forward pass", bare),
        ("dissect, all phases", total),
        ("  forward + store + pass 1", forward),
        ("  percentile pass 2", second),
        ("  tally", tally),
    ]:
        print(f"{name:28} {wall:8.2f} {n / wall:9.1f} {cpu:8.2f} {n / cpu:12.1f}")
    for kind, i in (("wall", 0), ("CPU", 1)):
        print(
            f"added to the bare forward pass ({kind}): {total[i] - bare[i]:.2f} s ="
            f" {(total[i] - bare[i]) / bare[i]:.2f} x the forward pass itself"
        )
    print(
        f"quantile {args.quantile}: {d.active_pairs / (n * d.n_units):.1%} of (image, unit) pairs exceed the"
        f" threshold; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--layer", default="conv5")
    parser.add_argument("--quantile", type=float, default=0.005)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=256, help="images per chunk read back from the map store")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
