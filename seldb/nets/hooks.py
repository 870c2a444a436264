"""Recording layers: the one forward-hook recorder that ingest, dissection and AM read layers through.

Two traps make "the activations of conv5" easy to get wrong. torchvision's
ReLUs are in place, so a reference to a conv module's output taken in a hook
holds post-ReLU values by the time the forward pass ends; and a conv map must
be reduced per image (spatial max or mean) to one number per unit. Every
hook therefore hands its output to a capture function at once, which reduces
or copies it, so a module's name records exactly that module's output:
`features.10` is AlexNet's conv5 before the ReLU, `features.11` (alias
`conv5`) after it. Ingest captures per-unit numbers (`Reduce`), dissection
whole maps (`copy_maps`), AM one unit with its gradient (seldb.am.unit_probe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from seldb.errors import InputError

REDUCTIONS = ("max", "mean")


def valid_layer_names(net: torch.nn.Module, aliases: dict[str, str]) -> list[str]:
    return list(aliases) + [name for name, _ in net.named_modules() if name]


def resolve_layers(net: torch.nn.Module, requested: list[str], aliases: dict[str, str]) -> dict[str, str]:
    """Stored layer name -> module name; an unknown name gets the list of valid ones."""
    modules = dict(net.named_modules())
    resolved = {}
    for name in requested:
        module = aliases.get(name, name)
        if not name or module not in modules or module == "":
            raise InputError(f"layer {name!r} is not in the model; valid names: {_valid_listing(net, aliases)}")
        resolved[name] = module
    if not resolved:
        raise InputError(
            f"no layer to record (no default layers known for this network: pass --layers);"
            f" valid names: {_valid_listing(net, aliases)}"
        )
    return resolved


def _valid_listing(net: torch.nn.Module, aliases: dict[str, str]) -> str:
    names = [n for n in valid_layer_names(net, aliases) if n.count(".") <= 1]
    deeper = sum(1 for n, _ in net.named_modules() if n.count(".") > 1)
    listing = ", ".join(dict.fromkeys(names))
    return listing + (f" (and {deeper} deeper module names, see model.named_modules())" if deeper else "")


Capture = Callable[[str, torch.Tensor], Any]


class Reduce:
    """Ingest's capture: one number per unit and image (a conv map reduced by max or mean), copied at once."""

    def __init__(self, reduce: str = "max"):
        if reduce not in REDUCTIONS:
            raise InputError(f"--reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        self.reduce = reduce
        self.reductions: dict[str, str] = {}  # layer -> what was done to it: max, mean or none

    def __call__(self, name: str, output: Any) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise InputError(f"layer {name!r} outputs {type(output).__name__}, not a tensor; pick another module")
        if output.ndim == 4:  # (batch, channels, height, width): one number per channel
            self.reductions[name] = self.reduce
            flat = output.detach().flatten(2)
            return flat.amax(dim=2) if self.reduce == "max" else flat.mean(dim=2)
        if output.ndim == 2:  # fully connected; copy now, an in-place ReLU may follow
            self.reductions[name] = "none"
            return output.detach().clone()
        raise InputError(f"layer {name!r} outputs shape {tuple(output.shape)}; seldb records (N, C, H, W) or (N, U)")


def copy_maps(name: str, output: Any) -> np.ndarray:
    """Dissection's capture: a float32 copy of an (N, C, H, W) map (a copy now: an in-place ReLU may follow)."""
    if not isinstance(output, torch.Tensor):
        raise InputError(f"layer {name!r} outputs {type(output).__name__}, not a tensor: pick another module")
    if output.ndim != 4:
        raise InputError(
            f"layer {name!r} outputs shape {tuple(output.shape)}:"
            " no spatial map to dissect; Network Dissection needs an (N, C, H, W) layer"
        )
    return output.detach().to("cpu", torch.float32, copy=True).numpy()


class LayerRecorder:
    """Hooks on the chosen modules; after a forward pass `take()` returns what `capture` made of each output.

    `capture` is "max" or "mean" (ingest's per-unit numbers, see Reduce) or any
    function (layer name, output) -> value, run inside the hook. With `before`,
    a module's input is captured instead of its output (a ReLU's input is the
    layer before it, read before an in-place ReLU can change it). Use the
    recorder as a context manager (or call close()): the hooks stay on the
    network until then, and a network with stale hooks records forever.
    """

    def __init__(self, net: nn.Module, layers: dict[str, str], capture: str | Capture = "max", before: bool = False):
        modules = dict(net.named_modules())  # "" is net itself
        self.layers = layers
        self.capture: Capture = Reduce(capture) if isinstance(capture, str) else capture
        self._values: dict[str, Any] = {}
        if before:
            self._handles = [
                modules[path].register_forward_pre_hook(self._pre_hook(name)) for name, path in layers.items()
            ]
        else:
            self._handles = [modules[path].register_forward_hook(self._hook(name)) for name, path in layers.items()]

    @property
    def reductions(self) -> dict[str, str]:
        """What ingest's capture did to each layer (max, mean or none)."""
        return getattr(self.capture, "reductions", {})

    def _hook(self, name: str):
        def record(module, inputs, output):
            # a module called twice in one pass (ResNet's shared ReLU) keeps its last call
            self._values[name] = self.capture(name, output)

        return record

    def _pre_hook(self, name: str):
        def record(module, inputs):
            self._values[name] = self.capture(name, inputs[0])

        return record

    def take(self) -> dict[str, Any]:
        missing = [name for name in self.layers if name not in self._values]
        if missing:
            raise InputError(f"layer(s) {', '.join(missing)} did not run in the forward pass")
        values, self._values = self._values, {}
        return values

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> LayerRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
