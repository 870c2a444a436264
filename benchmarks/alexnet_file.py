"""The synthetic AlexNet-scale activation file the import benchmarks read, in any layout.

AlexNet's conv5 + fc6 + fc7 (256 + 4096 + 4096 = 8,448 units) over N images
of 1,000 classes, ~80% exact zeros (as after a ReLU), the rest gamma(1.5)
distributed; ~90% of the images correctly classified. Written by row slabs, as
a network produces them, in the layout asked for:

- contiguous: what `h5py.create_dataset(data=...)` gives (most users' files)
- tiled: seldb's own layout (chunks of 1024 images x 128 units)
- rows: chunks of 64 whole rows
- gzip / lzf: compressed, chunks of 256 whole rows
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

LAYERS = {"conv5": 256, "fc6": 4096, "fc7": 4096}
LAYOUTS = ("contiguous", "tiled", "rows", "gzip", "lzf")


def _layout(layout: str, units: int) -> dict:
    return {
        "contiguous": {},
        "tiled": {"chunks": (1024, min(128, units))},
        "rows": {"chunks": (64, units)},
        "gzip": {"chunks": (256, units), "compression": "gzip", "compression_opts": 1},
        "lzf": {"chunks": (256, units), "compression": "lzf"},
    }[layout]


def make_file(
    path: Path,
    n_images: int,
    layout: str = "contiguous",
    dtype: str = "float32",
    n_classes: int = 1000,
    zero_fraction: float = 0.8,
    seed: int = 0,
    layers: dict[str, int] | None = None,
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_images)
    preds = np.where(rng.random(n_images) < 0.9, labels, rng.integers(0, n_classes, n_images))
    tmp = path.with_suffix(".partial")
    with h5py.File(tmp, "w") as h5:
        h5.attrs.update(
            format="seldb-activations", version=1, model="alexnet-synthetic", dataset=f"synthetic-{n_images}"
        )
        h5["/classes/name"] = np.array([f"class{c:04d}" for c in range(n_classes)], dtype=object)
        h5["/classes/key"] = np.array([f"n{c:08d}" for c in range(n_classes)], dtype=object)
        h5["/images/label"] = labels.astype(np.int32)
        h5["/images/pred"] = preds.astype(np.int32)
        datasets = {}
        layers = layers or LAYERS
        for name, units in layers.items():
            ds = h5.create_dataset(f"/layers/{name}", shape=(n_images, units), dtype=dtype, **_layout(layout, units))
            ds.attrs["reduction"] = "max" if name.startswith("conv") else "none"
            datasets[name] = ds
        for r0 in range(0, n_images, 4096):
            r1 = min(n_images, r0 + 4096)
            for name, units in layers.items():
                values = rng.standard_gamma(1.5, (r1 - r0, units), dtype=np.float32)
                values[rng.random((r1 - r0, units), dtype=np.float32) < zero_fraction] = 0.0
                datasets[name][r0:r1] = values.astype(dtype)
    tmp.rename(path)


def file_for(directory: Path, n_images: int, layout: str, dtype: str = "float32", units: int | None = None) -> Path:
    """The benchmark file of that size and layout, made once and kept; `units`: one layer "fc" of that
    many units instead of AlexNet's three."""
    name = f"seldb_bench_{n_images}_{layout}_{dtype}" + (f"_{units}u" if units else "")
    path = directory / f"{name}.h5"
    if not path.exists():
        make_file(path, n_images, layout, dtype, layers={"fc": units} if units else None)
    return path
