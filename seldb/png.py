"""AM images as files: PNG bytes that depend on the pixels only, and their sha256.

Reruns with the same seed must give the same file, and the database keeps
the sha256 to prove it, so the PNG carries no timestamp or other metadata
and is written atomically (a killed run never leaves half a file under the
final name). `clean_png` re-encodes an image from its pixels alone, so a
file handed on to raters carries nothing of the original but what they see.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from seldb.errors import InputError


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W, 3) or (H, W) uint8 -> PNG bytes, fixed compression, no metadata."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise InputError(f"an AM image is (H, W, 3) or (H, W) uint8, got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=6, optimize=False)
    return buffer.getvalue()


def write_png(image: np.ndarray, path: str | os.PathLike) -> str:
    """Write the image as PNG at `path` (parents made); returns the file's sha256 (hex)."""
    path = Path(path)
    data = png_bytes(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def clean_png(path: str | os.PathLike, purpose: str = "this image") -> bytes:
    """The image's pixels as fresh PNG bytes: nothing of the original file but its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return png_bytes(np.asarray(im.convert("RGB")))
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"{path}: cannot read the AM image for {purpose}: {exc}") from None
