"""Tiny generator priors for the tests of `seldb am --generator` (MODULE:FN, imported by name).

Linear maps, so that one step of PPGN's update can be worked out by hand:
G(h) = A h reshaped to (3, size, size), E(x) = C x flattened.
"""

from __future__ import annotations

import torch
from torch import nn

SIZE = 28
CODE = 6


class LinearGenerator(nn.Module):
    code_shape = (CODE,)

    def __init__(self, size: int = SIZE, seed: int = 1):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.size = size
        self.A = nn.Parameter(torch.randn(3 * size * size, CODE, generator=g) * 0.05, requires_grad=False)
        self.C = nn.Parameter(torch.randn(CODE, 3 * size * size, generator=g) * 0.01, requires_grad=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (0.5 + h @ self.A.T).reshape(len(h), 3, self.size, self.size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images.reshape(len(images), -1) @ self.C.T


def tiny_generator() -> nn.Module:
    return LinearGenerator()


def wrong_size_generator() -> nn.Module:
    return LinearGenerator(size=16)


def _net_like() -> object:
    return object()  # not a module: refused
