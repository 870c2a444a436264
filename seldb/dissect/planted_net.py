"""A network with a unit planted on one concept, to check dissection end to end.

A unit that outputs 1 exactly on the mini dataset's red pixels and 0 elsewhere
must get IoU 1 with red-c when its map has the segmentation's resolution (the
resize is then the identity) and its threshold falls between 0 and 1 (the
quantile exceeds red's share of all pixels). The other units are seeded
random convolutions, so the tally sees ordinary, overlapping maps too.

Layers (module names): "planted" - (N, 4, H, W), unit 0 the red detector;
"pooled" - (N, 6, H/4, W/4), random features averaged over 4 x 4 blocks, so
their maps are resized; "fc" - a Linear layer (no spatial map, refused).
The input is preprocessed the NetDissect-Lite way ("netdissect"), which
the class names in `seldb_preprocess` for `seldb dissect --model-module`.
"""

from __future__ import annotations

import torch
from torch import nn

from seldb.dissect.features import NETDISSECT_MEAN_RGB, NETDISSECT_SCALE
from seldb.dissect.minibroden import PALETTE


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is not None  # made with bias=True, the default
    return conv.bias


class _Planted(nn.Module):
    mean: torch.Tensor
    concept: torch.Tensor

    def __init__(self, generator: torch.Generator, concept_rgb: tuple[int, int, int]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(NETDISSECT_MEAN_RGB).view(1, 3, 1, 1))
        self.register_buffer("concept", torch.tensor(concept_rgb, dtype=torch.float32).view(1, 3, 1, 1))
        self.random = nn.Conv2d(3, 3, 3, padding=1)
        with torch.no_grad():
            self.random.weight.copy_(torch.randn(self.random.weight.shape, generator=generator))
            _bias(self.random).copy_(torch.randn(self.random.out_channels, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = x * NETDISSECT_SCALE + self.mean  # undo the preprocessing
        # the palette colours are far apart: within 1 of every channel is exactly that colour
        detector = ((rgb - self.concept).abs() < 1.0).all(dim=1, keepdim=True).to(x.dtype)
        return torch.cat([detector, torch.relu(self.random(x))], dim=1)


class PlantedNet(nn.Module):
    seldb_preprocess = "netdissect"  # what `seldb dissect --model-module` feeds it by default

    def __init__(self, seed: int = 0, concept: str = "red-c", n_classes: int = 5):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.planted = _Planted(generator, PALETTE[concept])
        self.features = nn.Conv2d(4, 6, 3, padding=1)
        with torch.no_grad():
            self.features.weight.copy_(torch.randn(self.features.weight.shape, generator=generator) * 0.5)
            _bias(self.features).copy_(torch.randn(self.features.out_channels, generator=generator) * 0.1)
        self.pooled = nn.AvgPool2d(4)
        self.fc = nn.Linear(6, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        planted = self.planted(x)
        pooled = self.pooled(torch.relu(self.features(planted)))
        return self.fc(pooled.mean(dim=(2, 3)))
