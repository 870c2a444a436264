"""Regenerate docs/img/am-ppgn-digits.png: PPGN samples of the demo CNN's units through the demo generator.

Trains (or reuses, in --work) the demo CNN as `seldb demo` does and the demo
generator (seldb.demo_generator: a decoder of the CNN's fc1 code), then
samples with PPGN's update and defaults (seldb.am.ppgn) the ten output units
(fc2, one per digit) and ten fc1 units, two seeds each, and draws them in
one captioned grid, the unit's activation under each. Prints the
activations beside the best of the 5,000 digits.

    .venv/bin/python benchmarks/am_ppgn_grid.py [--out docs/img/am-ppgn-digits.png] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seldb.am.contact_sheet import captioned_grid
from seldb.am.ppgn import sample_batch
from seldb.am.unit_probe import input_transform
from seldb.demo import DIGIT_NAMES, _as_inputs, build_network, load_digits, train
from seldb.demo_generator import digit_generator, train_generator

FC1_UNITS = [28, 6, 41, 22, 2, 61, 59, 0, 1, 3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/am-ppgn-digits.png"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "seldb-demo-ppgn")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    images, labels, _ = load_digits()
    started = time.perf_counter()
    if not (args.work / "digit_cnn.pth").is_file():
        train(images, labels, args.work / "digit_cnn.pth")
    if not (args.work / "digit_generator.pth").is_file():
        train_generator(images, args.work / "digit_cnn.pth", args.work / "digit_generator.pth")
    print(f"networks ready in {time.perf_counter() - started:.0f} s (load {os.getloadavg()[0]:.2f})")
    net = build_network()
    net.load_state_dict(torch.load(args.work / "digit_cnn.pth"))
    net.eval()
    generator = digit_generator(args.work)
    with torch.no_grad():
        fc1 = net[:6](_as_inputs(images)).numpy()
        fc2 = net(_as_inputs(images)).numpy()
    best = {"fc1": fc1.max(axis=0), "fc2": fc2.max(axis=0)}
    _, prep = input_transform("plain")
    tiles, captions = [], []
    for layer, units in (("fc2", list(range(10))), ("fc1", FC1_UNITS)):
        module = dict(net.named_modules())[layer]
        for seed in (0, 1):
            started = time.perf_counter()
            result = sample_batch(
                net, module, units, [seed] * len(units), generator, steps=args.steps, size=28, prep=prep,
                device="cpu", layer_name=layer,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            tiles += result.images
            for unit, value in zip(units, result.maxes):
                name = DIGIT_NAMES[unit] if layer == "fc2" else f"seed {seed}"
                captions.append([f"{layer}.{unit} {name}", f"{value:.1f} (data {best[layer][unit]:.1f})"])
            print(f"{layer} seed {seed}: {len(units)} samples in {seconds:.1f} s;", np.round(result.maxes, 1).tolist())
    captioned_grid(tiles, captions, tile=84, columns=10).save(args.out, format="PNG")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
