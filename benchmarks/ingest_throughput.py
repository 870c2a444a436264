"""Ingest throughput: images/s of `seldb ingest`'s recording vs the bare forward pass.

"Bare" is the same DataLoader (same decoding, workers, batch size) and the
same forward pass without hooks or file writes; "ingest" is seldb's runner
with the paper's AlexNet layers (conv5 max-reduced, fc6, fc7) hooked and
written to the activation file in chunks. Targets: ingest >= 80% of bare on
CPU, >= 90% on GPU. The measure-and-load step after recording is not
included (it is the same as `seldb import-h5`, benchmarked separately).

    python benchmarks/ingest_throughput.py                      # CPU (and GPU when available)
    python benchmarks/ingest_throughput.py --device cuda --images 8192 --workers 12
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from seldb.ingest.command import IngestOptions, default_workers, prepare
from seldb.ingest.loader import ImageListDataset, make_loader
from seldb.ingest.runner import record_activations
from seldb.nets.hooks import LayerRecorder


def make_images(root: Path, n: int, classes: int = 10, size=(320, 240)) -> Path:
    """JPEGs shaped like ImageNet photos (smooth noise, so they compress and decode like photos)."""
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"class{i % classes:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize(size, Image.BILINEAR).save(folder / f"{i:06d}.jpg", quality=90)
    return root


def bare(opts: IngestOptions) -> float:
    """Seconds for DataLoader + forward only, with the very loader the runner uses."""
    prepared = prepare(opts, notify=lambda message: None)  # no hooks: the recorder exists only while recording
    s, net, device = prepared.image_set, prepared.net, prepared.cfg.device
    loader = make_loader(
        ImageListDataset(s.root, s.paths, s.labels, prepared.transform),
        opts.batch_size,
        prepared.cfg.workers,
        pin_memory=device.startswith("cuda"),
    )
    started = time.perf_counter()
    with torch.inference_mode():
        for batch in loader:
            logits = net(batch.images.to(device, non_blocking=True))
            logits.argmax(dim=1).cpu()  # the runner also brings predictions back each batch
    _sync(device)
    return time.perf_counter() - started


def ingest(opts: IngestOptions) -> float:
    """Seconds for the runner alone (hooks, chunked writes, resume record); model setup excluded as for bare."""
    p = prepare(IngestOptions(**{**opts.__dict__, "force": True}), notify=lambda message: None)
    with LayerRecorder(p.net, p.layers, p.reduce) as recorder:
        started = time.perf_counter()
        record_activations(p.net, recorder, p.image_set, p.transform, p.layer_spec, p.cfg)
        _sync(p.cfg.device)
        return time.perf_counter() - started


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(device: str, args, data: Path, weights: Path, work: Path) -> list[tuple]:
    opts = IngestOptions(
        data=data,
        model="alexnet-imagenet",
        weights=weights,
        batch_size=args.batch_size,
        workers=args.workers,
        device=device,
        out=work / f"bench-{device}.h5",
        progress=False,
    )
    n = args.images
    ingest(IngestOptions(**{**opts.__dict__, "limit_per_class": 2 * args.batch_size // 10 + 1}))  # warm-up
    best = {"bare": float("inf"), "ingest": float("inf")}
    for _ in range(args.repeats):  # alternate, keep the best of each: less noise from the machine
        best["bare"] = min(best["bare"], bare(opts))
        best["ingest"] = min(best["ingest"], ingest(opts))
    cpu = f"cpu ({torch.get_num_threads()} threads, {args.workers} workers)"
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else cpu
    rate = {mode: n / seconds for mode, seconds in best.items()}
    return [(name, mode, n, best[mode], rate[mode], rate[mode] / rate["bare"]) for mode in ("bare", "ingest")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: seldb's)")
    parser.add_argument("--device", default="all", help="cpu, cuda or all (cpu, plus cuda when available)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    args.workers = default_workers() if args.workers is None else args.workers
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    with tempfile.TemporaryDirectory(prefix="seldb-bench-") as tmp:
        work = Path(tmp)
        data = make_images(work / "images", args.images)
        torch.manual_seed(0)
        weights = work / "alexnet.pth"
        torch.save(torchvision.models.alexnet().state_dict(), weights)
        rows = [row for device in devices for row in measure(device, args, data, weights, work)]
    print(f"AlexNet, batch {args.batch_size}, {args.images} JPEGs 320x240 -> 224 crop; layers conv5 (max), fc6, fc7")
    print(f"{'device':<28} {'mode':<7} {'images':>7} {'seconds':>8} {'images/s':>9} {'vs bare':>8}")
    for device, mode, n, seconds, rate, ratio in rows:
        print(f"{device:<28} {mode:<7} {n:>7} {seconds:>8.2f} {rate:>9.1f} {ratio:>8.1%}")


if __name__ == "__main__":
    main()
