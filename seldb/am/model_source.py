"""The network behind a run, rebuilt from what `seldb ingest` recorded, for AM on that run's units.

AM needs the model itself, not its activations. A run made by `seldb ingest`
records in its provenance the model (registry name, architecture or module),
the weights file with its sha256, each layer's module and the preprocessing;
from that the network is rebuilt here exactly as it was recorded, and a
weights file that has changed since is refused rather than silently used. A
run imported from an activation file (`seldb import-h5`) carries no model:
that is one clear error, before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from seldb.errors import InputError


@dataclass
class RebuiltModel:
    net: nn.Module
    layer_modules: dict[str, str]  # stored layer name -> module name, as recorded
    preprocess: str  # an ingest preprocessing kind: torchvision | caffe | plain
    input_size: int
    model: str

    def module(self, layer: str) -> nn.Module:
        if layer not in self.layer_modules:
            raise InputError(f"layer {layer!r} is not in this run (layers: {', '.join(self.layer_modules)})")
        return dict(self.net.named_modules())[self.layer_modules[layer]]


def preprocessing(ingest: dict) -> tuple[str, int]:
    """(kind, input size): explicit keys when recorded, else read from the recorded description."""
    if "preprocess_kind" in ingest and "input_size" in ingest:
        return str(ingest["preprocess_kind"]), int(ingest["input_size"])
    text = str(ingest.get("preprocess", ""))
    plain = re.fullmatch(r"resize (\d+), RGB mapped to \[-1, 1\]", text)
    if plain:
        return "plain", int(plain.group(1))
    crop = re.search(r"centre crop (\d+), (BGR|RGB)", text)
    if crop:
        return ("caffe" if crop.group(2) == "BGR" else "torchvision"), int(crop.group(1))
    raise InputError(f"the run does not say how its images were preprocessed (recorded: {text!r})")


def _spec(ingest: dict):
    from seldb.nets.registry import REGISTRY, resolve_spec

    if ingest.get("model_module"):
        return resolve_spec(model_module=ingest["model_module"])
    if ingest.get("model") in REGISTRY:
        return resolve_spec(ingest["model"])
    if ingest.get("arch") and ingest.get("num_outputs"):
        return resolve_spec(arch=ingest["arch"], num_classes=int(ingest["num_outputs"]))
    raise InputError(f"the run names no model that seldb can build (model {ingest.get('model')!r})")


def _load(net: nn.Module, spec, weights: dict | None, run: str) -> None:
    from seldb.files import file_sha256
    from seldb.nets.weights import load_weights

    if weights is None:
        if not spec.module_file:
            raise InputError(f"{run} records no weights file for {spec.name}; its model cannot be rebuilt")
        return  # a model module that carries its own weights, as at ingest
    path = Path(weights["path"])
    if not path.is_file():
        raise InputError(f"{run}: the weights file {path} is gone; put it back to generate AM images")
    if file_sha256(path) != weights.get("sha256"):
        raise InputError(
            f"{run}: {path} has changed since the run was recorded (sha256 differs); AM images"
            " would not show the recorded network"
        )
    load_weights(net, path, spec)


def rebuild_model(provenance: dict | None, run: str = "the run") -> RebuiltModel:
    """The run's network in eval mode, with its weights checked; InputError when it cannot be rebuilt."""
    from seldb.nets.registry import build_network

    ingest = (provenance or {}).get("ingest")
    if not isinstance(ingest, dict) or not ingest.get("layer_modules"):
        source = (provenance or {}).get("source", "an activation file")
        raise InputError(f"{run} was imported from {source} with no model; AM needs a run made by `seldb ingest`")
    spec = _spec(ingest)
    kind, size = preprocessing(ingest)
    net = build_network(spec)
    _load(net, spec, ingest.get("weights"), run)
    modules = dict(net.named_modules())
    layers = {str(k): str(v) for k, v in ingest["layer_modules"].items()}
    lost = [f"{k} ({v})" for k, v in layers.items() if v not in modules]
    if lost:
        raise InputError(f"{run}: the rebuilt {spec.name} has no module for {', '.join(lost)}")
    return RebuiltModel(net.eval(), layers, kind, size, spec.name)
