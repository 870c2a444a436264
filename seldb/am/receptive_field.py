"""The input pixels a conv layer's centre neuron sees: where a centre-objective AM image is cropped.

PPGN (Nguyen et al. 2017) maximised a conv unit's neuron at the spatial
centre and showed only the part of the image inside that neuron's receptive
field: the rest of the canvas cannot change the neuron, so it is noise a
rater should not see. Arbitrary networks (padding, pooling, branches) make
the arithmetic of kernel sizes and strides error-prone, so the field is
found from the network itself: the pixels whose change moves the centre
neuron, i.e. where its gradient is non-zero, united over a batch of random
inputs (a ReLU or max-pool blocks a path for one input, not for all), and
given as the bounding box. tests/test_am_centre.py checks it against the
arithmetic done by hand for the demo network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seldb.am.unit_probe import Preprocess
from seldb.errors import InputError

PROBES = 16  # random inputs whose gradients are united


@dataclass(frozen=True)
class Box:
    """Rows top..bottom-1 and columns left..right-1 of the input image."""

    top: int
    left: int
    bottom: int
    right: int

    def crop(self, image):
        return image[self.top : self.bottom, self.left : self.right]


def centre_receptive_field(
    net: nn.Module, layer_module: nn.Module, size: int, prep: Preprocess, device: str = "cpu", seed: int = 0
) -> Box | None:
    """The bounding box of the input pixels that reach the centre neuron of `layer_module`'s output;
    None for a layer without space (an fc layer: its unit is its own centre, nothing to crop)."""
    kept: list[torch.Tensor] = []
    handle = layer_module.register_forward_hook(lambda module, inputs, output: kept.append(output))
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand((PROBES, 3, size, size), generator=generator).to(device).requires_grad_(True)
    try:
        net(prep(x))
    finally:
        handle.remove()
    if not kept or not isinstance(kept[-1], torch.Tensor):
        raise InputError("the layer did not run in the forward pass")
    output = kept[-1]
    if output.ndim != 4:
        return None
    h, w = output.shape[-2:]
    (grad,) = torch.autograd.grad(output[:, :, h // 2, w // 2].sum(), [x])
    reached = grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = torch.nonzero(reached.any(dim=1)).flatten(), torch.nonzero(reached.any(dim=0)).flatten()
    if len(rows) == 0:
        return Box(0, 0, size, size)  # a layer no gradient reaches: show the whole canvas
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
