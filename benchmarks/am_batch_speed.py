"""Images per second of batched AM against the one-image loop, side by side, on the demo CNN's fc1.

The acceptance case of issue 21: 32 units of the demo digit network's fc1
(28-pixel grey images, `fft-gray`), each made alone with
`seldb.am.maximise.generate` (today's loop) and all together with
`seldb.am.batch.optimise_batch` (one forward/backward pass per step for the
whole batch), same steps, seeds and thread count, interleaved (which goes first alternates)
so that the shared machine's load hits both alike. On a shared machine the wall clock
swings with other people's jobs, so the CPU time this process used
(time.process_time, one thread) is reported beside it, and the median over
the repeats. Random weights (speed does not depend on them). Nothing is
downloaded.

    .venv/bin/python benchmarks/am_batch_speed.py [--units 32] [--steps 128] [--threads 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from seldb.am.batch import optimise_batch
from seldb.am.maximise import generate
from seldb.am.unit_probe import input_transform
from seldb.demo import build_network


def one_at_a_time(net, module, units: list[int], steps: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for unit in units:
        generate(
            net, module, unit, steps=steps, size=28, seed=0, preprocess="plain", method="fft-gray", layer_name="fc1"
        )
    return time.perf_counter() - wall, time.process_time() - cpu


def batched(net, module, units: list[int], steps: int) -> tuple[float, float]:
    _, prep = input_transform("plain")
    wall, cpu = time.perf_counter(), time.process_time()
    optimise_batch(
        net, module, units, [0] * len(units), steps=steps, size=28, method="fft-gray", lr=0.05, prep=prep,
        device="cpu", layer_name="fc1",
    )  # fmt: skip
    return time.perf_counter() - wall, time.process_time() - cpu


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
    walls, cpus = [], []
    for repeat in range(args.repeats):
        # alternate which goes first, so that a load swing during a repeat hits both alike
        if repeat % 2 == 0:
            loop, loop_cpu = one_at_a_time(net, module, units, args.steps)
            batch, batch_cpu = batched(net, module, units, args.steps)
        else:
            batch, batch_cpu = batched(net, module, units, args.steps)
            loop, loop_cpu = one_at_a_time(net, module, units, args.steps)
        walls.append(loop / batch)
        cpus.append(loop_cpu / batch_cpu)
        print(
            f"run {repeat + 1}: one at a time {args.units / loop:6.2f} images/s ({loop:.1f} s wall, {loop_cpu:.1f} s"
            f" CPU), batched {args.units / batch:6.2f} images/s ({batch:.1f} s wall, {batch_cpu:.1f} s CPU):"
            f" {loop / batch:.1f}x wall, {loop_cpu / batch_cpu:.1f}x CPU  (load {os.getloadavg()[0]:.2f})"
        )
    print(f"median: {statistics.median(walls):.1f}x wall clock, {statistics.median(cpus):.1f}x CPU time")


if __name__ == "__main__":
    main()
