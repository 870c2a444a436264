"""How different N AM samples of a demo unit are, today's seeds against `--samples N`; and the picture.

On the demo digit CNN (trained as `seldb demo` trains it), for a few units:
four images made the way `seldb am` made them before issue 21 (independent
seeds 0-3, fft-decorrelated, no diversity term), four with independent seeds
in grey (fft-gray), and four made as `seldb am --samples 4` makes them now
(fft-gray, made together with the diversity term, weight 1). For each set it
prints the mean pairwise *aligned* distance (seldb.am.sample_distance: the
pixel difference after the best shift, which a moved texture does not fool)
beside the unaligned pixel difference, and the units' activations; then
writes one grid, a row per set, for docs/img/am-samples.png. A last row
shows the centre objective's crops (conv2) for comparison.

    .venv/bin/python benchmarks/am_samples.py [--out docs/img/am-samples.png] [--steps 512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from seldb.am.batch import optimise_batch
from seldb.am.contact_sheet import captioned_grid
from seldb.am.receptive_field import centre_receptive_field
from seldb.am.sample_distance import mean_pairwise, mean_pixel_difference
from seldb.am.unit_probe import input_transform
from seldb.demo import build_network, load_digits, train

UNITS = [("conv2", 0), ("fc1", 28), ("fc1", 6)]
SETS = [  # name, method, diversity (samples made together when > 0)
    ("today: seeds 0-3, fft-decorrelated", "fft-decorrelated", 0.0),
    ("seeds 0-3, fft-gray", "fft-gray", 0.0),
    ("--samples 4 (fft-gray, diversity 1)", "fft-gray", 1.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/am-samples.png"))
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--weights", type=Path, default=Path(tempfile.gettempdir()) / "seldb-demo-digit_cnn.pth")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.weights.is_file():
        images, labels, _ = load_digits()
        train(images, labels, args.weights)
    net = build_network()
    net.load_state_dict(torch.load(args.weights))
    net.eval()
    _, prep = input_transform("plain")
    modules = dict(net.named_modules())
    tiles, captions = [], []
    print(f"{args.steps} steps, load {os.getloadavg()[0]:.2f}")
    print(f"{'unit':<9} {'set':<38} {'aligned':>8} {'pixel':>7}  activations")
    for layer, unit in UNITS:
        for name, method, diversity in SETS:
            result = optimise_batch(
                net, modules[layer], [unit] * 4, [0, 1, 2, 3], steps=args.steps, size=28, method=method,
                lr=0.05, prep=prep, device="cpu", layer_name=layer, diversity=diversity,
            )  # fmt: skip
            aligned, pixel = mean_pairwise(result.images), mean_pixel_difference(result.images)
            acts = " ".join(f"{a:.1f}" for a in result.maxes)
            print(f"{layer}.{unit:<3} {name:<38} {aligned:>8.3f} {pixel:>7.3f}  {acts}")
            tiles += result.images
            captions += [[f"{layer}.{unit} s{i}", name.split(" (")[0].split(",")[0]] for i in range(4)]
    centre = optimise_batch(
        net, modules["conv2"], [0] * 4, [0, 1, 2, 3], steps=args.steps, size=28, method="fft-gray", lr=0.05,
        prep=prep, device="cpu", layer_name="conv2", objective="centre", diversity=1.0,
    )  # fmt: skip
    box = centre_receptive_field(net, modules["conv2"], 28, prep)
    assert box is not None
    print(
        f"conv2.0   centre, --samples 4, crop {box}: aligned {mean_pairwise([box.crop(i) for i in centre.images]):.3f}"
    )
    tiles += [box.crop(i) for i in centre.images]
    captions += [[f"conv2.0 s{i}", "centre crop"] for i in range(4)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    captioned_grid(tiles, captions, tile=96, columns=12).save(args.out, format="PNG")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
