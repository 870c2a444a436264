"""GPU readiness: is `seldb ingest --device cuda` as fast as the GPU or the JPEG decoding allows?

For AlexNet and VGG16 (torchvision, random weights, nothing downloaded) over
generated JPEGs, this measures on one machine, one after the other:

- forward: the bare network on the device (a batch already there, no hooks,
  warmed up, synchronised), images/s;
- decode: the DataLoader seldb ingest uses (same dataset class, transform,
  workers and batch size) decoding and preprocessing every image and moving
  the batch to the device, with no network; and the same for --decode-on cuda
  (workers read bytes, JPEGs decoded in batches on the GPU);
- ingest: seldb's recording step (seldb.ingest.runner.record_activations:
  hooks, chunked writes to the activation file, resume record) with each
  decoder; model setup and the measure-and-load step after it are excluded
  (the latter is `seldb import-h5`'s, benchmarked on its own).

It prints ingest / min(forward, decode) per line; the target is >= 90%.
benchmarks/gpu_check.sh installs seldb in a fresh virtual environment and
runs this; `--device cpu` is a dry run with tiny sizes (no GPU needed).

    python benchmarks/gpu_check.py                 # CUDA, 8192 JPEGs of 500x375
    python benchmarks/gpu_check.py --device cpu    # dry run: 48 small JPEGs, 64-pixel crops
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

TARGET = 0.90
LAYERS = {"alexnet": "conv5,fc6,fc7", "vgg16": "conv5_3,fc6,fc7"}  # the paper's layers, and VGG16's likewise


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--device",
        default=os.environ.get("GPU_CHECK_DEVICE", "cuda"),
        help="cuda, cuda:N, or cpu for a dry run with tiny sizes (env GPU_CHECK_DEVICE)",
    )
    parser.add_argument("--models", default="alexnet,vgg16")
    parser.add_argument("--images", type=int, help="JPEGs to generate (cuda 8192, cpu 48)")
    parser.add_argument("--image-size", default=None, help="WxH of the JPEGs (cuda 500x375 like ImageNet, cpu 160x120)")
    parser.add_argument("--input-size", type=int, help="crop size (cuda 224, cpu 64)")
    parser.add_argument("--batch-size", type=int, help="images per batch (cuda 256, cpu 8)")
    parser.add_argument(
        "--workers", type=int, help="DataLoader workers (default: seldb ingest's, cores - 1, at most 8)"
    )
    parser.add_argument("--repeats", type=int, help="passes per measurement, best kept (cuda 2, cpu 1)")
    parser.add_argument(
        "--end-to-end",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time the `seldb ingest` command itself for alexnet, measures and load included"
        " (cuda: on, cpu: off); SELDB_DATABASE_URL, else an embedded server in a temporary directory",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a line misses the target")
    args = parser.parse_args(argv)
    dry = args.device == "cpu"
    defaults = dict(
        images=48 if dry else 8192,
        image_size="160x120" if dry else "500x375",
        input_size=64 if dry else 224,
        batch_size=8 if dry else 256,
        repeats=1 if dry else 2,
    )
    defaults["end_to_end"] = not dry
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _one_jpeg(job: tuple[Path, int, tuple[int, int]]) -> None:
    from PIL import Image

    path, seed, size = job
    rng = np.random.default_rng(seed)  # smooth noise: compresses and decodes like a photo, as the other benchmarks'
    coarse = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.BILINEAR).save(path, quality=90)


def make_jpegs(root: Path, n: int, size: tuple[int, int], classes: int = 10) -> Path:
    jobs = []
    for i in range(n):
        folder = root / f"class{i % classes:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((folder / f"{i:06d}.jpg", i, size))
    with Pool(min(16, os.cpu_count() or 1)) as pool:
        pool.map(_one_jpeg, jobs, chunksize=64)
    return root


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def forward_rate(prepared, args) -> float:
    """Images/s of the bare network on a batch already on the device."""
    import torch

    device, net = prepared.cfg.device, prepared.net
    x = torch.randn(args.batch_size, 3, args.input_size, args.input_size, device=device)
    steps = max(3, args.images // args.batch_size)
    best = float("inf")
    with torch.inference_mode():
        for _ in range(3):  # warm-up: cuDNN picks its kernels, the allocator fills
            net(x)
        for _ in range(args.repeats):
            _sync(device)
            started = time.perf_counter()
            for _ in range(steps):
                net(x).argmax(dim=1)  # the runner also takes each batch's predictions
            _sync(device)
            best = min(best, time.perf_counter() - started)
    return steps * args.batch_size / best


def decode_rate(prepared, args, decode_device: str | None) -> float:
    """Images/s of the ingest's own loader (workers, transform, batch size) with no network."""
    from seldb.ingest.runner import _source

    cfg, device = dataclasses.replace(prepared.cfg, decode_device=decode_device), prepared.cfg.device
    best = float("inf")
    for _ in range(args.repeats):
        loader, to_batch = _source(prepared.image_set, prepared.transform, cfg, 0)
        started = time.perf_counter()
        for item in loader:
            batch = to_batch(item)
            batch.images.to(device, non_blocking=True)
        _sync(device)
        best = min(best, time.perf_counter() - started)
    return len(prepared.image_set) / best


def ingest_rate(prepared, args, decode_device: str | None, out: Path) -> float:
    """Images/s of seldb's recording step, written to a throwaway activation file."""
    from seldb.ingest.runner import record_activations
    from seldb.nets.hooks import LayerRecorder

    p = prepared
    cfg = dataclasses.replace(p.cfg, decode_device=decode_device, force=True, out=out)
    best = float("inf")
    for _ in range(args.repeats):
        with LayerRecorder(p.net, p.layers, p.reduce) as recorder:
            started = time.perf_counter()
            record_activations(p.net, recorder, p.image_set, p.transform, p.layer_spec, cfg)
            _sync(cfg.device)
            best = min(best, time.perf_counter() - started)
    return len(p.image_set) / best


def difference(pil: Path, tensor: Path) -> str:
    """Per layer, the largest |activation difference| between the two decoders, relative to the layer's largest."""
    import h5py

    parts = []
    with h5py.File(pil, "r") as a, h5py.File(tensor, "r") as b:
        for layer in a["layers"]:
            x, y = a["layers"][layer][()], b["layers"][layer][()]
            parts.append(f"{layer} {np.abs(x - y).max():.2g} ({np.abs(x - y).max() / np.abs(x).max():.2%})")
    return "max |difference| of activations, GPU-path decoding vs PIL: " + ", ".join(parts) + " of each layer's max"


def prepare_model(arch: str, args, data: Path, work: Path):
    """seldb ingest's own preparation (registry, weights, layers, image set, transform) for random weights."""
    import torch
    import torchvision

    from seldb.ingest.command import IngestOptions, prepare

    torch.manual_seed(0)
    weights = work / f"{arch}-random.pth"
    torch.save(torchvision.models.get_model(arch, weights=None).state_dict(), weights)
    opts = IngestOptions(
        data=data,
        arch=arch,
        num_classes=1000,
        weights=weights,
        layers=LAYERS[arch].split(","),
        batch_size=args.batch_size,
        workers=args.workers,
        device=args.device,
        input_size=args.input_size,
        out=work / "check.h5",
        progress=False,
    )
    return prepare(opts, notify=lambda message: None)


def check_model(arch: str, args, data: Path, work: Path, gpu_decoder: str) -> tuple[list[tuple], str]:
    prepared = prepare_model(arch, args, data, work)
    n_warm = min(len(prepared.image_set), 4 * args.batch_size)
    subset = dataclasses.replace(
        prepared.image_set, paths=prepared.image_set.paths[:n_warm], labels=prepared.image_set.labels[:n_warm]
    )
    warm = argparse.Namespace(**{**vars(args), "repeats": 1})
    ingest_rate(dataclasses.replace(prepared, image_set=subset), warm, None, work / "warm.h5")  # cuDNN, workers, files
    forward = forward_rate(prepared, args)
    rows = [(arch, "forward (bare, batch on device)", forward, None)]
    for label, decode_device in (("cpu", None), (gpu_decoder, args.device)):
        decode = decode_rate(prepared, args, decode_device)
        rows.append((arch, f"decode+preprocess --decode-on {label}", decode, None))
        ingest = ingest_rate(prepared, args, decode_device, work / f"{arch}-{label.split()[0]}.h5")
        rows.append((arch, f"ingest --decode-on {label}", ingest, ingest / min(forward, decode)))
    note = difference(work / f"{arch}-cpu.h5", work / f"{arch}-{gpu_decoder.split()[0]}.h5")
    for path in work.glob("*.h5"):
        path.unlink()
    return rows, note


def end_to_end(args, data: Path, work: Path) -> tuple[str, str, float, None]:
    """`seldb ingest --device ...` as a user runs it: start-up, recording, measures and load in the database."""
    from seldb.db.server import stop_embedded

    weights, data_dir = work / "alexnet-random.pth", work / "seldb-data"
    command = [
        sys.executable,
        "-c",
        "from seldb_cli.main import main; main()",
        "ingest",
        "--arch",
        "alexnet",
        "--num-classes",
        "1000",
        "--weights",
        str(weights),
        "--data",
        str(data),
        "--layers",
        LAYERS["alexnet"],
        "--device",
        args.device,
        "--batch-size",
        str(args.batch_size),
        "--workers",
        str(args.workers),
        "--input-size",
        str(args.input_size),
        "--out",
        str(work / "end-to-end.h5"),
    ]
    env = {**os.environ, "SELDB_DATA_DIR": str(data_dir), "PYTHONWARNINGS": "ignore"}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    finally:
        if not os.environ.get("SELDB_DATABASE_URL"):
            stop_embedded(data_dir)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        return "alexnet", f"seldb ingest (command) FAILED: {last}", 0.0, None
    return "alexnet", f"seldb ingest command, {seconds:.1f} s all in", args.images / seconds, None


def header(args) -> str:
    import torch

    from seldb.ingest.command import default_workers

    if args.workers is None:
        args.workers = default_workers()
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu (dry run)"
    return (
        f"seldb gpu_check: {where}, torch {torch.__version__}; {args.images} JPEGs {args.image_size}"
        f" -> crop {args.input_size}; batch {args.batch_size}, {args.workers} workers, best of {args.repeats}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda});"
            " GPU_CHECK_DEVICE=cpu runs the dry run",
            file=sys.stderr,
        )
        return 2
    width, height = (int(v) for v in args.image_size.lower().split("x"))
    # on the CPU the tensor path of --decode-on cuda runs on the CPU: the same code, no GPU
    gpu_decoder = "cuda" if args.device.startswith("cuda") else "cuda (run on cpu)"
    print(header(args), flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seldb-gpu-check-") as tmp:
        work = Path(tmp)
        data = make_jpegs(work / "images", args.images, (width, height))
        print(f"generated {args.images} JPEGs in {time.perf_counter() - started:.1f} s", flush=True)
        rows = []
        for arch in args.models.split(","):
            measured, note = check_model(arch, args, data, work, gpu_decoder)
            for row in measured:
                print(_line(*row), flush=True)
                rows.append(row)
            print(f"{arch:<8} {note}", flush=True)
        if args.end_to_end and "alexnet" in args.models.split(","):
            rows.append(end_to_end(args, data, work))
            print(_line(*rows[-1]), flush=True)
    ratios = [ratio for *_, ratio in rows if ratio is not None]
    met = sum(ratio >= TARGET for ratio in ratios)
    print(
        f"target ingest >= {TARGET:.0%} of min(forward, decode): met on {met} of {len(ratios)} lines;"
        f" {time.perf_counter() - started:.0f} s in all"
    )
    return 1 if args.strict and met < len(ratios) else 0


def _line(arch: str, what: str, rate: float, ratio: float | None) -> str:
    verdict = "" if ratio is None else f"  {ratio:6.1%} of min(forward, decode)  {'ok' if ratio >= TARGET else 'BELOW'}"
    return f"{arch:<8} {what:<50} {rate:>9.1f} images/s{verdict}"


if __name__ == "__main__":
    sys.exit(main())
