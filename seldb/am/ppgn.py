"""AM through a generator prior: PPGN's sampler in the code space of a generator network.

The images the paper's raters judged were made by Plug & Play Generative
Networks (Nguyen et al. 2017, "Plug & Play Generative Networks: Conditional
Iterative Generation of Images in Latent Space", CVPR; code:
github.com/Evolving-AI-Lab/ppgn). Instead of the pixels, a code h is
optimised, and the image is G(h), the output of a generator trained to
invert an encoder E (for PPGN, CaffeNet's fc6): images stay on the
generator's manifold of natural-looking images. Each step is the paper's
Eq. 11 as sampler.py implements it:

    d_h = eps1 * (E(G(h)) - h) + eps2 * d log p(y | G(h)) / dh + N(0, eps3^2)
    h  <- clip(h + lr / mean|d_h| * d_h, 0, 30)

the prior term being the reconstruction error of the h -> x -> h
auto-encoder (Alain & Bengio 2014), the condition term the gradient of the
unit's log-softmax over its layer (for a conv unit, over the channels at the
centre position, as sampling_class.py does: the gradient put on the unit is
1 - p(unit)), the noise term Gaussian. Defaults are those of the repository's
hidden-unit script (3_hidden_conditional_sampling.sh): eps1 = 1e-5, eps2 = 1,
eps3 = 1e-17, lr = 1, the code started from N(0, 1) and clipped to [0, 30]
after every step.

A generator is `MODULE:FN`: FN() returns a torch module with forward(h) ->
images (N, 3, size, size) in [0, 1], an attribute `code_shape`, optionally
`encode(images) -> h` (the prior term is 0 without it) and `code_range`
(default (0, 30)). Every random draw comes from the image's own seeded
torch.Generator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seldb.am.batch import BatchProbe, BatchResult, read_images
from seldb.am.parameterisation import to_uint8
from seldb.am.unit_probe import Preprocess
from seldb.errors import InputError


@dataclass(frozen=True)
class PPGNSettings:
    """The multipliers of Eq. 11 and the step, as Nguyen et al.'s hidden-unit script sets them."""

    epsilon1: float = 1e-5  # prior: E(G(h)) - h
    epsilon2: float = 1.0  # condition: d log p(unit) / dh
    epsilon3: float = 1e-17  # noise standard deviation
    lr: float = 1.0  # step size, on the update normalised by its mean absolute value
    code_range: tuple[float, float] = (0.0, 30.0)  # h clipped here after every step (fc6 codes are post-ReLU)


def load_generator(spec: str) -> nn.Module:
    """FN() of `MODULE:FN`, checked: a torch module with a code_shape; one line for anything else."""
    module_name, _, function = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--generator {spec}: cannot import {module_name} ({exc})") from None
    factory = getattr(module, function, None)
    if not callable(factory):
        raise InputError(f"--generator {spec}: {module_name} has no function {function}")
    generator = factory()
    if not isinstance(generator, nn.Module) or not hasattr(generator, "code_shape"):
        raise InputError(f"--generator {spec}: {function}() must return a torch module with a code_shape")
    return generator.eval()


def code_shape(generator: nn.Module) -> tuple[int, ...]:
    declared: Any = generator.code_shape
    return tuple(int(d) for d in declared)


def _check_images(x: torch.Tensor, n: int, size: int, spec: str) -> None:
    if not isinstance(x, torch.Tensor) or x.shape != (n, 3, size, size):
        shape = tuple(x.shape[1:]) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"--generator {spec} makes images of shape {shape}; the network needs (3, {size}, {size})")


def check_generator(generator: nn.Module, size: int, device: str, spec: str) -> None:
    """One code through the generator before anything is written: the images fit the network."""
    shape = code_shape(generator)
    with torch.no_grad():
        try:
            x = generator.to(device)(torch.zeros((1, *shape), device=device))
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"--generator {spec} fails on a code of shape {shape}: {first}") from None
    _check_images(x, 1, size, spec)


def sample_batch(
    net: nn.Module,
    layer_module: nn.Module,
    units: Sequence[int],
    seeds: Sequence[int],
    generator: nn.Module,
    *,
    steps: int,
    size: int,
    prep: Preprocess,
    device: str,
    objective: str = "channel",
    pre_relu: bool = False,
    layer_name: str = "the layer",
    settings: PPGNSettings = PPGNSettings(),
    spec: str = "the generator",
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """One PPGN sample per (unit, seed) pair, all of `layer_module`; net on `device` in eval mode."""
    generator = generator.to(device).eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    shape = code_shape(generator)
    draws = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    h = torch.stack([torch.randn(shape, generator=g) for g in draws]).to(device)
    low, high = getattr(generator, "code_range", settings.code_range)
    encode = getattr(generator, "encode", None)
    index = torch.as_tensor(list(units), dtype=torch.long, device=device)
    with BatchProbe(layer_module, units, objective, pre_relu, layer_name) as probe:
        for step in range(steps):
            with torch.no_grad():
                prior = encode(generator(h)) - h if encode is not None else torch.zeros_like(h)
            code = h.clone().requires_grad_(True)
            x = generator(code)
            _check_images(x, len(units), size, spec)
            net(prep(x))
            values = probe.objective_values()
            assert probe.layer_values is not None
            p_unit = torch.softmax(probe.layer_values, dim=1).gather(1, index[:, None])[:, 0]
            (condition,) = torch.autograd.grad(((1.0 - p_unit) * values).sum(), [code])
            noise = torch.stack([torch.randn(shape, generator=g) for g in draws]).to(device) * settings.epsilon3
            d_h = settings.epsilon1 * prior + settings.epsilon2 * condition + noise
            scale = d_h.abs().reshape(len(units), -1).mean(dim=1).clamp_min(1e-30)
            h = (h + settings.lr / scale.view(-1, *([1] * len(shape))) * d_h).clamp(low, high)
            if progress is not None:
                progress(step + 1)
        with torch.no_grad():
            x = generator(h)
            images = [to_uint8(x[i : i + 1].clamp(0, 1)) for i in range(len(units))]
            return read_images(net, probe, layer_module, images, prep, device)
