"""Images per second of batched AM against the one-image loop, side by side, on the demo CNN's fc1.

The acceptance case of issue 21: 32 units of the demo digit network's fc1
(28-pixel grey images, `fft-gray`), each made alone with
`seldb.am.maximise.generate` (today's loop) and all together with
`seldb.am.batch.optimise_batch` (one forward/backward pass per step for the
whole batch), same steps, seeds and thread count, interleaved so that the
shared machine's load hits both alike. Random weights (speed does not
depend on them). Nothing is downloaded.

    .venv/bin/python benchmarks/am_batch_speed.py [--units 32] [--steps 128] [--threads 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from seldb.am.batch import optimise_batch
from seldb.am.maximise import generate
from seldb.am.unit_probe import input_transform
from seldb.demo import build_network


def one_at_a_time(net, module, units: list[int], steps: int) -> float:
    started = time.perf_counter()
    for unit in units:
        generate(
            net, module, unit, steps=steps, size=28, seed=0, preprocess="plain", method="fft-gray", layer_name="fc1"
        )
    return time.perf_counter() - started


def batched(net, module, units: list[int], steps: int) -> float:
    _, prep = input_transform("plain")
    started = time.perf_counter()
    optimise_batch(
        net, module, units, [0] * len(units), steps=steps, size=28, method="fft-gray", lr=0.05, prep=prep,
        device="cpu", layer_name="fc1",
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = build_network().eval()
    module = dict(net.named_modules())["fc1"]
    units = list(range(args.units))
    batched(net, module, units[:2], 2)  # warm-up
    one_at_a_time(net, module, units[:2], 2)
    print(f"torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()[0]:.2f}")
    print(f"{args.units} units of fc1, {args.steps} steps each")
    for repeat in range(args.repeats):
        loop = one_at_a_time(net, module, units, args.steps)
        batch = batched(net, module, units, args.steps)
        print(
            f"run {repeat + 1}: one at a time {args.units / loop:7.2f} images/s ({loop:.1f} s),"
            f" batched {args.units / batch:7.2f} images/s ({batch:.1f} s), {loop / batch:.1f}x"
            f"  (load {os.getloadavg()[0]:.2f})"
        )


if __name__ == "__main__":
    main()
