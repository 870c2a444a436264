"""Which torch device a network runs on: `--device` checked once, in the same words for every command."""

from __future__ import annotations

import re

import torch

from seldb.errors import InputError


def resolve_device(device: str | None) -> str:
    """cpu, cuda or cuda:N; None or "auto" is cuda when it is there, else cpu."""
    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise InputError(f"--device must be cpu, cuda or cuda:N (N a GPU number), got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    if not device.startswith(("cpu", "cuda")):
        raise InputError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    return device
