"""Which network `seldb dissect` runs, and what identifies it, resolved exactly as `seldb ingest` does.

A dissection may join a class-selectivity run unit for unit only when both
ran the same weights through the same module, so --model / --arch /
--model-module, the weights and the layer names go through the same code as
ingest (seldb.nets.registry, .weights, .hooks), and the identity recorded is
the one ingest records in runs.options['ingest']: the model's name, its
architecture, the weights file's SHA-256, and the module each layer name
means (conv5 = features.11). The input the weights expect comes with it:
the registry's preprocessing, or a `seldb_preprocess` attribute of a
--model-module network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from seldb.dissect.options import DissectOptions
from seldb.errors import InputError
from seldb.files import file_sha256
from seldb.nets.hooks import resolve_layers
from seldb.nets.registry import ModelSpec, build_network, resolve_spec
from seldb.nets.weights import hub_weights, load_weights


@dataclass
class Network:
    spec: ModelSpec
    net: torch.nn.Module
    modules: dict[str, str]  # layer name as asked (conv5) -> module path (features.11)
    weights: dict | None  # {"path", "sha256"} of the weights file read; None for a module with its own
    notes: list[str] = field(default_factory=list)  # weight keys deliberately dropped, as ingest reports them
    preprocess: str = "torchvision"  # the input the weights expect: the registry's, or the module's own

    def identity(self) -> dict:
        """What runs.options records about the network (the keys ingest uses), for the join check."""
        return {
            "model": self.spec.name,
            "arch": self.spec.arch,
            "model_module": self.spec.module_file,
            "weights": self.weights,
            "layer_modules": dict(self.modules),
        }


def load_network(options: DissectOptions) -> Network:
    """Build the network, load its weights and resolve the layer names; any bad input is one error line."""
    spec = resolve_spec(
        options.model, arch=options.arch, num_classes=options.num_classes, model_module=options.model_module
    )
    net = build_network(spec)
    weights = options.weights
    if weights is None and spec.hub_file:
        weights = hub_weights(spec)
    record, notes = None, []
    if weights is not None:
        notes = load_weights(net, weights, spec)
        path = Path(weights).resolve()
        record = {"path": str(path), "sha256": file_sha256(path)}
    elif not spec.module_file:  # a custom module may carry its own weights
        raise InputError(f"{spec.name} needs its weights: {spec.weights_source}")
    modules = resolve_layers(net, list(options.layers), spec.info.layer_aliases)
    return Network(spec, net.eval(), modules, record, notes, _own_preprocess(net, spec))


def _own_preprocess(net: torch.nn.Module, spec: ModelSpec) -> str:
    """The registry's kind; a --model-module network may name its own in a `seldb_preprocess` attribute."""
    from seldb.dissect.features import PREPROCESS_KINDS

    kind = getattr(net, "seldb_preprocess", None) if spec.module_file else None
    if kind is None:
        return spec.preprocess
    if kind not in PREPROCESS_KINDS:
        raise InputError(f"{spec.module_file}: seldb_preprocess {kind!r} is not one of {', '.join(PREPROCESS_KINDS)}")
    return str(kind)
