"""Where each position of a layer's map looks in the image: the receptive-field map of `--upsample receptive-field`.

The 2017 NetDissect code read each blob's field map - (offset, size, step)
per axis - from the Caffe prototxt (`upsample.composed_fieldmap`), composing
every convolution and pooling on the path to the blob (`compose_fieldmap`).
For a torch network there is no prototxt, so one image goes through it with
hooks on every leaf module, and the convolutions and poolings on the chain
that reaches the layer are composed the same way, in the order they ran.

A leaf whose input does not have the chain's current spatial size lies on a
parallel branch already accounted for (a ResNet shortcut), and is skipped;
parallel branches of the chain's size (inception's) are same-padded
odd-sized kernels with step 1, which move no receptive-field centre, the
only part the upsampling uses. A leaf of another kind that changes the map's
size, or a chain whose predicted size is not the layer's, cannot be
composed: that is one error line suggesting `--upsample bilinear`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seldb.errors import InputError

COMPOSABLE = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
IDENTITY = ((0, 0), (1, 1), (1, 1))  # offset, size, step per (y, x), as NetDissect writes them


@dataclass(frozen=True)
class FieldMap:
    offset: tuple[int, int]
    size: tuple[int, int]
    step: tuple[int, int]

    def centre(self, axis: int) -> int:
        """The first position's receptive-field centre along axis (0 = y): offset + size // 2."""
        return self.offset[axis] + self.size[axis] // 2


def _pair(value) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, tuple | list) else (int(value), int(value))


def leaf_fieldmap(module: nn.Module) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(offset, size, step) of one convolution or pooling, as 2017's `layer_fieldmap` (negative padding)."""
    kernel, stride = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
    dilation = _pair(getattr(module, "dilation", 1))
    size = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    padding = module.padding
    if isinstance(padding, str):  # "valid" or "same" (torch pads the extra pixel at the end)
        pad = (0, 0) if padding == "valid" else tuple((s - 1) // 2 for s in size)
    else:
        pad = _pair(padding)
    return (-pad[0], -pad[1]), (size[0], size[1]), stride


def compose(lower, upper):
    """2017's compose_fieldmap: `upper` applied to the output of `lower`."""
    (o1, s1, t1), (o2, s2, t2) = lower, upper
    size = tuple((b - 1) * st + a for a, st, b in zip(s1, t1, s2))
    offset = tuple(ob * st + oa for oa, st, ob in zip(o1, t1, o2))
    step = tuple(a * b for a, b in zip(t1, t2))
    return offset, size, step


def layer_fieldmaps(net: nn.Module, layers: dict[str, str], image: torch.Tensor) -> dict[str, FieldMap]:
    """{layer: FieldMap} of each layer (name -> module path) from one forward pass of `image` (1, 3, H, W)."""
    named = dict(net.named_modules())
    ran: list[tuple[str, nn.Module, tuple, tuple]] = []
    reached: dict[str, tuple[int, tuple]] = {}
    hooks = []

    def leaf_hook(name):
        def hook(module, inputs, output):
            if inputs and torch.is_tensor(inputs[0]) and torch.is_tensor(output) and output.dim() == 4:
                ran.append((name, module, tuple(inputs[0].shape[2:]), tuple(output.shape[2:])))

        return hook

    def layer_hook(layer):
        def hook(module, inputs, output):
            reached.setdefault(layer, (len(ran), tuple(output.shape[2:])))

        return hook

    for name, module in named.items():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(leaf_hook(name)))
    for layer, path in layers.items():
        hooks.append(named[path].register_forward_hook(layer_hook(layer)))
    try:
        with torch.no_grad():
            net(image)
    finally:
        for hook in hooks:
            hook.remove()
    return {
        layer: _chain(layer, ran[:count], tuple(image.shape[2:]), shape) for layer, (count, shape) in reached.items()
    }


def _chain(layer: str, ran: list, image_size: tuple, map_size: tuple) -> FieldMap:
    fieldmap, current = IDENTITY, image_size
    for name, module, size_in, size_out in ran:
        if size_in != current:
            continue  # a parallel branch from an earlier size (a shortcut)
        if isinstance(module, COMPOSABLE):
            fieldmap = compose(fieldmap, leaf_fieldmap(module))
        elif size_out != size_in:
            raise InputError(
                f"--upsample receptive-field: layer {layer}'s receptive field cannot be derived ({name},"
                f" a {type(module).__name__}, resizes the map); use --upsample bilinear"
            )
        current = size_out
    if current != map_size:
        raise InputError(
            f"--upsample receptive-field: layer {layer}'s receptive field cannot be derived (its map is"
            f" {map_size[0]}x{map_size[1]}, the chain of convolutions gives {current[0]}x{current[1]});"
            " use --upsample bilinear"
        )
    offset, size, step = fieldmap
    return FieldMap(offset, size, step)
