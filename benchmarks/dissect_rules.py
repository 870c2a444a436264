"""How much each dissection rule moves IoU and detector counts, on the same data (docs/dissect.md's table).

Data: a generated Broden-format dataset shaped like broden1_227 (227 x 227
images, 113 x 113 segmentations, seldb.dissect.minibroden: coloured shapes on
plain, striped or dotted backgrounds; categories color, object, part, scene,
texture). Networks: torchvision's AlexNet with seeded random weights (conv3
and conv5, 13 x 13 maps, so the upsampling matters) and seldb's planted
network (its 4 x 4-pooled layer; unit 0 of its full-resolution layer fires
exactly on red). Each variant changes one rule from NetDissect-Lite's (the
baseline), and the last is the 2017 preset. Per layer and variant:
mean |IoU - IoU_lite| over every (unit, label) with IoU above 0 in either,
the mean top-label IoU, the units whose top label changes, and detectors
(top-label IoU > 0.04).

    python benchmarks/dissect_rules.py --images 200
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision

from seldb.dissect import dissect
from seldb.dissect.minibroden import make_mini_broden
from seldb.dissect.planted_net import PlantedNet
from seldb.dissect.rules import PRESETS, DissectRules
from seldb.nets.registry import ARCHS

VARIANTS = {
    "lite (baseline)": PRESETS["lite"],
    "--union annotated": DissectRules(union="annotated"),
    "--union all": DissectRules(union="all"),
    "--upsample receptive-field": DissectRules(upsample="receptive-field"),
    "--threshold sketch": DissectRules(threshold="sketch"),
    "--rules netdissect2017": PRESETS["netdissect2017"],
}


def summary(result, layer: str, base) -> dict:
    d = result.layers[layer]
    top = d.best.iou.max(axis=0)
    labels = d.best.label[d.best.top_category, np.arange(d.n_units)]
    row = {"top_iou": float(top.mean()), "detectors": int((top > 0.04).sum()), "units": d.n_units}
    if base is not None:
        b = base.layers[layer]
        seen = (d.scores.iou > 0) | (b.scores.iou > 0)
        row["mean_abs_diff"] = float(np.abs(d.scores.iou - b.scores.iou)[seen].mean())
        row["top_changed"] = int((labels != b.best.label[b.best.top_category, np.arange(b.n_units)]).sum())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--quantile", type=float, default=0.005)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    alexnet = torchvision.models.alexnet(weights=None).eval()
    nets = [
        ("AlexNet (random)", alexnet, ["conv3", "conv5"], ARCHS["alexnet"].layer_aliases, "torchvision"),
        ("planted", PlantedNet(seed=7), ["planted", "pooled"], {}, "netdissect"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        mini = make_mini_broden(Path(tmp) / "mini", n_images=args.images, image_size=227, seg_size=113, seed=1)
        print("| network | layer | variant | mean abs. IoU change | mean top IoU | top label changed | detectors |")
        print("|---|---|---|---:|---:|---:|---:|")
        for name, net, layers, aliases, preprocess in nets:
            base = None
            for variant, rules in VARIANTS.items():
                result = dissect(
                    net, layers, mini.directory, quantile=args.quantile, layer_aliases=aliases,
                    preprocess=preprocess, rules=rules, batch_size=32,
                )  # fmt: skip
                for layer in layers:
                    row = summary(result, layer, base)
                    change = f"{row['mean_abs_diff']:.5f}" if base is not None else "-"
                    changed = f"{row['top_changed']} / {row['units']}" if base is not None else "-"
                    print(
                        f"| {name} | {layer} | {variant} | {change} | {row['top_iou']:.4f} | {changed} |"
                        f" {row['detectors']} / {row['units']} |",
                        flush=True,
                    )
                base = base or result


if __name__ == "__main__":
    main()
