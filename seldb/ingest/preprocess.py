"""Preprocessing: turning an image file into the tensor the weights expect.

Weights trained in PyTorch expect RGB in [0, 1] normalised by ImageNet's mean
and std; weights converted from Caffe expect BGR in [0, 255] minus a per-
channel mean. Feeding one the other's input yields plausible-looking but
wrong activations, so the registry names the preprocessing of every entry and
this module implements both. The transforms are plain picklable objects so
DataLoader workers can use them.
"""

from __future__ import annotations

import torch
from torchvision import transforms as T

TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # ImageNet's pixel mean, as in the Caffe model zoo


class CaffeNormalize:
    """RGB [0, 1] tensor -> BGR [0, 255] minus the per-channel mean."""

    def __init__(self, mean_bgr=CAFFE_MEAN_BGR):
        self.mean = torch.tensor(mean_bgr).view(3, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(0) * 255.0 - self.mean


KINDS = ("torchvision", "caffe", "plain")


def make_transform(kind: str, input_size: int = 224):
    """Resize the short side to 256/224 of the crop, centre-crop, normalise.

    "plain" (small custom networks such as the demo's) resizes straight to the
    input size and maps [0, 1] to [-1, 1].
    """
    if kind == "plain":
        to_signed = T.Normalize((0.5,) * 3, (0.5,) * 3)
        return T.Compose([T.Resize(input_size), T.CenterCrop(input_size), T.ToTensor(), to_signed])
    resize = round(input_size * 256 / 224)
    normalise = CaffeNormalize() if kind == "caffe" else T.Normalize(TORCHVISION_MEAN, TORCHVISION_STD)
    return T.Compose([T.Resize(resize), T.CenterCrop(input_size), T.ToTensor(), normalise])


def describe(kind: str, input_size: int) -> str:
    """One line for the run's record."""
    if kind == "plain":
        return f"resize {input_size}, RGB mapped to [-1, 1]"
    resize = round(input_size * 256 / 224)
    if kind == "caffe":
        return f"resize {resize}, centre crop {input_size}, BGR 0-255 minus mean {CAFFE_MEAN_BGR}"
    return f"resize {resize}, centre crop {input_size}, RGB normalised by mean {TORCHVISION_MEAN} std {TORCHVISION_STD}"
