"""Preprocessing: turning an image file into the tensor the weights expect.

Weights trained in PyTorch expect RGB in [0, 1] normalised by ImageNet's mean
and std; weights converted from Caffe expect BGR in [0, 255] minus a per-
channel mean. Feeding one the other's input yields plausible-looking but
wrong activations, so the registry names the preprocessing of every entry and
this module implements both. The transforms are plain picklable objects so
DataLoader workers can use them.

`TensorPreprocess` is the same recipe on decoded uint8 tensors, for decoding
on the GPU (`--decode-on cuda`, seldb.ingest.device_decode): the same output
size, antialiased bilinear resize, centre crop and normalisation. It matches
the PIL path closely but not bit for bit (docs/gpu.md gives the difference).
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


class Preprocess(T.Compose):
    """A PIL transform that also names its recipe, so the tensor path can follow the same one."""

    def __init__(self, steps, kind: str, input_size: int):
        super().__init__(steps)
        self.kind, self.input_size = kind, input_size


def _resize_to(kind: str, input_size: int) -> int:
    return input_size if kind == "plain" else round(input_size * 256 / 224)


def make_transform(kind: str, input_size: int = 224) -> Preprocess:
    """Resize the short side to 256/224 of the crop, centre-crop, normalise.

    "plain" (small custom networks such as the demo's) resizes straight to the
    input size and maps [0, 1] to [-1, 1].
    """
    resize = _resize_to(kind, input_size)
    if kind == "plain":
        normalise = T.Normalize((0.5,) * 3, (0.5,) * 3)
    else:
        normalise = CaffeNormalize() if kind == "caffe" else T.Normalize(TORCHVISION_MEAN, TORCHVISION_STD)
    return Preprocess([T.Resize(resize), T.CenterCrop(input_size), T.ToTensor(), normalise], kind, input_size)


class TensorPreprocess:
    """make_transform's recipe on decoded (3, H, W) uint8 tensors, on whatever device they are.

    Images differ in size, so resize and crop run per image; the conversion
    to float and the normalisation run once on the stacked batch.
    """

    def __init__(self, kind: str, input_size: int):
        if kind not in KINDS:
            raise ValueError(f"unknown preprocessing {kind!r}")
        self.kind, self.input_size, self.resize = kind, input_size, _resize_to(kind, input_size)

    def __call__(self, images: list[torch.Tensor]) -> torch.Tensor:
        from torchvision.transforms import functional as F

        crops = [F.center_crop(F.resize(image, [self.resize], antialias=True), [self.input_size]) for image in images]
        x = torch.stack(crops).float().div_(255.0)  # what ToTensor does
        if self.kind == "plain":
            return x.sub_(0.5).div_(0.5)
        if self.kind == "caffe":
            return x.flip(1).mul_(255.0).sub_(_column(CAFFE_MEAN_BGR, x))
        return x.sub_(_column(TORCHVISION_MEAN, x)).div_(_column(TORCHVISION_STD, x))


def _column(values, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)


def recorded_kind(record: dict) -> str | None:
    """The preprocessing kind a run's record names: `preprocess_kind` (ingest), else the kind read from
    ingest's one-line description, else a dissection's own `preprocess`; None when it names none."""
    if record.get("preprocess_kind"):
        return str(record["preprocess_kind"])
    text = str(record.get("preprocess") or "")
    if text in KINDS or text == "netdissect":
        return text
    if text.endswith("RGB mapped to [-1, 1]"):
        return "plain"
    if "centre crop" in text:
        return "caffe" if ", BGR " in text else "torchvision"
    return None


def describe(kind: str, input_size: int) -> str:
    """One line for the run's record."""
    if kind == "plain":
        return f"resize {input_size}, RGB mapped to [-1, 1]"
    resize = _resize_to(kind, input_size)
    if kind == "caffe":
        return f"resize {resize}, centre crop {input_size}, BGR 0-255 minus mean {CAFFE_MEAN_BGR}"
    return f"resize {resize}, centre crop {input_size}, RGB normalised by mean {TORCHVISION_MEAN} std {TORCHVISION_STD}"
