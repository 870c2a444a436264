"""Batched AM: many units and samples of one layer optimised together, one forward/backward pass per step.

One image at a time leaves a CPU (or GPU) mostly idle on a small network:
each step is a handful of tiny kernels. Here every image of a batch is one
row of a single spectrum tensor, and each row keeps what makes it the image
`seldb.am.maximise.generate` would make alone: its own torch.Generator
(seeded with the image's seed) draws its starting spectrum and its random
transforms in the same order (seldb.am.transforms.batch_transform applies them
in a few batched calls, bit for bit as one image at a time), the loss is the *sum* of the rows' objectives
(so each row's gradient is its own), and Adam works element by element (so
each row's update is its own). A batch of one gives generate's bytes; a
larger batch gives the same images up to the float rounding of batched
kernels (tests/test_am_batch.py measures both); only such a batch runs its CPU
convolutions channels-last and moves a grey image's one channel, for speed.

Objectives: "channel", the unit's mean over space (lucid's channel
objective; an fc unit itself), or "centre", the one neuron at the spatial
centre of a conv channel, as Nguyen et al. (2016, 2017) maximised conv units
for DGN-AM and PPGN; its image is cropped to that neuron's receptive field
(seldb.am.receptive_field) when it is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seldb.am.options import METHODS, OBJECTIVES
from seldb.am.parameterisation import FourierImage, to_uint8
from seldb.am.transforms import TransformSpec, batch_transform
from seldb.am.unit_probe import Preprocess, RedirectedReLU, UnitProbe
from seldb.errors import InputError


@dataclass(frozen=True)
class BatchResult:
    images: list[np.ndarray]  # (size, size, 3) uint8, one per target, in order
    means: list[float]  # the recorded (post-ReLU) output's spatial mean, per image
    maxes: list[float]  # ... and spatial max
    objectives: list[float]  # the optimised quantity on the final image


class BatchProbe(UnitProbe):
    """A UnitProbe with one unit per image of the batch, reading its channel mean or its centre neuron."""

    def __init__(
        self,
        layer_module: nn.Module,
        units: Sequence[int],
        objective: str = "channel",
        pre_relu: bool = False,
        layer_name: str = "the layer",
    ):
        if objective not in OBJECTIVES:
            raise InputError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
        super().__init__(layer_module, max(units), pre_relu, layer_name)
        self.units = torch.as_tensor(list(units), dtype=torch.long)
        self.objective = objective
        self.centre: torch.Tensor | None = None
        self.layer_values: torch.Tensor | None = None

    def _take(self, output, before_relu: bool) -> None:
        if not isinstance(output, torch.Tensor) or output.ndim not in (2, 4):
            super()._take(output, before_relu)  # its one line for a shape AM cannot read
            return
        self.n_units = int(output.shape[1])
        if int(self.units.max()) >= self.n_units:
            return
        if len(output) != len(self.units):
            raise InputError(f"{len(output)} images in the pass but {len(self.units)} units to read")
        rows = torch.arange(len(output), device=output.device)
        chosen = output[rows, self.units.to(output.device)]  # (B, H, W) or (B,): a copy (advanced indexing)
        values = chosen.reshape(len(output), -1)
        if before_relu and not self.pre_relu:
            values = RedirectedReLU.apply(values) if self.redirect else torch.relu(values)
        self.mean, self.max = values.mean(dim=1), values.detach().amax(dim=1)
        if chosen.ndim == 3:
            h, w = chosen.shape[-2:]
            self.centre = values[:, (h // 2) * w + w // 2]
        else:
            self.centre = values[:, 0]
        with torch.no_grad():  # every unit of the layer, read as the objective reads its own (PPGN's softmax)
            every = output if self.pre_relu or not before_relu else torch.relu(output)
            if every.ndim == 4:
                h, w = every.shape[-2:]
                every = every[:, :, h // 2, w // 2] if self.objective == "centre" else every.mean(dim=(2, 3))
            self.layer_values = every.detach().float()

    def __enter__(self) -> BatchProbe:
        return self

    def objective_values(self) -> torch.Tensor:
        """The optimised quantity per image (with its gradient)."""
        mean, _ = self.values()
        if self.objective == "centre":
            assert self.centre is not None
            return self.centre
        return mean


def _starting_spectra(seeds: Sequence[int], size: int, channels: int, device: str, init_sd: float):
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    images = [FourierImage(size, channels, g, "cpu", init_sd) for g in generators]
    spectrum = torch.cat([im.spectrum.detach() for im in images]).to(device).requires_grad_(True)
    return generators, images[0], spectrum


def optimise_batch(
    net: nn.Module,
    layer_module: nn.Module,
    units: Sequence[int],
    seeds: Sequence[int],
    *,
    steps: int,
    size: int,
    method: str,
    lr: float,
    prep: Preprocess,
    device: str,
    objective: str = "channel",
    pre_relu: bool = False,
    init_sd: float | None = None,
    layer_name: str = "the layer",
    diversity: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """One image per (unit, seed) pair, all of `layer_module`; the net must already be on `device`, eval."""
    from seldb.am.parameterisation import INIT_SD

    if len(units) != len(seeds) or not units:
        raise InputError(f"a batch needs one seed per unit ({len(units)} units, {len(seeds)} seeds)")
    spec = TransformSpec.for_size(size)
    generators, shape, spectrum = _starting_spectra(
        seeds, size, METHODS[method], device, INIT_SD if init_sd is None else init_sd
    )
    shape.spectrum = spectrum
    shape._scale = shape._scale.to(device)
    optimiser = torch.optim.Adam([spectrum], lr=lr)
    groups = _groups(units)
    # a batch of one follows generate step for step (its exact bytes); a larger batch, which matches
    # generate only up to float rounding anyway, runs its CPU convolutions and pooling channels-last
    # (vectorised over channels) and moves a grey image's one channel instead of three equal ones
    channels_last = torch.device(device).type == "cpu" and len(units) > 1
    grey = shape.channels == 1 and len(units) > 1
    tapped = diversity_module(net, layer_module, size, prep, device) if diversity and groups else None
    with BatchProbe(layer_module, units, objective, pre_relu, layer_name) as probe, FeatureTap(tapped) as tap:
        probe.redirect = True
        for step in range(steps):
            if grey:  # the transforms act on each channel alike: move the one grey channel, then repeat it
                moved = batch_transform(torch.sigmoid(shape.spatial()), spec, generators).expand(-1, 3, -1, -1)
            else:
                moved = batch_transform(shape.rgb(), spec, generators)
            x = prep(moved)
            net(x.contiguous(memory_format=torch.channels_last) if channels_last else x)
            values = probe.objective_values()
            loss = -values.sum()
            if tap.features is not None:
                features = (
                    _centre_window(tap.features) if objective == "centre" and tapped is layer_module else tap.features
                )
                loss = loss + diversity * (values.detach().abs() * similarity(features, groups)).sum()
            (spectrum.grad,) = torch.autograd.grad(loss, [spectrum])
            optimiser.step()
            if progress is not None:
                progress(step + 1)
        probe.redirect = False
        with torch.no_grad():
            images = [to_uint8(shape.rgb()[i : i + 1]) for i in range(len(units))]
            return read_images(net, probe, layer_module, images, prep, device)


def read_images(
    net: nn.Module, probe: BatchProbe, layer_module: nn.Module, images: list[np.ndarray], prep: Preprocess, device: str
) -> BatchResult:
    """The result of finished 8-bit images: the probe's objective, and the recorded output's mean and max."""
    objectives = _read(net, probe, images, prep, device).tolist()
    with BatchProbe(layer_module, probe.units.tolist(), "channel", False, probe.layer_name) as plain, torch.no_grad():
        _read(net, plain, images, prep, device)
        mean, top = plain.values()
    return BatchResult(images, mean.double().cpu().tolist(), top.double().cpu().tolist(), objectives)


def _read(net: nn.Module, probe: BatchProbe, images: list[np.ndarray], prep: Preprocess, device: str) -> torch.Tensor:
    """The probe's objective for the 8-bit images (what the PNGs hold), without transforms."""
    x = torch.from_numpy(np.stack(images)).to(torch.float32).div(255.0).permute(0, 3, 1, 2).contiguous()
    net(prep(x.to(device)))
    return probe.objective_values().detach().double().cpu()


def _centre_window(features: torch.Tensor) -> torch.Tensor:
    """The 3 x 3 positions around a map's centre: for the centre objective, what its samples should
    differ in is what the centre neuron sees, not the canvas around it."""
    if features.ndim != 4:
        return features
    h, w = features.shape[-2:]
    return features[:, :, max(0, h // 2 - 1) : h // 2 + 2, max(0, w // 2 - 1) : w // 2 + 2]


def _groups(units: Sequence[int]) -> list[list[int]]:
    """Rows of the batch that are samples of the same unit (only those with company)."""
    rows: dict[int, list[int]] = {}
    for row, unit in enumerate(units):
        rows.setdefault(int(unit), []).append(row)
    return [r for r in rows.values() if len(r) > 1]


def similarity(features: torch.Tensor, groups: list[list[int]]) -> torch.Tensor:
    """Per row, the mean cosine similarity of its Gram matrix to those of the other samples of its unit.

    lucid's diversity objective (objectives.diversity, Olah et al. 2017): Gram matrices of a
    layer's channels do not change when a texture moves, so lowering their similarity asks the
    samples for different patterns, not the same one shifted.
    """
    b, c = features.shape[:2]
    flat = features.reshape(b, c, -1)
    grams = torch.nn.functional.normalize(torch.bmm(flat, flat.transpose(1, 2)).reshape(b, -1), dim=1)
    out = torch.zeros(b, device=features.device, dtype=features.dtype)
    for rows in groups:
        index = torch.as_tensor(rows, device=features.device)
        g = grams[index]
        sims = g @ g.T
        out = out.index_add(0, index, (sims.sum(dim=1) - sims.diagonal()) / (len(rows) - 1))
    return out


def diversity_module(net: nn.Module, layer_module: nn.Module, size: int, prep: Preprocess, device: str) -> nn.Module:
    """The layer whose Gram matrices the diversity term compares: the unit's own layer when it has
    space (a conv layer), else the last module before it whose output does."""
    seen: list[nn.Module] = []
    found: list[nn.Module] = []

    def record(module, inputs, output):
        if module is layer_module:
            found.extend(seen[-1:] if not (isinstance(output, torch.Tensor) and output.ndim == 4) else [module])
        elif isinstance(output, torch.Tensor) and output.ndim == 4 and not list(module.children()):
            seen.append(module)

    handles = [m.register_forward_hook(record) for m in net.modules()]
    try:
        with torch.no_grad():
            net(prep(torch.full((1, 3, size, size), 0.5, device=device)))
    finally:
        for handle in handles:
            handle.remove()
    if not found:
        raise InputError("no layer with a spatial map at or before the unit's: samples cannot be made diverse")
    return found[0]


class FeatureTap:
    """Keeps a module's output of the last forward pass (None: a tap on nothing)."""

    def __init__(self, module: nn.Module | None):
        self.features: torch.Tensor | None = None
        self._handle = None if module is None else module.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self.features = output

    def __enter__(self) -> FeatureTap:
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
