"""The image being optimised: a Fourier-space, colour-decorrelated parameterisation.

Gradient ascent on raw pixels finds high-frequency patterns that excite a
unit but look like noise. Olah et al. (2017, "Feature Visualization") make
the optimisation see a better-conditioned space instead: the image's
spectrum, scaled by 1/frequency so that every frequency moves at a similar
rate, and colours in a decorrelated basis (the square root of ImageNet's
colour correlation) squashed into [0, 1] by a sigmoid. This module is that
parameterisation as lucid / lucent define it (lucid/optvis/param/spatial.py
fft_image, color.py), written with a seeded generator of its own so that
nothing global is read or changed.
"""

from __future__ import annotations

import numpy as np
import torch

# lucid's sqrt of ImageNet's colour correlation (color.py), columns normalised to a max norm of 1
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
COLOR_CORRELATION_NORMALIZED = COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))
INIT_SD = 0.01  # lucid's default spectrum standard deviation
DECAY_POWER = 1.0
MAGIC = 4.0  # lucid divides the spatial image by 4 ("reduces saturation")


def spectrum_scale(h: int, w: int, decay_power: float = DECAY_POWER) -> np.ndarray:
    """1 / max(|frequency|, 1/max(h, w)) ** decay_power over the rfft2 grid, shape (h, w // 2 + 1)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    return (1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power).astype(np.float32)


class FourierImage:
    """One image of `channels` x size x size, parameterised by its (scaled) spectrum.

    `channels` is 3 (decorrelated colour) or 1 (grey, repeated to RGB for
    networks trained on grey images). `rgb()` gives (1, 3, size, size) in [0, 1].
    """

    def __init__(
        self,
        size: int,
        channels: int,
        generator: torch.Generator,
        device: str | torch.device = "cpu",
        init_sd: float = INIT_SD,
    ):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.size, self.channels = size, channels
        shape = (1, channels, size, size // 2 + 1, 2)  # real and imaginary parts
        # drawn on the CPU generator whatever the device, so CPU and CUDA start from the same image
        init = torch.randn(shape, generator=generator, dtype=torch.float32) * init_sd
        self.spectrum = init.to(device).requires_grad_(True)
        self._scale = torch.from_numpy(spectrum_scale(size, size))[None, None, :, :, None].to(device)

    def parameters(self) -> list[torch.Tensor]:
        return [self.spectrum]

    def spatial(self) -> torch.Tensor:
        """The unsquashed image (1, channels, size, size), before colour mapping."""
        scaled = torch.view_as_complex(self._scale * self.spectrum)
        return torch.fft.irfftn(scaled, s=(self.size, self.size), dim=(-2, -1), norm="ortho") / MAGIC

    def rgb(self) -> torch.Tensor:
        image = self.spatial()
        if self.channels == 1:
            return torch.sigmoid(image).expand(-1, 3, -1, -1)
        matrix = torch.from_numpy(COLOR_CORRELATION_NORMALIZED.T).to(image.device)
        decorrelated = torch.einsum("bchw,cd->bdhw", image, matrix)
        return torch.sigmoid(decorrelated)


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) uint8, rounded to nearest."""
    array = rgb.detach().to("cpu", torch.float32)[0].permute(1, 2, 0).numpy()
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
