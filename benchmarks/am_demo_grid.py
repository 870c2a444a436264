"""Regenerate docs/img/am-demo-grid.png: AM images of the demo digit CNN's units, to be looked at.

Trains (or reuses) the demo network exactly as `seldb demo` does, picks the
most selective units of fc1 and conv2 by precision at top-60 (computed here
from the activations, as the ingest records them), adds the ten output units
(fc2: one per digit) as the case where the answer is known, and draws one
captioned grid. For every unit it prints the AM image's activation beside the
highest activation over the 5,000 digits, under the demo run's reduction
(spatial max for conv2), and says whether the image beat the dataset; for
conv2 also under the spatial mean, the objective's own terms.

    .venv/bin/python benchmarks/am_demo_grid.py [--out docs/img/am-demo-grid.png] [--steps 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seldb.am import generate, resolve_layer
from seldb.am.contact_sheet import captioned_grid
from seldb.demo import DIGIT_NAMES, _as_inputs, build_network, load_digits, train
from seldb.nets.hooks import LayerRecorder

REDUCTION = {"conv2": "max", "fc1": "none", "fc2": "none"}  # as the demo's ingest records them (reduce=max)


def precision_60(acts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(precision, class) per unit: the share of the modal class among the 60 most active images."""
    top = np.argsort(-acts, axis=0, kind="stable")[:60]
    counts = np.stack([np.bincount(labels[top[:, u]], minlength=10) for u in range(acts.shape[1])])
    return counts.max(1) / 60.0, counts.argmax(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/am-demo-grid.png"))
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--weights", type=Path, default=Path(tempfile.gettempdir()) / "seldb-demo-digit_cnn.pth")
    args = parser.parse_args()
    images, labels, source = load_digits()
    if not args.weights.is_file():
        train(images, labels, args.weights)
    net = build_network()
    net.load_state_dict(torch.load(args.weights))
    net.eval()
    recorder = LayerRecorder(net, {name: name for name in REDUCTION}, "max")
    with torch.no_grad():
        net(_as_inputs(images))
    acts = {name: values.numpy() for name, values in recorder.take().items()}
    recorder.close()
    recorder = LayerRecorder(net, {"conv2": "conv2"}, "mean")  # the objective's own terms, for comparison
    with torch.no_grad():
        net(_as_inputs(images))
    conv_means = recorder.take()["conv2"].numpy()
    recorder.close()
    picks = {"fc2": list(range(10))}
    for layer, n in (("fc1", 10), ("conv2", 10)):
        precision, _ = precision_60(acts[layer], labels)
        live = acts[layer].max(0) > 0
        picks[layer] = [int(u) for u in np.argsort(-(precision * live), kind="stable")[:n]]
    tiles, captions = [], []
    for layer in ("fc2", "fc1", "conv2"):
        precision, klass = precision_60(acts[layer], labels)
        for unit in picks[layer]:
            started = time.perf_counter()
            am = generate(
                net,
                resolve_layer(net, layer),
                unit,
                steps=args.steps,
                size=28,
                seed=0,
                preprocess="plain",
                method="fft-gray",
                layer_name=layer,
                threads=1,
            )
            best = float(acts[layer][:, unit].max())
            reached = am.activation.as_recorded(REDUCTION[layer])
            print(
                f"{layer}.{unit}: p60 {precision[unit]:.2f} {DIGIT_NAMES[klass[unit]]:<5} AM {reached:8.3f}"
                f" dataset max {best:8.3f} {'beats' if am.exceeds(best, REDUCTION[layer]) else 'DOES NOT beat'}"
                f" the dataset ({time.perf_counter() - started:.2f} s)"
                + (
                    f"; spatial mean: AM {am.activation.mean:.3f}, dataset max {conv_means[:, unit].max():.3f}"
                    if layer == "conv2"
                    else ""
                )
            )
            tiles.append(am.image)
            captions.append([f"{layer}.{unit}", f"{DIGIT_NAMES[klass[unit]]} {precision[unit]:.2f}"])
    title = f"demo digit CNN, fft-gray, {args.steps} steps, seed 0; under each: unit, top-60 class, precision"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    captioned_grid(tiles, captions, tile=56, columns=10, title=title).save(args.out, format="PNG", optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
