"""Seconds per activation-maximisation image, per model (random weights: speed does not depend on them).

AlexNet and VGG16 at 224 pixels run a few steps and are projected to a full
image (--full-steps, default 512); the demo digit CNN at 28 pixels runs the
full count. Per-step time is taken between two runs of different lengths, so
the fixed cost (the probe pass and the two final measurements) is reported
apart. Nothing is downloaded.

    .venv/bin/python benchmarks/am_speed.py [--device cpu] [--steps 4 12] [--threads N] [--models alexnet vgg16 demo]
"""

from __future__ import annotations

import argparse
import time

import torch

from seldb.am import generate, resolve_layer

# model -> (builder, layer, unit, size, preprocessing)
MODELS = {
    "alexnet": ("alexnet", "conv5", 7, 224, "torchvision"),
    "alexnet-fc8": ("alexnet", "fc8", 7, 224, "torchvision"),
    "vgg16": ("vgg16", "conv5_3", 7, 224, "torchvision"),
    "demo": ("demo", "fc1", 7, 28, "plain"),
}


def build(arch: str) -> tuple[torch.nn.Module, dict[str, str]]:
    torch.manual_seed(0)
    if arch == "demo":
        from seldb.demo import build_network

        return build_network().eval(), {}
    from seldb.nets.registry import ARCHS, ModelSpec, build_network

    return build_network(ModelSpec(arch, arch, 1000)), ARCHS[arch].layer_aliases


def timed(net, module, layer, unit, size, prep, steps, device, threads) -> float:
    started = time.perf_counter()
    generate(
        net,
        module,
        unit,
        steps=steps,
        size=size,
        seed=0,
        preprocess=prep,
        device=device,
        layer_name=layer,
        threads=threads,
    )
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, nargs=2, default=(4, 12), help="two short runs for big models")
    parser.add_argument("--full-steps", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--models", nargs="+", default=["alexnet", "vgg16", "demo"], choices=list(MODELS))
    args = parser.parse_args()
    threads = args.threads or torch.get_num_threads()
    print(f"torch {torch.__version__}, device {args.device}, {threads} CPU thread(s)")
    header = f"{'model':<12} {'layer':<8} {'size':>4} {'s/step':>8} {'fixed s':>8} {'s/image':>9}"
    print(f"{header}  ({args.full_steps} steps)")
    for name in args.models:
        arch, layer, unit, size, prep = MODELS[name]
        net, aliases = build(arch)
        module = resolve_layer(net, layer, aliases)
        short, long = args.steps if arch != "demo" else (args.full_steps // 4, args.full_steps)
        timed(net, module, layer, unit, size, prep, 1, args.device, threads)  # warm-up: allocator, kernels
        t_short = timed(net, module, layer, unit, size, prep, short, args.device, threads)
        t_long = timed(net, module, layer, unit, size, prep, long, args.device, threads)
        per_step = (t_long - t_short) / (long - short)
        fixed = max(0.0, t_short - short * per_step)
        per_image = fixed + per_step * args.full_steps
        print(
            f"{name:<12} {layer:<8} {size:>4} {per_step:>8.3f} {fixed:>8.2f} {per_image:>9.1f}"
            + ("" if long == args.full_steps else f"  (projected from {short} and {long} steps)")
        )


if __name__ == "__main__":
    main()
