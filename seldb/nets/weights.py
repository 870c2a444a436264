"""Loading weights files as they are really published.

Checkpoints in the wild are rarely a bare torchvision state dict: CSAIL's
Places365 `.pth.tar` files wrap it in {"state_dict": ...} with DataParallel's
`module.` inside the names (`features.module.0.weight`), Caffe conversions
use research names (`features.conv5_3.weight`, `classifier.fc8a.bias`,
`inception_4e/1x1.weight`). This module unwraps and renames them onto the
architecture's module names, then loads strictly: a file that does not fit
is an error naming the keys, never a silently half-initialised network.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import torch

from seldb.errors import InputError
from seldb.nets.registry import ModelSpec

_MODULE_SEGMENT = re.compile(r"(^|\.)module\.")
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")
_SHOW = 6  # keys listed per kind of mismatch


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint, unwrapped from the usual containers."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: not a loadable PyTorch state dict ({first}); seldb loads tensors only"
            " (torch.load weights_only=True): re-save with torch.save(model.state_dict(), FILE)"
        ) from None
    for key in _WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise InputError(f"{path}: holds no state dict (expected a dict of tensors, or one under 'state_dict')")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise InputError(f"{path}: the state dict holds no tensor")
    return tensors


def rename_keys(state: dict[str, torch.Tensor], aliases: dict[str, str]) -> dict[str, torch.Tensor]:
    """Drop DataParallel's `module.` and map research names onto module paths."""
    renamed = {}
    for key, value in state.items():
        key = _MODULE_SEGMENT.sub(r"\1", key)
        module, _, param = key.rpartition(".")
        flat = module.replace("/", "_")
        if flat in aliases:  # conv5_3.weight, inception_4e/1x1.weight
            key = f"{aliases[flat]}.{param}"
        elif flat.rpartition(".")[2] in aliases:  # features.conv5_3.weight, classifier.fc8a.bias
            key = f"{aliases[flat.rpartition('.')[2]]}.{param}"
        renamed[key] = value
    return renamed


def _mismatch_message(path: Path, what: str, missing, unexpected, wrong_shape) -> str:
    def listing(keys) -> str:
        keys = list(keys)
        more = f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else ""
        return ", ".join(keys[:_SHOW]) + more

    parts = []
    if missing:
        parts.append(f"missing from the file: {listing(missing)}")
    if unexpected:
        parts.append(f"not in the model: {listing(unexpected)}")
    if wrong_shape:
        parts.append("wrong shape: " + listing(f"{k} {tuple(f)} in file vs {tuple(m)}" for k, f, m in wrong_shape))
    return f"{path}: weights do not fit {what}: " + "; ".join(parts)


def load_weights(net: torch.nn.Module, path: str | Path, spec: ModelSpec) -> list[str]:
    """Load a weights file into net strictly; returns notes on keys deliberately dropped."""
    path = Path(path)
    state = rename_keys(read_state_dict(path), spec.key_aliases())
    expected = net.state_dict()
    notes = []
    # torchvision's GoogLeNet checkpoints carry the training-only auxiliary heads
    aux = [k for k in state if k.startswith(("aux1.", "aux2.")) and k not in expected]
    if aux:
        notes.append(f"ignored {len(aux)} auxiliary-classifier tensors (aux1/aux2: training only)")
        state = {k: v for k, v in state.items() if k not in aux}
    for key in expected:  # BatchNorm counters do not change the forward pass
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = expected[key]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        (k, state[k].shape, shape)
        for k, shape in ((k, v.shape) for k, v in expected.items())
        if k in state and state[k].shape != shape
    ]
    if missing or unexpected or wrong:
        what = f"{spec.arch} with {spec.num_classes} classes" if spec.num_classes else spec.name
        raise InputError(_mismatch_message(path, what, missing, unexpected, wrong))
    net.load_state_dict(state, strict=True)
    return notes


def hub_weights(spec: ModelSpec) -> Path:
    """The torchvision checkpoint of a registry entry, from the hub cache (downloaded when online)."""
    if spec.hub_file is None:
        raise InputError(f"{spec.name} has no published torchvision checkpoint: pass --weights FILE")
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    target = checkpoints / spec.hub_file
    if target.is_file():
        return target
    url = f"https://download.pytorch.org/models/{spec.hub_file}"
    if not _online("download.pytorch.org"):
        raise InputError(
            f"weights for {spec.name} not found and no network: put {spec.hub_file} (from {url}) in {checkpoints}"
            " (that is $TORCH_HOME/hub/checkpoints), or pass --weights FILE"
        )
    torch.hub.load_state_dict_from_url(url, model_dir=str(checkpoints), map_location="cpu", progress=True)
    return target


def _online(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False
