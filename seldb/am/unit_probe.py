"""Reading one unit's activation out of a network, with gradients, before anything overwrites it.

A layer name means the module whose output seldb records (seldb.nets.hooks):
post-ReLU for the paper's layers. Two traps shape this module. torchvision's
ReLUs work in place, so a tensor kept from a hook changes under our feet when
the ReLU runs; the probe therefore copies the unit's map inside the hook. And
"pre-ReLU" has a meaning only for a layer that ends in a ReLU: it is that
ReLU's input, read by a pre-hook before the ReLU can modify it.

The inputs arrive as RGB in [0, 1]; `input_transform` maps them to what the
weights expect, with the same kinds as the ingest (seldb.nets.preprocess).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from seldb.errors import InputError
from seldb.nets.hooks import LayerRecorder, resolve_layers
from seldb.nets.preprocess import CAFFE_MEAN_BGR, KINDS, TORCHVISION_MEAN, TORCHVISION_STD

Preprocess = Callable[[torch.Tensor], torch.Tensor]


def input_transform(preprocess: str | Preprocess) -> tuple[str, Preprocess]:
    """(name, differentiable batch function) for an ingest preprocessing kind or a callable."""
    if callable(preprocess):
        return getattr(preprocess, "__name__", type(preprocess).__name__), preprocess
    if preprocess == "plain":
        return preprocess, lambda x: (x - 0.5) / 0.5
    if preprocess == "torchvision":
        mean, std = torch.tensor(TORCHVISION_MEAN).view(1, 3, 1, 1), torch.tensor(TORCHVISION_STD).view(1, 3, 1, 1)
        return preprocess, lambda x: (x - mean.to(x.device)) / std.to(x.device)
    if preprocess == "caffe":
        mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
        return preprocess, lambda x: x.flip(1) * 255.0 - mean.to(x.device)
    raise InputError(f"preprocess must be one of {', '.join(KINDS)} or a function, got {preprocess!r}")


def resolve_layer(net: nn.Module, layer: str, aliases: dict[str, str] | None = None) -> nn.Module:
    """The module a stored layer name (conv5, fc6, or a module path) records, as the ingest resolves it."""
    module_name = resolve_layers(net, [layer], aliases or {})[layer]
    return dict(net.named_modules())[module_name]


def final_relu(module: nn.Module) -> nn.ReLU | None:
    """The ReLU a layer's output comes out of: the module itself or the last of a Sequential."""
    if isinstance(module, nn.ReLU):
        return module
    if isinstance(module, nn.Sequential) and len(module) > 0:
        return final_relu(module[-1])
    return None


class RedirectedReLU(torch.autograd.Function):
    """ReLU whose gradient, when it would block everything for an image, lets through what pushes the input up.

    lucid's redirected_relu_grad (lucid/misc/redirected_relu_grad.py): a unit
    silent on the starting image would otherwise get no gradient and its image
    would never leave the grey start.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.relu(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        relu_grad = torch.where(x < 0, torch.zeros_like(grad), grad)
        # gradient descent: a positive gradient would push a negative input lower still
        redirected = torch.where((x < 0) & (grad > 0), torch.zeros_like(grad), grad)
        blocked = relu_grad.reshape(len(x), -1).norm(dim=1) == 0
        return torch.where(blocked.view(-1, *([1] * (x.ndim - 1))), redirected, relu_grad)


class UnitProbe:
    """Hooks one unit of one layer; after a forward pass, `mean` (with grad) and `max` per image.

    A layer that ends in a ReLU is read at that ReLU's input, and the ReLU is
    applied here (bit-identical to the module's, and free of in-place
    surprises); with `redirect` set, as the optimiser does, that ReLU passes
    lucid's redirected gradient.
    """

    def __init__(self, layer_module: nn.Module, unit: int, pre_relu: bool = False, layer_name: str = "the layer"):
        if isinstance(unit, bool) or not isinstance(unit, int) or unit < 0:
            raise InputError(f"a unit is a whole number of at least 0, got {unit!r} for {layer_name}")
        self.unit, self.layer_name, self.pre_relu = unit, layer_name, pre_relu
        self.redirect = False
        self.n_units: int | None = None
        self.mean: torch.Tensor | None = None
        self.max: torch.Tensor | None = None
        relu = final_relu(layer_module)
        if pre_relu and relu is None:
            raise InputError(
                f"{layer_name} ({type(layer_module).__name__}) does not end in a ReLU,"
                " so it has no pre-ReLU output; generate without pre_relu"
            )
        # the layer's output, or its final ReLU's input (the ReLU is then applied in _take)
        hooked, before = (relu, True) if relu is not None else (layer_module, False)
        self._recorder = LayerRecorder(hooked, {layer_name: ""}, lambda _, value: self._take(value, before), before)

    def _take(self, output, before_relu: bool) -> None:
        if not isinstance(output, torch.Tensor) or output.ndim not in (2, 4):
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise InputError(f"{self.layer_name} outputs {shape}; AM needs (N, C, H, W) or (N, units)")
        self.n_units = int(output.shape[1])
        if self.unit >= self.n_units:
            return  # reported by check_unit after the pass, with the layer's size
        # a copy: an in-place ReLU after this hook would rewrite a view
        values = output[:, self.unit].reshape(len(output), -1).clone()
        if before_relu and not self.pre_relu:
            values = RedirectedReLU.apply(values) if self.redirect else torch.relu(values)
        self.mean, self.max = values.mean(dim=1), values.detach().amax(dim=1)

    def check_unit(self) -> None:
        if self.n_units is None:
            raise InputError(f"{self.layer_name} did not run in the forward pass")
        if self.unit >= self.n_units:
            raise InputError(f"no unit {self.unit} in {self.layer_name} (it has units 0..{self.n_units - 1})")

    def values(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean with its gradient, max) per image of the last forward pass, the unit checked first."""
        self.check_unit()
        assert self.mean is not None and self.max is not None  # set by the pass that check_unit saw
        return self.mean, self.max

    def close(self) -> None:
        self._recorder.close()

    def __enter__(self) -> UnitProbe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
