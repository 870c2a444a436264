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


def _crops(x: torch.Tensor, d: int, offsets: list[tuple[int, int]]) -> torch.Tensor:
    """Per-image crops d pixels smaller, image i starting at offsets[i] = (dy, dx).

    Every distinct offset is one slice of the whole batch (a view); rows take theirs by torch.where,
    so forward and backward are a few elementwise passes and each value is copied, never computed.
    """
    h, w = x.shape[-2:]
    present = sorted(set(offsets))
    dy, dx = present[0]
    out = x[..., dy : dy + h - d, dx : dx + w - d]
    if len(present) > 8:  # many distinct offsets (a large image): one slice per image
        return torch.stack([x[i, :, a : a + h - d, b : b + w - d] for i, (a, b) in enumerate(offsets)])
    for dy, dx in present[1:]:
        mask = torch.tensor([o == (dy, dx) for o in offsets], device=x.device).view(-1, 1, 1, 1)
        out = torch.where(mask, x[..., dy : dy + h - d, dx : dx + w - d], out)
    return out


def batch_transform(images: torch.Tensor, spec: TransformSpec, generators: list[torch.Generator]) -> torch.Tensor:
    """`random_transform` of every image with its own generator, in a few batched calls.

    Each generator draws exactly what random_transform would draw for its image, in the same order
    (jitter, scale, angle, jitter), so image i is random_transform(images[i:i+1], spec, generators[i]);
    images that drew the same scale share the resizing calls, rotated ones one grid_sample.
    """
    draws = []
    for g in generators:
        first = (_choice(spec.jitter + 1, g), _choice(spec.jitter + 1, g))
        factor, angle = spec.scales[_choice(len(spec.scales), g)], spec.angles[_choice(len(spec.angles), g)]
        second = (_choice(spec.jitter_after + 1, g), _choice(spec.jitter_after + 1, g))
        draws.append((first, factor, angle, second))
    size = tuple(images.shape[-2:])
    x = F.pad(images, [spec.pad] * 4, mode="constant", value=0.5)
    x = _crops(x, spec.jitter, [d[0] for d in draws])
    parts: list[torch.Tensor] = []
    order: list[int] = []
    for factor in sorted({d[1] for d in draws}):
        rows = [i for i, d in enumerate(draws) if d[1] == factor]
        group = x if len(rows) == len(draws) else x.index_select(0, torch.tensor(rows, device=x.device))
        group = scale(group, factor)
        turned = [j for j, i in enumerate(rows) if draws[i][2] != 0]
        if turned:
            index = torch.tensor(turned, device=x.device)
            rotated = _rotate_each(group.index_select(0, index), [draws[rows[j]][2] for j in turned])
            group = group.index_copy(0, index, rotated)  # angle 0 rows untouched (rotate() skips them too)
        group = _crops(group, spec.jitter_after, [draws[i][3] for i in rows])
        parts.append(F.interpolate(group, size=size, mode="bilinear", align_corners=False))
        order.extend(rows)
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    if order == sorted(order):
        return out
    back = torch.empty(len(order), dtype=torch.long)
    back[torch.tensor(order)] = torch.arange(len(order))
    return out.index_select(0, back.to(out.device))


def _rotate_each(images: torch.Tensor, degrees: list[int]) -> torch.Tensor:
    """`rotate` of each image by its own angle: one affine grid and one grid_sample."""
    angles = torch.tensor([math.radians(a) for a in degrees], dtype=torch.float64)
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    theta = theta.to(images.dtype).to(images.device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
