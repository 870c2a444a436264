"""Recording layers: forward hooks that capture what a layer name means.

Two traps make "the activations of conv5" easy to get wrong. torchvision's
ReLUs are in place, so a reference to a conv module's output taken in a hook
holds post-ReLU values by the time the forward pass ends; and a conv map must
be reduced per image (spatial max or mean) to one number per unit. The hook
therefore reduces or copies its output at once, so a module's name records
exactly that module's output: `features.10` is AlexNet's conv5 before the
ReLU, `features.11` (alias `conv5`) after it.
"""

from __future__ import annotations

import torch

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


class LayerRecorder:
    """Hooks on the requested modules; `take()` returns one (batch, units) tensor per layer.

    Use it as a context manager (or call close()): the hooks stay on the
    network until then, and a network with stale hooks records forever.
    """

    def __init__(self, net: torch.nn.Module, layers: dict[str, str], reduce: str = "max"):
        if reduce not in REDUCTIONS:
            raise InputError(f"--reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        self.layers = layers
        self.reduce = reduce
        self.reductions: dict[str, str] = {}
        self._values: dict[str, torch.Tensor] = {}
        modules = dict(net.named_modules())
        self._handles = [modules[module].register_forward_hook(self._hook(name)) for name, module in layers.items()]

    def _hook(self, name: str):
        def record(module, inputs, output):
            # a module called twice in one pass (ResNet's shared ReLU) keeps its last call
            self._values[name] = self._reduce(name, output)

        return record

    def _reduce(self, name: str, output) -> torch.Tensor:
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

    def take(self) -> dict[str, torch.Tensor]:
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
