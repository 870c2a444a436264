"""Activation maximisation: the image one unit responds to most, by regularised gradient ascent.

The paper judged "object detector" claims partly by showing people images
synthesised to drive a unit. This module makes such an image for any unit
seldb can name: a Fourier-space, colour-decorrelated image
(seldb.am.parameterisation) optimised with Adam under random jitter, scale
and rotation (seldb.am.transforms), as lucid / lucent do (Olah et al. 2017).

Objective: the unit's mean activation at the layer's recorded output (post-
ReLU for the paper's layers), the spatial mean of its channel for a conv
layer and the neuron itself for an fc layer; `pre_relu=True` maximises the
same quantity at the input of the ReLU the layer ends in. A unit silent on
the starting image gives the post-ReLU objective no gradient; the layer's
ReLU therefore passes lucid's redirected gradient (seldb.am.unit_probe):
while the unit is silent on an image, the gradient that would switch it on.
The activation reported is always measured
afterwards on the final 8-bit image, through the same preprocessing and
without the random transforms, at the layer's recorded (post-ReLU) output: it
is what the PNG does to the unit, comparable with the dataset's activations.

Every random draw comes from one torch.Generator seeded by `seed`; on the CPU
a rerun with the same seed, torch build, CPU type and thread count gives the
same bytes (the thread count used is recorded with the settings).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from seldb.am.options import LEARNING_RATE, METHODS, check_options
from seldb.am.parameterisation import FourierImage, to_uint8
from seldb.am.transforms import TransformSpec, random_transform
from seldb.am.unit_probe import Preprocess, UnitProbe, input_transform
from seldb.errors import InputError


@dataclass(frozen=True)
class AMSettings:
    """Everything that decides the image (recorded beside it)."""

    steps: int
    size: int
    seed: int
    pre_relu: bool
    method: str
    lr: float
    preprocess: str
    device: str
    threads: int | None  # CPU threads (the CPU result depends on it); None on CUDA
    transforms: dict = field(default_factory=dict)
    torch_version: str = torch.__version__


@dataclass(frozen=True)
class UnitActivation:
    """One unit's response to one image: spatial mean and max (equal for an fc unit)."""

    mean: float
    max: float

    def as_recorded(self, reduction: str) -> float:
        """The number seldb stored for dataset images under the run's reduction (max, mean or none)."""
        return self.max if reduction == "max" else self.mean


@dataclass(frozen=True)
class AMImage:
    image: np.ndarray  # (size, size, 3) uint8
    layer: str
    unit: int
    activation: UnitActivation  # the final PNG's effect on the recorded (post-ReLU) output
    objective: float  # the optimised quantity on the final image (pre-ReLU mean when pre_relu)
    settings: AMSettings
    seconds: float

    def exceeds(self, dataset_max: float, reduction: str) -> bool:
        """True when the image drives the unit above the dataset's highest activation."""
        return self.activation.as_recorded(reduction) > dataset_max


def _check_unit(net: nn.Module, probe: UnitProbe, size: int, device: str, preprocess: Preprocess) -> None:
    """One forward pass on a grey image: the layer runs, has this unit, and accepts this size."""
    with torch.no_grad():
        try:
            net(preprocess(torch.full((1, 3, size, size), 0.5, device=device)))
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"the model cannot run on {size}x{size} input: {first}") from None
    probe.check_unit()


def preflight(
    net: nn.Module,
    targets: list[tuple[str, nn.Module, int]],
    size: int,
    device: str,
    preprocess: str | Preprocess,
    pre_relu: bool,
) -> None:
    """Check (layer name, module, unit) targets before any image is made: one forward pass per layer
    with its highest unit, so a bad unit, size or pre_relu is one line while nothing is written yet."""
    _, prep = input_transform(preprocess)
    net.to(device).eval()
    highest: dict[str, tuple[nn.Module, int]] = {}
    for name, module, unit in targets:
        if name not in highest or unit > highest[name][1]:
            highest[name] = (module, unit)
    for name, (module, unit) in highest.items():
        with UnitProbe(module, unit, pre_relu, name) as probe:
            _check_unit(net, probe, size, device, prep)


def measure(
    net: nn.Module,
    layer_module: nn.Module,
    unit: int,
    images: np.ndarray | torch.Tensor,
    preprocess: str | Preprocess = "torchvision",
    device: str = "cpu",
    pre_relu: bool = False,
    layer_name: str = "the layer",
) -> list[UnitActivation]:
    """The unit's activation for each image: uint8 (N, H, W, 3) or float in [0, 1] (N, H, W, 3)."""
    _, prep = input_transform(preprocess)
    array = torch.as_tensor(np.asarray(images))
    if array.ndim == 3:
        array = array[None]
    x = array.to(torch.float32).div(255.0) if array.dtype == torch.uint8 else array.to(torch.float32)
    x = x.permute(0, 3, 1, 2).contiguous().to(device)
    with UnitProbe(layer_module, unit, pre_relu, layer_name) as probe, torch.no_grad():
        net(prep(x))
        mean, top = probe.values()
        means, maxes = mean.double().cpu().tolist(), top.double().cpu().tolist()
    return [UnitActivation(a, b) for a, b in zip(means, maxes)]


def reference_activation(
    net: nn.Module,
    layer_module: nn.Module,
    unit: int,
    mean_image: np.ndarray,
    preprocess: str | Preprocess = "torchvision",
    device: str = "cpu",
    layer_name: str = "the layer",
) -> UnitActivation:
    """The unit's activation for the dataset's mean image ((H, W, 3) in [0, 1], see seldb.am.dataset_images)."""
    return measure(net, layer_module, unit, mean_image, preprocess, device, False, layer_name)[0]


def generate(
    net: nn.Module,
    layer_module: nn.Module,
    unit: int,
    steps: int = 512,
    size: int = 224,
    seed: int = 0,
    pre_relu: bool = False,
    device: str = "cpu",
    preprocess: str | Preprocess = "torchvision",
    method: str = "fft-decorrelated",
    lr: float = LEARNING_RATE,
    layer_name: str | None = None,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> AMImage:
    """An image maximising `unit` of `layer_module` (a module of `net`); moves net to `device`, eval mode.

    threads: CPU threads for this call (restored afterwards); None keeps torch's setting.
    """
    from seldb.nets.device import resolve_device

    check_options(steps, size, method, lr, seed)
    device = resolve_device(device)
    name = layer_name or type(layer_module).__name__
    prep_name, prep = input_transform(preprocess)
    spec = TransformSpec.for_size(size)
    with _cpu_threads(threads if device == "cpu" else None) as used:
        settings = AMSettings(
            steps,
            size,
            seed,
            pre_relu,
            method,
            lr,
            prep_name,
            device,
            used if device == "cpu" else None,
            spec.describe(),
        )
        net.to(device).eval()
        started = time.perf_counter()
        with UnitProbe(layer_module, unit, pre_relu, name) as probe:
            _check_unit(net, probe, size, device, prep)
            image = _optimise(net, probe, spec, settings, prep, progress)
            objective = measure(net, layer_module, unit, image, prep, device, pre_relu, name)[0].mean
        activation = measure(net, layer_module, unit, image, prep, device, False, name)[0]
    return AMImage(image, name, unit, activation, objective, settings, time.perf_counter() - started)


@contextmanager
def _cpu_threads(threads: int | None):
    """torch's intra-op thread count set for the block (a process-wide setting, so restored after)."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a whole number of at least 1, got {threads!r}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _optimise(
    net: nn.Module,
    probe: UnitProbe,
    spec: TransformSpec,
    settings: AMSettings,
    prep: Preprocess,
    progress: Callable[[int], None] | None,
) -> np.ndarray:
    generator = torch.Generator().manual_seed(settings.seed)
    image = FourierImage(settings.size, METHODS[settings.method], generator, settings.device)
    optimiser = torch.optim.Adam(image.parameters(), lr=settings.lr)
    # lucid redirects every ReLU for 16 steps; only the objective's ReLU is redirected here, and
    # throughout, since it changes nothing once the unit fires and rescues units that start silent
    probe.redirect = True
    for step in range(settings.steps):
        net(prep(random_transform(image.rgb(), spec, generator)))
        loss = -probe.values()[0].mean()
        # gradients for the image only: the network's weights get none, and nothing accumulates on them
        (image.spectrum.grad,) = torch.autograd.grad(loss, [image.spectrum])
        optimiser.step()
        if progress is not None:
            progress(step + 1)
    probe.redirect = False
    with torch.no_grad():
        return to_uint8(image.rgb())
