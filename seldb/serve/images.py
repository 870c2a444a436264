"""Image bytes for the pages: dataset thumbnails, AM images, and the blinded images of a rating study.

A URL never names a file. It names a unit and a rank (a top image), a unit
and an AM image's sha256, or a study's item and image number; the path comes
from the views (seldb.unit_top_images, seldb.am_images,
seldb.rating_study_items) and is found on this machine the way the reports
find it (seldb.am.dataset_images.locate). So the app serves only images the
database lists, whatever a URL says.

Every image is decoded and written again as a fresh PNG (thumbnails
shrunk), which drops file names and text chunks: for a rating study that is
what keeps it blinded, as on the sheet's page. Results are kept in a small
in-memory cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from seldb.png import png_bytes

THUMB_PX = 112
CACHE_ITEMS = 1024


class ImageCache:
    """A bounded, thread-safe LRU of encoded images; 'not reachable' is not kept (a disk may be mounted later)."""

    def __init__(self, size: int = CACHE_ITEMS):
        self._items: OrderedDict[tuple, bytes | None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple, make) -> bytes | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        if value is None:
            return None
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def _pixels(path: Path, max_side: int | None) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            if max_side:
                rgb.thumbnail((max_side, max_side))
            return np.asarray(rgb)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def png_of(path: Path | None, max_side: int | None = None) -> bytes | None:
    """The image's pixels as a fresh PNG (at most max_side pixels a side); None when unreadable."""
    if path is None or not path.is_file():
        return None
    pixels = _pixels(path, max_side)
    return None if pixels is None else png_bytes(pixels)


def blinded_png(path: str, sha256: str) -> bytes | None:
    """A study image as the sheet showed it: None when the file is gone or its pixels changed since."""
    data = png_of(Path(path))
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data
