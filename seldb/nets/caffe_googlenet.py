"""Caffe's GoogLeNet (BVLC / Places365), which is not torchvision's GoogLeNet.

The Places365 GoogLeNet was trained in Caffe: local response normalisation
after the first two stages, no BatchNorm, true 5x5 convolutions in the
inception modules (torchvision uses 3x3 there) and pooling that rounds up.
Loading its converted weights into torchvision's module would either fail or
silently compute something else, so this module reproduces the Caffe
deploy.prototxt layer by layer. Module names follow torchvision's
(`inception4e`, `branch2`, ...) so the paper's layer names work unchanged,
and `CAFFE_KEYS` maps Caffe's blob names (`inception_4e/3x3_reduce`) onto them.
"""

from __future__ import annotations

import torch
from torch import nn

# (in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) from the Caffe prototxt
INCEPTIONS = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


class ConvReLU(nn.Module):
    """Caffe's conv + in-place ReLU pair; the module's output is the post-ReLU blob."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class Inception(nn.Module):
    def __init__(self, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int):
        super().__init__()
        self.branch1 = ConvReLU(c_in, c1, 1)
        self.branch2 = nn.Sequential(ConvReLU(c_in, c3r, 1), ConvReLU(c3r, c3, 3, padding=1))
        self.branch3 = nn.Sequential(ConvReLU(c_in, c5r, 1), ConvReLU(c5r, c5, 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), ConvReLU(c_in, cp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class CaffeGoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = ConvReLU(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.conv2 = ConvReLU(64, 64, 1)
        self.conv3 = ConvReLU(64, 192, 3, padding=1)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a, self.inception3b = (Inception(*INCEPTIONS[k]) for k in ("3a", "3b"))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for k in ("4a", "4b", "4c", "4d", "4e"):
            self.add_module(f"inception{k}", Inception(*INCEPTIONS[k]))
        self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception5a, self.inception5b = (Inception(*INCEPTIONS[k]) for k in ("5a", "5b"))
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # Caffe's 7x7 average at 224 px, any size here
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lrn1(self.maxpool1(self.conv1(x)))
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for k in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, f"inception{k}")(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def _caffe_keys() -> dict[str, str]:
    """Caffe blob name ('/' written as '_') -> module path in CaffeGoogLeNet."""
    keys = {
        "conv1_7x7_s2": "conv1.conv",
        "conv2_3x3_reduce": "conv2.conv",
        "conv2_3x3": "conv3.conv",
        "loss3_classifier": "fc",
    }
    for k in INCEPTIONS:
        parts = {
            "1x1": "branch1",
            "3x3_reduce": "branch2.0",
            "3x3": "branch2.1",
            "5x5_reduce": "branch3.0",
            "5x5": "branch3.1",
            "pool_proj": "branch4.1",
        }
        for caffe, path in parts.items():
            keys[f"inception_{k}_{caffe}"] = f"inception{k}.{path}.conv"
    return keys


CAFFE_KEYS = _caffe_keys()
