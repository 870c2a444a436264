"""A temporary on-disk store of every activation map of one layer.

The threshold of a unit depends on all of its activations, and the tally
needs the threshold, so every map is needed twice after the forward pass.
Holding them is out of the question at Broden scale (AlexNet conv5: 63,305 x
256 x 13 x 13 float32 = 11 GB), and running the network twice would double
the dominant cost. So the maps go to a flat float32 file, image-major (the
forward pass's order), and are read back in chunks of images with plain
reads, not a memory map: the pages then stay in the page cache, not in the
process's resident set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from seldb.errors import InputError


class MapStore:
    """Append (batch, units, h, w) float32 maps; read them back as chunks of whole images."""

    def __init__(self, path: Path, n_images: int, map_shape: tuple[int, int, int], layer: str):
        units, height, width = map_shape
        self.path, self.n_images, self.map_shape = Path(path), n_images, (int(units), int(height), int(width))
        self.per_image = int(np.prod(self.map_shape))
        self.written = 0
        needed = n_images * self.per_image * 4
        free = shutil.disk_usage(self.path.parent).free
        if needed > free:
            raise InputError(
                f"layer {layer}'s maps need {needed / 1e9:.1f} GB of temporary space in"
                f" {self.path.parent}, only {free / 1e9:.1f} GB is free: choose another workdir"
            )
        self._handle = open(self.path, "wb")  # noqa: SIM115 (the store owns it until close_writing)

    def append(self, maps: np.ndarray) -> None:
        if maps.shape[1:] != self.map_shape:
            raise ValueError(f"maps of shape {maps.shape[1:]}, the store holds {self.map_shape}")
        self._handle.write(np.ascontiguousarray(maps, dtype=np.float32).tobytes())
        self.written += maps.shape[0]

    def close_writing(self) -> None:
        self._handle.close()
        if self.written != self.n_images:
            raise ValueError(f"{self.written} images stored, {self.n_images} expected")

    def chunks(self, images_per_chunk: int):
        """(first image, maps of shape (images, units, h, w)) in image order; the array is reused."""
        buffer = np.empty((images_per_chunk, *self.map_shape), np.float32)
        with open(self.path, "rb") as handle:
            for start in range(0, self.n_images, images_per_chunk):
                count = min(images_per_chunk, self.n_images - start)
                view = buffer[:count]
                if handle.readinto(view.data.cast("B")) != view.nbytes:
                    raise OSError(f"{self.path}: the map store is shorter than written")
                yield start, view
