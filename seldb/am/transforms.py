"""Random jitter, scale and rotation applied to the image at every step.

An image that excites a unit only at one exact pixel alignment is an
adversarial pattern, not a picture of what the unit responds to; asking the
image to work under small random shifts, zooms and rotations is the
"transformation robustness" regulariser of Olah et al. (2017). The sequence
and magnitudes are lucid's `standard_transforms` for 224-pixel images (pad 12
with grey, jitter 8, scale 0.9-1.1, rotate -10..10 degrees with extra weight
on 0, jitter 4), scaled to the image size; every random choice comes from
the caller's torch.Generator, so a seed fixes them all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

REFERENCE_SIZE = 224  # the image size lucid's magnitudes were chosen for
SCALES = tuple(1 + (i - 5) / 50.0 for i in range(11))
ANGLES = tuple(range(-10, 11)) + (0,) * 5


@dataclass(frozen=True)
class TransformSpec:
    """Magnitudes in pixels of the image being optimised (recorded with each AM image)."""

    pad: int
    jitter: int
    scales: tuple[float, ...]
    angles: tuple[int, ...]
    jitter_after: int

    @classmethod
    def for_size(cls, size: int) -> TransformSpec:
        """lucid's 224-pixel values in proportion, at least one pixel each (a 28-pixel image gets 2, 1, 1)."""
        f = size / REFERENCE_SIZE
        return cls(
            pad=max(1, round(12 * f)),
            jitter=max(1, round(8 * f)),
            scales=SCALES,
            angles=ANGLES,
            jitter_after=max(1, round(4 * f)),
        )

    def describe(self) -> dict:
        return {
            **asdict(self),
            "scales": [min(self.scales), max(self.scales)],
            "angles": [min(self.angles), max(self.angles)],
        }


def _choice(n: int, generator: torch.Generator) -> int:
    return int(torch.randint(n, (1,), generator=generator).item())


def jitter(image: torch.Tensor, d: int, generator: torch.Generator) -> torch.Tensor:
    """A random crop d pixels smaller in each direction (lucid's jitter: tf.random_crop)."""
    h, w = image.shape[-2:]
    dy, dx = _choice(d + 1, generator), _choice(d + 1, generator)
    return image[..., dy : dy + h - d, dx : dx + w - d]


def scale(image: torch.Tensor, factor: float) -> torch.Tensor:
    h, w = image.shape[-2:]
    size = (max(1, int(factor * h)), max(1, int(factor * w)))  # lucid casts to int32: truncation
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


def rotate(image: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotation about the centre, bilinear, zeros outside (as tfa.image.rotate)."""
    if degrees == 0:
        return image
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[[cos, -sin, 0.0], [sin, cos, 0.0]]], dtype=image.dtype, device=image.device)
    grid = F.affine_grid(theta.expand(image.shape[0], -1, -1), list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_transform(image: torch.Tensor, spec: TransformSpec, generator: torch.Generator) -> torch.Tensor:
    """pad -> jitter -> scale -> rotate -> jitter -> back to the input size (the network's)."""
    size = image.shape[-2:]
    x = F.pad(image, [spec.pad] * 4, mode="constant", value=0.5)
    x = jitter(x, spec.jitter, generator)
    x = scale(x, spec.scales[_choice(len(spec.scales), generator)])
    x = rotate(x, spec.angles[_choice(len(spec.angles), generator)])
    x = jitter(x, spec.jitter_after, generator)
    # lucent ends by resizing too: networks with fully connected layers need their exact input size
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
