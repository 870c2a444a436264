"""The dataset's mean image: the reference input against which an AM image's activation is read.

An activation of 40 means little alone; the unit's activation for the
average image of the dataset the run used says what "ordinary input" gives.
The mean is taken over the images as the ingest feeds them (the same resize
and centre crop, before normalisation), streaming one file at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from seldb.errors import InputError


def geometry(kind: str, size: int):
    """The ingest's transform for `kind` without its final normalisation: PIL image -> [0, 1] tensor."""
    from torchvision import transforms as T

    from seldb.nets.preprocess import make_transform

    steps = make_transform(kind, size).transforms
    if not isinstance(steps[-1], T.Normalize) and type(steps[-1]).__name__ != "CaffeNormalize":
        raise AssertionError(f"the ingest transform for {kind!r} no longer ends with its normalisation")
    return T.Compose(steps[:-1])


def mean_image(paths: Iterable[str | os.PathLike], size: int, kind: str = "torchvision") -> tuple[np.ndarray, int]:
    """((size, size, 3) float64 mean in [0, 1], images used); unreadable files are an InputError."""
    from PIL import Image, UnidentifiedImageError

    transform = geometry(kind, size)
    total, n = np.zeros((3, size, size), dtype=np.float64), 0
    for path in paths:
        try:
            with Image.open(Path(path)) as im:
                total += transform(im.convert("RGB")).double().numpy()
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"{path}: cannot read the image for the mean image: {exc}") from None
        n += 1
    if n == 0:
        raise InputError("no images for the mean image")
    return (total / n).transpose(1, 2, 0), n
