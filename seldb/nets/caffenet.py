"""CaffeNet (BVLC's bvlc_reference_caffenet), the network of the paper's activation-maximisation study.

CaffeNet is AlexNet as BVLC trained it in Caffe, and is not torchvision's
AlexNet: 96/256/384/384/256 filters (torchvision's "one weird trick" has
64/192/384/256/256), convolutions 2, 4 and 5 in two groups, local response
normalisation after the first two poolings (pool then norm, where the
original AlexNet normalised first), pooling that rounds up, and no padding in
conv1. This module reproduces its deploy.prototxt layer by layer so that a
converted caffemodel loads unchanged and every unit keeps its Caffe index
(conv5 unit 17 is Caffe's channel 17 of blob conv5). Modules are named after
Caffe's layers (conv1 ... fc8) and `CAFFE_KEYS` maps the converted blob names
(conv1.weight, fc6.bias) onto them; each convN / fc6 / fc7 module's output is
Caffe's blob after its in-place ReLU.
"""

from __future__ import annotations

import torch
from torch import nn

from seldb.nets.caffe_googlenet import ConvReLU


class LinearReLU(nn.Module):
    """Caffe's inner product + in-place ReLU pair; the module's output is the post-ReLU blob."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.linear = nn.Linear(c_in, c_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.linear(x))


def _grouped(c_in: int, c_out: int, kernel: int, padding: int) -> ConvReLU:
    block = ConvReLU(c_in, c_out, kernel, padding=padding)
    block.conv = nn.Conv2d(c_in, c_out, kernel, padding=padding, groups=2)  # Caffe's group: 2
    return block


class CaffeNet(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = ConvReLU(3, 96, 11, stride=4)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.conv2 = _grouped(96, 256, 5, padding=2)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.conv3 = ConvReLU(256, 384, 3, padding=1)
        self.conv4 = _grouped(384, 384, 3, padding=1)
        self.conv5 = _grouped(384, 256, 3, padding=1)
        self.pool5 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.fc6 = LinearReLU(256 * 6 * 6, 4096)
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = LinearReLU(4096, 4096)
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(4096, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(self.pool1(self.conv1(x)))
        x = self.norm2(self.pool2(self.conv2(x)))
        x = self.pool5(self.conv5(self.conv4(self.conv3(x))))
        x = self.drop7(self.fc7(self.drop6(self.fc6(torch.flatten(x, 1)))))
        return self.fc8(x)


# converted caffemodel blob name -> module path (fc8 is already a module's name)
CAFFE_KEYS = {f"conv{i}": f"conv{i}.conv" for i in range(1, 6)} | {"fc6": "fc6.linear", "fc7": "fc7.linear"}
