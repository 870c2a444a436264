"""The demo's generator prior: a small network that draws digits from the demo CNN's fc1 code.

PPGN samples in the code space of a generator G trained to invert an
encoder E: for Nguyen et al. (2017), E is CaffeNet up to fc6 and G maps fc6
codes back to images. The demo does the same at digit scale so that
`seldb am --generator seldb.demo_generator:digit_generator` runs offline:
E is the demo CNN up to fc1 (64 post-ReLU numbers, frozen), and G is trained
here on the demo's 5,000 MNIST digits to reconstruct each digit from its
code, with PPGN's pixel and feature losses (the image, and E of the image,
close to the original's) but without its adversarial loss. Training is
seeded and single-threaded; the first use after `seldb demo` does it (about a
minute on one core) and keeps `digit_generator.pth` beside the CNN's weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seldb.errors import InputError
from seldb.settings import get_settings

log = logging.getLogger("seldb.am")
CODE = 64  # the demo CNN's fc1
EPOCHS = 8
SEED = 0
FEATURE_WEIGHT = 1e-3  # the feature loss's scale next to the pixel loss (fc1 values reach ~30)


def build_decoder() -> nn.Module:
    """64 -> (1, 28, 28) in [0, 1]: two transposed convolutions up from 7 x 7."""
    return nn.Sequential(
        nn.Linear(CODE, 64 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 1, 3, padding=1),
        nn.Sigmoid(),
    )


class DigitGenerator(nn.Module):
    """G (code -> grey digit as RGB in [0, 1]) with its encoder E (the demo CNN up to fc1, frozen)."""

    code_shape = (CODE,)
    code_range = (0.0, 30.0)

    def __init__(self, decoder: nn.Module, cnn: nn.Module):
        super().__init__()
        self.decoder = decoder
        self.encoder = nn.Sequential(*list(cnn.children())[:6])  # conv1 .. fc1 (post-ReLU)
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(h).expand(-1, 3, -1, -1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """E: RGB in [0, 1] -> fc1 code, through the demo's "plain" preprocessing."""
        return self.encoder((images - 0.5) / 0.5)


def train_generator(images: np.ndarray, cnn_weights: Path, path: Path) -> None:
    """Fit G to invert E on the digits (uint8 (N, 28, 28)); deterministic, one thread."""
    from seldb.demo import _as_inputs, build_network

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(SEED)
        cnn = build_network()
        cnn.load_state_dict(torch.load(cnn_weights))
        model = DigitGenerator(build_decoder(), cnn.eval()).eval()
        x = _as_inputs(images).mul(0.5).add(0.5)  # RGB in [0, 1]
        with torch.no_grad():
            codes = model.encode(x)
        optimiser = torch.optim.Adam(model.decoder.parameters(), lr=2e-3)
        order = torch.Generator().manual_seed(SEED)
        for _ in range(EPOCHS):
            for batch in torch.randperm(len(x), generator=order).split(50):
                optimiser.zero_grad()
                made = model(codes[batch])
                loss = nn.functional.mse_loss(made, x[batch])
                loss = loss + FEATURE_WEIGHT * nn.functional.mse_loss(model.encode(made), codes[batch])
                loss.backward()
                optimiser.step()
        tmp = path.with_name(path.name + ".tmp")
        torch.save(model.decoder.state_dict(), tmp)
        tmp.replace(path)
    finally:
        torch.set_num_threads(threads)


def digit_generator(work_dir: str | Path | None = None) -> DigitGenerator:
    """The demo generator (`--generator seldb.demo_generator:digit_generator`) for the CNN `seldb demo`
    trained: <data dir>/demo/digit_generator.pth, trained on first use from the demo's digits."""
    from seldb.demo import build_network, load_digits

    work = Path(work_dir) if work_dir is not None else get_settings().data_dir / "demo"
    cnn_path, decoder_path = work / "digit_cnn.pth", work / "digit_generator.pth"
    if not cnn_path.is_file():
        raise InputError(f"the demo generator inverts the demo CNN, and {cnn_path} is not there: run seldb demo first")
    if not decoder_path.is_file():
        log.warning("training the demo generator on the demo's digits (once; about a minute on one core)")
        train_generator(load_digits()[0], cnn_path, decoder_path)
    cnn = build_network()
    cnn.load_state_dict(torch.load(cnn_path))
    decoder = build_decoder()
    decoder.load_state_dict(torch.load(decoder_path))
    return DigitGenerator(decoder, cnn.eval()).eval()
